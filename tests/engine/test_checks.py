"""System checks: one test per ID, and ``manage.py check`` fails on an error."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.checks import INFO, CheckMessage
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from diskcache_admin import checks
from diskcache_admin.backend import DiskCache

BACKEND = "diskcache_admin.backend.DiskCache"


def run_checks(**config: Any) -> list[CheckMessage]:
    with override_settings(CACHES={"default": {"BACKEND": BACKEND, **config}}):
        return checks.check_caches()


def ids(messages: list[CheckMessage]) -> list[str]:
    return [m.id or "" for m in messages]


@pytest.fixture
def no_network_mounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\n")
    monkeypatch.setattr(checks, "MOUNTS_FILE", str(mounts))
    return mounts


def test_a_good_configuration_passes(tmp_path: Path, no_network_mounts: Path) -> None:
    assert run_checks(LOCATION=str(tmp_path / "cache"), OPTIONS={"MAX_ENTRIES": 10}) == []


def test_other_backends_are_not_checked() -> None:
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"WHATEVER": 1},
        }
    }
    with override_settings(CACHES=caches):
        assert checks.check_caches() == []


@pytest.mark.parametrize("config", [{}, {"LOCATION": ""}, {"LOCATION": None}])
def test_e001_missing_location(config: dict[str, Any]) -> None:
    messages = run_checks(**config)

    assert ids(messages) == ["diskcache_admin.E001"]
    assert messages[0].hint


def test_e002_relative_location() -> None:
    messages = run_checks(LOCATION="var/cache")

    assert ids(messages) == ["diskcache_admin.E002"]
    assert "absolute" in (messages[0].hint or "")


@pytest.mark.parametrize("setting", ["MEDIA_ROOT", "STATIC_ROOT"])
def test_e003_location_under_a_served_directory(
    tmp_path: Path, setting: str, no_network_mounts: Path
) -> None:
    served = tmp_path / "served"
    with override_settings(**{setting: str(served)}):
        messages = run_checks(LOCATION=str(served / "cache"))
        beside = run_checks(LOCATION=str(tmp_path / "served-cache"))

    assert ids(messages) == ["diskcache_admin.E003"]
    assert setting in messages[0].msg
    assert beside == []


@pytest.mark.parametrize(
    ("option", "suggestion"),
    [("MAX_ENTRY", "MAX_ENTRIES"), ("size_limit", "SIZE_LIMIT"), ("CULL_FREQ", "CULL_FREQUENCY")],
)
def test_e004_unknown_option_with_a_did_you_mean_hint(
    tmp_path: Path, option: str, suggestion: str, no_network_mounts: Path
) -> None:
    messages = run_checks(LOCATION=str(tmp_path), OPTIONS={option: 10})

    assert ids(messages) == ["diskcache_admin.E004"]
    assert messages[0].hint == f"Did you mean {suggestion!r}?"


def test_e004_unknown_option_without_a_close_match_lists_the_known_ones(
    tmp_path: Path, no_network_mounts: Path
) -> None:
    messages = run_checks(LOCATION=str(tmp_path), OPTIONS={"COMPRESSION": "zstd"})

    assert ids(messages) == ["diskcache_admin.E004"]
    assert "MAX_ENTRIES" in (messages[0].hint or "")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("MAX_ENTRIES", "many"),
        ("MAX_ENTRIES", 0),
        ("CULL_FREQUENCY", -1),
        ("CULL_FREQUENCY", None),
        ("SIZE_LIMIT", 1.5),
        ("EVICTION_POLICY", "random"),
        ("STATISTICS", 1),
        ("SERIALIZER", "yaml"),
        ("FILE_THRESHOLD", 0),
        ("BUSY_TIMEOUT", 0),
        ("BUSY_TIMEOUT", True),
        ("BUSY_TIMEOUT", float("inf")),
        ("BUSY_TIMEOUT", float("nan")),
        ("BUSY_TIMEOUT", 10**7),  # SQLite would take it as 0: no wait at all
    ],
)
def test_e005_invalid_option_value(
    tmp_path: Path, option: str, value: Any, no_network_mounts: Path
) -> None:
    messages = run_checks(LOCATION=str(tmp_path), OPTIONS={option: value})

    assert ids(messages) == ["diskcache_admin.E005"]
    assert option in messages[0].msg
    assert messages[0].hint


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("MAX_ENTRIES", None),
        ("SIZE_LIMIT", None),
        ("CULL_FREQUENCY", 0),
        ("EVICTION_POLICY", "least-recently-used"),
        ("STATISTICS", False),
        ("SERIALIZER", "json"),
        ("BUSY_TIMEOUT", 0.5),
    ],
)
def test_valid_option_values_pass(
    tmp_path: Path, option: str, value: Any, no_network_mounts: Path
) -> None:
    assert run_checks(LOCATION=str(tmp_path), OPTIONS={option: value}) == []


def test_w001_network_filesystem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mounts = tmp_path / "mounts"
    share = tmp_path / "share"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nserver:/export {share} nfs4 rw 0 0\n")
    monkeypatch.setattr(checks, "MOUNTS_FILE", str(mounts))

    messages = run_checks(LOCATION=str(share / "cache"))
    local = run_checks(LOCATION=str(tmp_path / "local"))

    assert ids(messages) == ["diskcache_admin.W001"]
    assert "nfs4" in messages[0].msg
    assert local == []


def test_filesystem_type_picks_the_longest_mount_point(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw 0 0\n"
        "server:/x /srv nfs rw 0 0\n"
        "/dev/sdb1 /srv/local\\040disk xfs rw 0 0\n"
    )

    assert checks.filesystem_type("/srv/app/cache", str(mounts)) == "nfs"
    assert checks.filesystem_type("/srv/local disk/cache", str(mounts)) == "xfs"
    assert checks.filesystem_type("/srvx/cache", str(mounts)) == "ext4"
    assert checks.filesystem_type("/x", str(tmp_path / "no-such-file")) is None


def test_the_check_command_fails_on_an_error(tmp_path: Path, no_network_mounts: Path) -> None:
    caches = {"default": {"BACKEND": BACKEND, "LOCATION": str(tmp_path), "OPTIONS": {"MAX": 1}}}
    with override_settings(CACHES=caches), pytest.raises(SystemCheckError, match="E004"):
        call_command("check")


def test_the_check_command_reports_a_missing_location_instead_of_crashing() -> None:
    # Django's own cache checks instantiate every alias; DiskCache must not raise there.
    with (
        override_settings(CACHES={"default": {"BACKEND": BACKEND}}),
        pytest.raises(SystemCheckError, match=r"diskcache_admin\.E001"),
    ):
        call_command("check")


def test_the_check_command_passes_on_a_good_configuration(
    tmp_path: Path, no_network_mounts: Path
) -> None:
    output = io.StringIO()
    with override_settings(CACHES={"default": {"BACKEND": BACKEND, "LOCATION": str(tmp_path)}}):
        call_command("check", stdout=output)

    assert "no issues" in output.getvalue()


def test_e005_options_that_are_not_a_dict(tmp_path: Path, no_network_mounts: Path) -> None:
    messages = run_checks(LOCATION=str(tmp_path), OPTIONS=[("MAX_ENTRIES", 10)])

    assert ids(messages) == ["diskcache_admin.E005"]
    assert "dict" in (messages[0].hint or "")


# -- the toolbar panel ------------------------------------------------------------------------

PANEL = "diskcache_admin.panels.DiskCachePanel"


def test_w002_panel_named_while_debug_toolbar_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "debug_toolbar", None)  # import debug_toolbar fails
    with override_settings(DEBUG_TOOLBAR_PANELS=[PANEL]):
        messages = checks.check_panel()

    assert ids(messages) == ["diskcache_admin.W002"]
    assert "not installed" in messages[0].msg
    assert messages[0].hint


def test_w002_panel_named_while_debug_toolbar_is_not_an_installed_app() -> None:
    apps = [app for app in settings.INSTALLED_APPS if app != "debug_toolbar"]
    with override_settings(DEBUG_TOOLBAR_PANELS=[PANEL], INSTALLED_APPS=apps):
        messages = checks.check_panel()

    assert ids(messages) == ["diskcache_admin.W002"]
    assert "INSTALLED_APPS" in messages[0].msg


def test_no_w002_when_the_toolbar_is_installed_or_the_panel_not_named() -> None:
    with override_settings(DEBUG_TOOLBAR_PANELS=[PANEL]):
        assert checks.check_panel() == []
    with override_settings(DEBUG_TOOLBAR_PANELS=["debug_toolbar.panels.cache.CachePanel"]):
        assert checks.check_panel() == []


def test_w002_is_reported_by_the_check_command() -> None:
    apps = [app for app in settings.INSTALLED_APPS if app != "debug_toolbar"]
    output = io.StringIO()
    with override_settings(DEBUG_TOOLBAR_PANELS=[PANEL], INSTALLED_APPS=apps):
        call_command("check", stdout=output, stderr=output)

    assert "diskcache_admin.W002" in output.getvalue()


def test_i001_panel_without_a_diskcache_alias(tmp_path: Path) -> None:
    only_locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=only_locmem):
        messages = checks.check_panel_sees_diskcache()
    with override_settings(CACHES={"default": {"BACKEND": BACKEND, "LOCATION": str(tmp_path)}}):
        quiet = checks.check_panel_sees_diskcache()

    assert ids(messages) == ["diskcache_admin.I001"]
    assert messages[0].level == INFO
    assert quiet == []


def test_disk_aliases_judges_the_class_never_the_name(tmp_path: Path) -> None:
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sub": {"BACKEND": "tests.engine.test_checks.SubDiskCache", "LOCATION": str(tmp_path)},
        "gone": {"BACKEND": "no.such.DiskCache"},
    }
    with override_settings(CACHES=caches):
        assert [alias for alias, _config in checks.disk_aliases()] == ["sub"]


class SubDiskCache(DiskCache):
    """A subclass: still checked as a DiskCache."""


# -- every ID in the code is in docs/checks.rst, and the other way round ----------------------

ROOT = Path(__file__).resolve().parents[2]
ID = re.compile(r"diskcache_admin\.([EWI]\d{3})\b")
# Where a new ID goes: ranges of one level and purpose, numbered without gaps from the start.
RANGES = {
    "E": (range(1, 20), range(20, 30), range(30, 40)),
    "W": (range(1, 20), range(20, 30), range(30, 40), range(101, 110)),
}
RANGES["I"] = (range(1, 10),)


def ids_in_code() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "diskcache_admin").rglob("*.py"):
        # Only string literals count: a comment may name an ID without emitting it.
        for literal in re.findall(r"[\"']diskcache_admin\.[EWI]\d{3}[\"']", path.read_text()):
            found.update(ID.findall(literal))
    return found


def ids_in_docs() -> set[str]:
    return set(ID.findall((ROOT / "docs" / "checks.rst").read_text()))


def test_every_id_in_the_code_is_documented_and_every_documented_id_exists() -> None:
    code, docs = ids_in_code(), ids_in_docs()

    assert code, "no check IDs found in the package"
    assert code - docs == set(), "IDs missing from docs/checks.rst"
    assert docs - code == set(), "IDs documented but no longer emitted"


def test_ids_are_numbered_without_gaps_in_their_ranges() -> None:
    by_range: dict[tuple[str, int], list[int]] = {}
    for check_id in ids_in_code():
        level, number = check_id[0], int(check_id[1:])
        (block,) = [r for r in RANGES[level] if number in r]
        by_range.setdefault((level, block.start), []).append(number)
    for (level, start), numbers in by_range.items():
        assert sorted(numbers) == list(range(start, start + len(numbers))), (level, numbers)


@pytest.mark.parametrize("value", [{"cli": "no"}, {"CLI": False}, "off", None, {"admin": 0}])
def test_a_bad_audit_setting_is_e006_and_keeps_every_face_audited(value: object) -> None:
    from diskcache_admin.checks import check_settings
    from diskcache_admin.conf import conf

    with override_settings(DISKCACHE_ADMIN_AUDIT=value):
        assert ids(check_settings()) == ["diskcache_admin.E006"]
        assert conf.AUDIT == {"admin": True, "cli": True}


@pytest.mark.parametrize(
    ("value", "faces"),
    [(False, {"admin": False, "cli": False}), ({"cli": False}, {"admin": True, "cli": False})],
)
def test_a_good_audit_setting_passes(value: object, faces: dict[str, bool]) -> None:
    from diskcache_admin.checks import check_settings
    from diskcache_admin.conf import conf

    with override_settings(DISKCACHE_ADMIN_AUDIT=value):
        assert check_settings() == []
        assert faces == conf.AUDIT
