"""Every ``DISKCACHE_ADMIN_*`` setting, read through one object on each access.

Reading on each access (rather than caching) means ``override_settings`` in tests needs nothing
else. Each property documents its type and default; docs/settings.rst lists the same
(tests/test_docs.py compares them).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Largest value preview the admin renders, in bytes.
    "DISKCACHE_ADMIN_PREVIEW_LIMIT": 64 * 1024,
    # Key prefixes (as the user wrote the key) that the key browser never lists or opens.
    "DISKCACHE_ADMIN_HIDDEN_PREFIXES": (),
    # "swap" | "clear" | "off": how the test runner and the pytest plugin isolate caches.
    "DISKCACHE_ADMIN_TEST_ISOLATION": "swap",
    # What the test settings declare about each alias: alias -> "database" | "prefix" |
    # "directory" (clear mode may empty it) | "swap" | "keep" (see docs/testing.rst).
    "DISKCACHE_ADMIN_TEST_CACHES": {},
    # The old name of DISKCACHE_ADMIN_TEST_CACHES (deprecated; still read).
    "DISKCACHE_ADMIN_TEST_SAFE_CACHES": {},
    # Whether the debug-toolbar panel shows a short preview of each value.
    "DISKCACHE_ADMIN_PANEL_PREVIEW": True,
    # Response header cached_view sets to hit / miss / stale / bypass; None turns it off.
    "DISKCACHE_ADMIN_CACHE_HEADER": "X-Cache",
    # Which faces write audit records: {"admin": bool, "cli": bool}, or one bool for both.
    "DISKCACHE_ADMIN_AUDIT": {"admin": True, "cli": True},
}


class Settings:
    def _get(self, name: str) -> Any:
        return getattr(settings, name, DEFAULTS[name])

    @property
    def PREVIEW_LIMIT(self) -> int:
        return int(self._get("DISKCACHE_ADMIN_PREVIEW_LIMIT"))

    @property
    def HIDDEN_PREFIXES(self) -> tuple[str, ...]:
        return tuple(self._get("DISKCACHE_ADMIN_HIDDEN_PREFIXES"))

    @property
    def TEST_ISOLATION(self) -> str:
        return str(self._get("DISKCACHE_ADMIN_TEST_ISOLATION"))

    @property
    def TEST_CACHES(self) -> dict[str, str]:
        declared = dict(self._get("DISKCACHE_ADMIN_TEST_CACHES"))
        return {str(alias): str(scope) for alias, scope in declared.items()}

    @property
    def TEST_SAFE_CACHES(self) -> dict[str, str]:
        marked = dict(self._get("DISKCACHE_ADMIN_TEST_SAFE_CACHES"))
        return {str(alias): str(scope) for alias, scope in marked.items()}

    @property
    def PANEL_PREVIEW(self) -> bool:
        return bool(self._get("DISKCACHE_ADMIN_PANEL_PREVIEW"))

    @property
    def CACHE_HEADER(self) -> str | None:
        name = self._get("DISKCACHE_ADMIN_CACHE_HEADER")
        return str(name) if name else None

    @property
    def AUDIT(self) -> dict[str, bool]:
        """``{"admin": bool, "cli": bool}``; a face the setting leaves out keeps its default.

        A value :func:`audit_problem` refuses (system check E006) leaves the audit on for every
        face: a typo must never turn the audit trail off.
        """
        value = self._get("DISKCACHE_ADMIN_AUDIT")
        faces: dict[str, bool] = dict(DEFAULTS["DISKCACHE_ADMIN_AUDIT"])
        if audit_problem(value) is not None:
            return faces
        if isinstance(value, bool):
            return dict.fromkeys(faces, value)
        faces.update(value)
        return faces


def audit_problem(value: Any) -> str | None:
    """Why ``DISKCACHE_ADMIN_AUDIT`` is not a bool or a dict of known faces to bools; else None."""
    faces = DEFAULTS["DISKCACHE_ADMIN_AUDIT"]
    if isinstance(value, bool):
        return None
    if not isinstance(value, dict):
        return f"must be True, False or a dict such as {faces!r}, not {type(value).__name__}"
    for face, on in value.items():
        if face not in faces:
            return f"has an unknown face {face!r} (known: {', '.join(sorted(faces))})"
        if not isinstance(on, bool):
            return f"[{face!r}] must be True or False, not {on!r:.40}"
    return None


conf = Settings()
