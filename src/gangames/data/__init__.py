"""Datasets: synthetic presets with exact parameters (and, later, images)."""
