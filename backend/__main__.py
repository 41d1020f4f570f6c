"""`python -m backend` runs the same CLI as the `reversener` command."""

from .cli import run

run()
