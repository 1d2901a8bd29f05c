"""Metrics: mixture statistics, transport distances, divergence traces (and image metrics)."""
