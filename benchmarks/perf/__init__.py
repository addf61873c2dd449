"""Performance scripts with targets (run them by hand; never timed unit tests). See docs/performance.md.

python -m omnivec.benchmarks.perf.overhead_local   # omnivec vs SentenceTransformer.encode directly
python -m omnivec.benchmarks.perf.fault_run        # a faulty emulator: nothing lost, rate kept
python -m omnivec.benchmarks.perf.cache_speedup    # cold run vs warm-cache rerun of omnivec bench
python -m omnivec.benchmarks.perf.throughput       # learned rate control vs raw boto3 / google-genai pools
python -m omnivec.benchmarks.perf.migrate          # migration throughput vs bare embed; store search p50/p95
python -m omnivec.benchmarks.perf.local_backends   # torch vs ONNX / ONNX-int8 / OpenVINO docs/s and nDCG@10
python -m omnivec.benchmarks.perf.ray_curve        # Ray Data throughput vs actors
"""
