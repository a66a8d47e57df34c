"""Benchmarks: each ``bench_*.py`` module has ``main()`` printing a markdown table of ratios measured in one run."""
