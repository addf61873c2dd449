"""omnivec benchmarks."""
