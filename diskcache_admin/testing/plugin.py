"""pytest plugin (registered through the ``pytest11`` entry point). Filled in by the isolation work."""

from __future__ import annotations
