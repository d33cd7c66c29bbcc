"""Op specs: nn (being written)."""

SPECS = []
