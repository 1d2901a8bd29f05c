"""Reports: figures and one self-contained HTML page from runs and sweeps."""
