"""The demo site as ``make demo`` runs it: ``manage.py`` in subprocesses on testproject.settings.

Each run gets its own ``var`` directory through ``DISKCACHE_ADMIN_DEMO_VAR``, so the tests never
touch a developer's ``<repo>/var``.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MANAGE = str(REPO / "manage.py")


def demo_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        # manage.py must pick its own settings; the toolbar must not think tests are running.
        if name != "DJANGO_SETTINGS_MODULE" and not name.startswith("PYTEST")
    }
    env.update(DISKCACHE_ADMIN_DEMO_VAR=str(var_dir), **extra)
    return env


def manage(var_dir: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, MANAGE, *args],
        cwd=REPO,
        env=demo_env(var_dir, **extra_env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def seeded_var(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A var directory after ``migrate`` and ``seed_demo``, and what seed_demo printed."""
    var_dir = tmp_path_factory.mktemp("demo-var")
    migrated = manage(var_dir, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    seeded = manage(var_dir, "seed_demo")
    assert seeded.returncode == 0, seeded.stderr
    return var_dir, seeded.stdout


@pytest.mark.parametrize("debug", ["1", "0"])
def test_check_passes_on_the_demo_settings(tmp_path: Path, debug: str) -> None:
    result = manage(tmp_path, "check", DJANGO_DEBUG=debug)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_var_directory_is_relocatable(tmp_path: Path) -> None:
    result = manage(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['NAME']); print(s.CACHES['default']['LOCATION'])",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == [
        str(tmp_path.resolve() / "demo.sqlite3"),
        str(tmp_path.resolve() / "cache"),
    ]


def test_migrate_and_seed_build_the_demo(seeded_var: tuple[Path, str]) -> None:
    var_dir, output = seeded_var

    assert (var_dir / "demo.sqlite3").is_file()
    assert (var_dir / "cache").is_dir()
    assert output.splitlines()[-3:] == [
        "Site:  http://127.0.0.1:8000/",
        "Admin: http://127.0.0.1:8000/admin/",
        "Login: username admin  password admin",
    ]


def test_seed_demo_runs_again_on_a_seeded_site(seeded_var: tuple[Path, str]) -> None:
    var_dir, _ = seeded_var

    again = manage(var_dir, "seed_demo")

    assert again.returncode == 0, again.stderr
    assert "Superuser 'admin' updated." in again.stdout
    assert "Clubs: 4 clubs, 11 classes." in again.stdout


@pytest.mark.parametrize(("args", "port"), [((), "8000"), (("PORT=8123",), "8123")])
def test_make_demo_seeds_and_serves_on_the_same_port(args: tuple[str, ...], port: str) -> None:
    # --dry-run prints the recipe without running it (nor the install step it may depend on).
    result = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", "demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    commands = result.stdout.splitlines()
    assert any(line.endswith(f"manage.py seed_demo --port {port}") for line in commands)
    assert any(line.endswith(f"manage.py runserver 127.0.0.1:{port}") for line in commands)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def demo_server(seeded_var: tuple[Path, str], tmp_path: Path) -> Iterator[str]:
    var_dir, _ = seeded_var
    port = free_port()
    log = (tmp_path / "runserver.log").open("w")
    server = subprocess.Popen(
        [sys.executable, MANAGE, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=REPO,
        env=demo_env(var_dir),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        # A readiness bound, not a speed assertion: it fails only if the server never comes up.
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    output = (tmp_path / "runserver.log").read_text()
                    pytest.fail(f"runserver did not serve {url}:\n{output}")
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_demo_serves_clubs_and_the_admin_login_works(demo_server: str) -> None:
    cookies = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))

    with browser.open(demo_server) as response:
        index = response.read()
    assert b"Riverside Chess Club" in index
    if find_spec("debug_toolbar") is not None:
        assert b'id="djDebug"' in index  # DEBUG is on by default, so the toolbar is wired in
    with browser.open(demo_server + "clubs/harbour-rowing-club/") as response:
        assert b"Learn to row" in response.read()

    login_url = demo_server + "admin/login/?next=/admin/"
    with browser.open(login_url) as response:
        form = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token is not None
    data = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token.group(1),
            "username": "admin",
            "password": "admin",
            "next": "/admin/",
        }
    ).encode()
    request = urllib.request.Request(login_url, data=data, headers={"Referer": login_url})
    with browser.open(request) as response:
        assert response.geturl() == demo_server + "admin/"
        page = response.read().decode()

    assert "Site administration" in page
    assert "Log out" in page
    assert "Clubs" in page
    assert any(cookie.name == "sessionid" for cookie in cookies)
