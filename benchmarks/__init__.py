"""Benchmarks of the DiskCache backend and its engine (not part of the installed package)."""

from __future__ import annotations
