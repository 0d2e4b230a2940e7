"""SkyShare benchmarks."""
