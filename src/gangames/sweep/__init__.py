"""Sweeps: search spaces, Optuna studies, local and Dask executors."""
