"""Tools for the people who build sqm (documentation screenshots); not part of the product."""
