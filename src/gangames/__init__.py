"""gangames: train GANs as games, and measure honestly which game works."""

__version__ = "0.1.0"
