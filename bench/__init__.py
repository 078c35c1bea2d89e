"""Benchmarks: run them with bench/run."""
