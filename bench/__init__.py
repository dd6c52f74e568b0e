"""Benchmarks that measure rnnlab against a baseline side by side in one process (run with `python -m`)."""
