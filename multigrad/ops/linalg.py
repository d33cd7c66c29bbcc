"""(being written)"""

__all__ = []
LINALG_ALL = []
