"""Benchmarks (bench/RESULTS.md) and the bulk seeding they and the sweep tests share."""
