"""Performance scripts with targets (run them by hand; never timed unit tests). See docs/performance.md.

python -m omnivec.benchmarks.perf.overhead_local   # omnivec vs SentenceTransformer.encode directly
python -m omnivec.benchmarks.perf.fault_run        # a faulty emulator: nothing lost, rate kept
python -m omnivec.benchmarks.perf.cache_speedup    # cold run vs warm-cache rerun of omnivec bench
"""
