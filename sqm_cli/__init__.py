"""The ``sqm`` command: the composition root that imports every package and that nothing imports."""
