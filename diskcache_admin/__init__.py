"""django-diskcache-admin: a signed sqlite3 disk cache for Django, and tools for every cache."""

from __future__ import annotations

__version__ = "0.1.0.dev0"
