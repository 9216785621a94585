"""Analyses of stored results: cheap, CPU-only, run inside the notebooks on loaded Datasets."""
