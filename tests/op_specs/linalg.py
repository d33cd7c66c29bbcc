"""Op specs: linalg (being written)."""

SPECS = []
