"""Pieces of the ``cache`` management command: rendering, JSON shapes and the progress bar."""

from __future__ import annotations
