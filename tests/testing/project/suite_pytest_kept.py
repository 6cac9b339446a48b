"""A second file of the story's pytest suite: the per-test opt-out marker."""

from __future__ import annotations

import pytest
from django.core.cache import caches


class TestKeptWhenMarkedOff:
    @pytest.mark.cache_isolation("off")
    def test_1_writes(self) -> None:
        caches["disk"].set("kept", "from test 1")

    @pytest.mark.cache_isolation("off")
    def test_2_still_sees_it(self) -> None:
        assert caches["disk"].get("kept") == "from test 1"
