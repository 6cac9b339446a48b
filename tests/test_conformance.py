"""How ``python -m tests.conformance`` finds the Django source distribution it runs.

``make test`` runs the conformance suite once per supported Django, so each run must use its own
version's ``tests/cache/tests.py``, and a release downloaded once is kept for the next runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import conformance


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(conformance.SDIST_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-home"))
    return tmp_path / "cache-home"


def test_a_given_archive_of_another_version_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "django-6.0.0.tar.gz"
    other.write_bytes(b"")
    monkeypatch.setenv(conformance.SDIST_ENV, str(other))

    with pytest.raises(conformance.Unavailable, match=r"is not django-5\.2\.19\.tar\.gz"):
        conformance.download_sdist("5.2.19", tmp_path)
    assert conformance.download_sdist("6.0.0", tmp_path) == other


def test_a_given_path_that_is_no_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(conformance.SDIST_ENV, str(tmp_path / "django-5.2.19.tar.gz"))

    with pytest.raises(conformance.Unavailable, match="is not a file"):
        conformance.download_sdist("5.2.19", tmp_path)


def test_a_kept_archive_is_used_without_downloading(
    cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = cache_home / "django-diskcache-admin" / "django-sdists" / "django-5.2.19.tar.gz"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"kept")

    def no_download(version: str, into: Path) -> Path:
        raise AssertionError("downloaded although a copy was kept")

    monkeypatch.setattr(conformance, "_download", no_download)
    assert conformance.download_sdist("5.2.19", tmp_path) == kept


def test_a_downloaded_archive_is_kept_for_the_next_run_of_that_version_only(
    cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads: list[str] = []

    def download(version: str, into: Path) -> Path:
        downloads.append(version)
        archive = into / f"Django-{version}.tar.gz"
        archive.write_bytes(version.encode())
        return archive

    monkeypatch.setattr(conformance, "_download", download)
    workdir = tmp_path / "work"
    workdir.mkdir()

    first = conformance.download_sdist("6.1.3", workdir)
    again = conformance.download_sdist("6.1.3", workdir)
    other = conformance.download_sdist("6.0.10", workdir)

    assert downloads == ["6.1.3", "6.0.10"]
    assert first.read_bytes() == again.read_bytes() == b"6.1.3"
    assert other.read_bytes() == b"6.0.10"
    kept = sorted(path.name for path in conformance.kept_sdists().iterdir())
    assert kept == ["django-6.0.10.tar.gz", "django-6.1.3.tar.gz"]  # no partial file left
