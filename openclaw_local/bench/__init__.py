"""Benchmarks: side-by-side ratios measured in one run, medians reported."""
