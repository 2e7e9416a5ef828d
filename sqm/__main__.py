"""``python -m sqm`` is the ``sqm`` command."""

from sqm.cli import app

app(prog_name="sqm")
