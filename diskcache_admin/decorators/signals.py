"""The ``cache_outcome`` signal, sent after every call of a ``memoize``d function or view."""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["cache_outcome"]

cache_outcome = Signal()
"""Sent after every cached call: ``sender`` (the memoized function or the ``CachedView``), ``key``
(the storage key) and ``outcome``: ``"hit"``, ``"wait"`` (hit after waiting at the barrier),
``"miss"``, ``"refresh"`` (recomputed early or after expiry), ``"stale"`` or ``"bypass"``."""


def report(sender: object, key: str, outcome: str) -> None:
    # Building the keyword arguments costs more than checking: most projects listen to nothing.
    if cache_outcome.receivers:
        cache_outcome.send(sender=sender, key=key, outcome=outcome)
