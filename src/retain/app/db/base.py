"""The declarative base every app-database model derives from, and shared column helpers.

Defined in :mod:`retain.appdb` (the base layer) so that ``retain.engage``'s tables share it.
"""

from __future__ import annotations

from retain.appdb import Base, utcnow

__all__ = ["Base", "utcnow"]
