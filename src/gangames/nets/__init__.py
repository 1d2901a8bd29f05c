"""Players: networks whose parameters are stacked over a leading player axis."""
