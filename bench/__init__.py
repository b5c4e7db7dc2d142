"""Benchmarks that print numbers; run from the repository root as `python -m bench.<name>`."""
