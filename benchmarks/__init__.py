"""Speed comparisons, each run from the repository root as a module: `python -m benchmarks.NAME`."""
