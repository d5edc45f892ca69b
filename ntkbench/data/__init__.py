"""Datasets: simulated tasks and loaders for local copies of the papers' data."""
