"""Primitives and the public functions built on them, one family per module.

The families mirror the sections of the array API standard; ``nn`` holds what networks need
beyond it. Each module's ``__all__`` is its public API, re-exported by ``multigrad``.
"""

from . import (creation, dtypes, elementwise, indexing, linalg, manipulation, nn, searching, sets,
               sorting, statistical, utility)
from .creation import *  # noqa: F401,F403
from .dtypes import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .manipulation import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403
from .searching import *  # noqa: F401,F403
from .sets import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from .statistical import *  # noqa: F401,F403
from .utility import *  # noqa: F401,F403

FAMILIES = (creation, dtypes, elementwise, indexing, linalg, manipulation, nn, searching, sets,
            sorting, statistical, utility)

__all__ = [name for family in FAMILIES for name in family.__all__]
