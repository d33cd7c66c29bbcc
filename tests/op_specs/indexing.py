"""Op specs: indexing (being written)."""

SPECS = []
