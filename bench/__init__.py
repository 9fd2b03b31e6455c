"""Benchmarks: run them with ./bin/bench (see bench/README.md)."""
