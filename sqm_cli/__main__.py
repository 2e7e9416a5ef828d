"""``python -m sqm_cli``: the ``sqm`` command (used to start the demo's child processes)."""

from sqm_cli.app import app

app()
