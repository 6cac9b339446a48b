"""The keys the clubs pages cache under, and their invalidation.

The club page caches the query of its classes in the ``default`` cache (the DiskCache); the index
caches its list of clubs in the ``locmem`` alias, so the admin has entries to show for both.
"""

from __future__ import annotations

from functools import partial

from django.core.cache import cache, caches
from django.db import transaction

CLASSES_TIMEOUT = 300
INDEX_TIMEOUT = 60
INDEX_KEY = "clubs_index"
INDEX_CACHE = "locmem"


def classes_key(slug: str) -> str:
    return f"club_page_classes:{slug}"


def forget_club(slug: str) -> None:
    """Drop what the pages cached about the club ``slug`` (its classes and the index).

    Dropped at once, so the rest of the transaction reads fresh data, and again when the
    transaction commits: a request served meanwhile may have cached the rows as they were before
    the commit.
    """
    _delete(slug)
    transaction.on_commit(partial(_delete, slug))


def _delete(slug: str) -> None:
    cache.delete(classes_key(slug))
    caches[INDEX_CACHE].delete(INDEX_KEY)
