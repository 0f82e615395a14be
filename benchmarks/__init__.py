"""Benchmarks: `make bench`. Dev-only, not part of the installed package."""
