"""sqm core: shared records, settings, errors, clock and Redis key layout.

The core imports nothing else of the project; every other package may import it.
``sqm_cli.app`` is the composition root (the ``sqm`` command) and is imported by nobody.
"""

__version__ = "0.1.0"
