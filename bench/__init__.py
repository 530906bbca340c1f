"""Benchmarks of the Marchwarden pipeline; run with `python -m bench.run`."""
