"""Training: the shared trainer, checkpoints and run folders."""
