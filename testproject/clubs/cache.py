"""The keys the clubs pages cache under, and their invalidation.

The club page is cached whole by ``cached_view`` in the ``default`` cache (the DiskCache); the
index caches its list of clubs in the ``locmem`` alias, so the admin has entries to show for both.
"""

from __future__ import annotations

from functools import partial

from django.core.cache import caches
from django.db import transaction

PAGE_TIMEOUT = 300
# cached_view's key for the club page: a format string over the view's arguments.
PAGE_KEY = "club_page:{slug}"
INDEX_TIMEOUT = 60
INDEX_KEY = "clubs_index"
INDEX_CACHE = "locmem"


def forget_club(slug: str) -> None:
    """Drop what the pages cached about the club ``slug`` (its page and the index).

    Dropped at once, so the rest of the transaction reads fresh data, and again when the
    transaction commits: a request served meanwhile may have cached the rows as they were before
    the commit.
    """
    _delete(slug)
    transaction.on_commit(partial(_delete, slug))


def _delete(slug: str) -> None:
    from .views import club_detail  # views imports this module

    club_detail.invalidate(slug=slug)
    caches[INDEX_CACHE].delete(INDEX_KEY)
