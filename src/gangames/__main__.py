"""python -m gangames: the command line."""

from gangames.cli import app

app(prog_name="gangames")
