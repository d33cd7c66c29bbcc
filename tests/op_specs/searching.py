"""Op specs: searching (being written)."""

SPECS = []
