"""Reproductions of the papers' experiments, as commands (``gangames reproduce NAME``)."""
