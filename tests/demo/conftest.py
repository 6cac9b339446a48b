from __future__ import annotations

from pathlib import Path

import pytest
from pytest_django import Settings


@pytest.fixture(autouse=True)
def fresh_caches(settings: Settings, tmp_path: Path) -> None:
    """Both aliases the clubs pages use, empty for each test (the suite's caches are shared)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": str(tmp_path / "cache"),
        },
        "locmem": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"demo-{tmp_path.name}",
        },
    }
