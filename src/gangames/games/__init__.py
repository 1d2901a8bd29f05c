"""Games: losses, penalties, the two-player game (and the robust and auction games built on it)."""
