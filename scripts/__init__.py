"""The course's commands, each run from the repository root as a module: `python -m scripts.NAME`."""
