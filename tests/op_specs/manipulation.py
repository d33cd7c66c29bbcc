"""Op specs: manipulation (being written)."""

SPECS = []
