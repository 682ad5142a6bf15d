"""Benchmark harness for prefect-census. Run it with `python -m benchmarks.run`."""
