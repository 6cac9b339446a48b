"""A backend module whose import fails with something other than ImportError."""

from __future__ import annotations

raise RuntimeError("this module cannot be imported")
