"""A new user's first hour, replayed: the built wheel in a new venv and a new ``startproject``.

Everything the project is told comes from README.rst (what PyPI shows a new user): the code
blocks of its Installation and Quick start sections are pasted into the project as they stand,
and only what the README leaves to the user (a view's body, its URL, the tests' own asserts) is
written here. A README change that breaks a newcomer's project fails this test; a README change
that this test cannot follow any more (a renamed example) fails it with a message saying which.

Nothing here imports the repository's package: the project runs in its own venv, from the
wheel, in its own processes. Building and installing need the network or a warm pip cache:
without both the test skips on a developer's machine and fails under ``CI``.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

import django
import pytest

from tests.conftest import skip_or_fail_unless

pytestmark = [pytest.mark.fresh, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.rst"
# What the wheel is built from: a wheel in dist/ older than any of these is stale.
SOURCES = ("diskcache_admin", "pyproject.toml", "README.rst", "LICENSE")
USERNAME, PASSWORD = "admin", "a-fresh-Passw0rd"
# What pip or the build frontend print when the package index cannot be reached at all.
OFFLINE_SIGNS = (
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "No route to host",
    "ConnectTimeoutError",
    "Connection refused",
    "ProxyError",
)


# -- README.rst, read as a new user reads it -------------------------------------------------


def readme_section(title: str) -> str:
    """The text under the heading ``title`` up to the next heading of any level."""
    lines = README.read_text().splitlines()

    def is_heading(index: int) -> bool:
        under = lines[index + 1] if index + 1 < len(lines) else ""
        return (
            bool(lines[index].strip())
            and len(set(under)) == 1
            and under[0] in "=-~^"
            and len(under) >= len(lines[index])
        )

    starts = [i for i in range(len(lines)) if lines[i] == title and is_heading(i)]
    assert starts, f"README.rst has no section {title!r} any more: update tests/fresh"
    body: list[str] = []
    for index in range(starts[0] + 2, len(lines)):
        if is_heading(index):
            break
        body.append(lines[index])
    return "\n".join(body)


def code_blocks(title: str, language: str) -> list[str]:
    """The ``.. code-block:: <language>`` blocks of a README section, dedented."""
    lines = readme_section(title).splitlines()
    blocks: list[str] = []
    for index, line in enumerate(lines):
        if line.strip() != f".. code-block:: {language}":
            continue
        block: list[str] = []
        for following in lines[index + 1 :]:
            if following.strip() and not following.startswith(" "):
                break
            block.append(following)
        blocks.append(textwrap.dedent("\n".join(block)).strip("\n") + "\n")
    assert blocks, f"README.rst section {title!r} has no {language} block: update tests/fresh"
    return blocks


def the_block(title: str, language: str, containing: str) -> str:
    found = [block for block in code_blocks(title, language) if containing in block]
    assert found, f"README.rst section {title!r}: no {language} block with {containing!r}"
    return found[0]


# -- the machinery: one temporary directory, timed steps, subprocesses that always end --------


@dataclass
class Fresh:
    root: Path
    timings: list[tuple[str, float]] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    @property
    def project(self) -> Path:
        return self.root / "project"

    def env(self) -> dict[str, str]:
        """The environment of a shell with the new venv activated, outside any test run."""
        # PYTHONDONTWRITEBYTECODE too: pip installs with --no-compile, so the project's first
        # run compiles the modules it imports once for all the later runs, as on a user's machine.
        dropped = {
            "DJANGO_SETTINGS_MODULE",
            "PYTHONPATH",
            "PYTHONHOME",
            "VIRTUAL_ENV",
            "PYTHONDONTWRITEBYTECODE",
        }
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in dropped and not name.startswith(("PYTEST", "COV_CORE", "COVERAGE"))
        }
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        return env

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings.append((name, time.monotonic() - started))

    def report(self) -> str:
        total = sum(seconds for _, seconds in self.timings)
        steps = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.timings)
        return f"fresh project: {total:.1f}s ({steps})"

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        timeout: float = 120,
        ok: Sequence[int] = (0,),
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(args),
            cwd=cwd or self.project,
            env={**self.env(), **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode in ok, (
            f"{shlex.join(args)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
        )
        return result

    def manage(self, *args: str, ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
        return self.run([self.python, "manage.py", *args], ok=ok)

    def stop_processes(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                # Its own session: the signal reaches whatever it started too.
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def scratch_parent() -> str | None:
    """Memory-backed /dev/shm when it has room: the venv's ~8,500 files (5,000 of them Django's
    translations) take 10-20 s to delete from a busy disk here, and well under one from tmpfs."""
    shm = "/dev/shm"
    try:
        stats = os.statvfs(shm)
    except OSError:
        return None
    roomy = stats.f_bavail * stats.f_frsize > 1 << 30
    return shm if roomy and os.access(shm, os.W_OK) else None


@pytest.fixture
def fresh() -> Iterator[Fresh]:
    # Not tmp_path: pytest keeps the last three, and a venv per run would pile up.
    state = Fresh(Path(tempfile.mkdtemp(prefix="dca-fresh-", dir=scratch_parent())))
    try:
        yield state
    finally:
        with state.step("cleanup"):
            state.stop_processes()
            shutil.rmtree(state.root, ignore_errors=True)
        print(state.report())


def install_or_skip(fresh: Fresh, args: Sequence[str], what: str) -> None:
    """Run a build or install step; without the network (and no pip cache) skip, or fail in CI."""
    result = fresh.run(args, cwd=ROOT, timeout=300, ok=range(256))
    if result.returncode == 0:
        return
    output = result.stdout + result.stderr
    evidence = [
        line.strip() for line in output.splitlines() if any(s in line for s in OFFLINE_SIGNS)
    ]
    skip_or_fail_unless(
        not evidence,
        f"cannot {what}: the package index is unreachable and the pip cache lacks what it needs"
        f" ({evidence[0][:300] if evidence else ''})",
    )
    pytest.fail(f"{what} failed (exit {result.returncode}):\n{output[-6000:]}", pytrace=False)


def newest_source_mtime() -> float:
    mtimes = [0.0]
    for name in SOURCES:
        path = ROOT / name
        files = path.rglob("*") if path.is_dir() else [path]
        mtimes += [
            file.stat().st_mtime
            for file in files
            if file.is_file() and "__pycache__" not in file.parts
        ]
    return max(mtimes)


def wheel(fresh: Fresh) -> Path:
    """The wheel ``make dist`` left in dist/ if it is newer than the sources, else a new one."""
    out = fresh.root / "dist"
    out.mkdir()
    built = sorted((ROOT / "dist").glob("django_diskcache_admin-*.whl"))
    if len(built) == 1 and built[0].stat().st_mtime >= newest_source_mtime():
        # A copy: a `make dist` running meanwhile empties dist/.
        return Path(shutil.copy2(built[0], out))
    if find_spec("build") is not None:
        command = [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)]
    else:  # the matrix venvs have only the test dependencies: pip builds through the backend too
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(ROOT)]
    install_or_skip(fresh, command, "build the wheel")
    (found,) = out.glob("django_diskcache_admin-*.whl")
    return found


def pip_can_target_another_python() -> bool:
    major, minor = (int(part) for part in version("pip").split(".")[:2])
    return (major, minor) >= (22, 3)


def create_venv_and_install(fresh: Fresh, wheel_file: Path) -> None:
    packages = [
        str(wheel_file),
        # The running Django: each pair of `make test` checks the wheel with its own Django.
        f"Django=={django.__version__}" if django.VERSION[3] == "final" else "Django",
        "pytest",
        "pytest-django",
    ]
    # --no-compile: the project's runs compile the few hundred modules they import, not 1,400.
    options = ["install", "--quiet", "--no-compile", "--retries", "3", "--timeout", "30", *packages]
    if pip_can_target_another_python():
        # No ensurepip in the new venv (~8 s here): this pip installs into it.
        fresh.run([sys.executable, "-m", "venv", "--without-pip", str(fresh.venv)], cwd=ROOT)
        command = [sys.executable, "-m", "pip", "--python", fresh.python, *options]
    else:
        fresh.run([sys.executable, "-m", "venv", str(fresh.venv)], cwd=ROOT)
        command = [fresh.python, "-m", "pip", *options]
    install_or_skip(fresh, command, "install the wheel, Django, pytest and pytest-django")


# -- the new project ---------------------------------------------------------------------------


def settings_module_from_readme() -> str:
    ini = the_block("Test isolation", "ini", "DJANGO_SETTINGS_MODULE")
    found = re.search(r"DJANGO_SETTINGS_MODULE\s*=\s*(\w+)\.settings", ini)
    assert found, f"README's pytest.ini block names no <project>.settings module:\n{ini}"
    return found.group(1)


def add_to_installed_apps(settings: Path, apps: Sequence[str]) -> None:
    text = settings.read_text()
    found = re.search(r"^INSTALLED_APPS = \[\n(.*?)^\]", text, flags=re.MULTILINE | re.DOTALL)
    assert found, "startproject's settings.py has no INSTALLED_APPS list"
    added = "".join(f'    "{app}",\n' for app in apps)
    settings.write_text(text[: found.end(1)] + added + text[found.end(1) :])


def club_views() -> str:
    """README's decorator example, with the body a user writes for its view."""
    block = the_block("Decorators", "python", "@cached_view(")
    body, count = re.subn(
        r"(def club_detail\(request, slug\):\n(\s+))\.\.\.",
        r'\1return HttpResponse(f"Club {slug}")',
        block,
    )
    assert count == 1, f"README's Decorators example has no club_detail(request, slug):\n{block}"
    return "from django.http import HttpResponse\n\n" + body


RUNNER_TESTS = """\
from django.core.cache import cache
from django.test import TestCase

from diskcache_admin.testing import CacheCallsAssertionsMixin


class ClubPageTests(CacheCallsAssertionsMixin, TestCase):
    def test_club_page_is_cached(self):
        with self.assertCacheCalls(misses=1, sets=1):
            first = self.client.get("/clubs/tigers/")
        with self.assertCacheCalls(hits=1, misses=0, sets=0):
            second = self.client.get("/clubs/tigers/")
        self.assertEqual((first["X-Cache"], second["X-Cache"]), ("miss", "hit"))
        self.assertEqual(second.content, b"Club tigers")

    def test_the_run_has_caches_of_its_own(self):
        self.assertIsNone(cache.get("greeting"))
"""

PYTEST_ISOLATION = """\


def test_the_run_has_caches_of_its_own():
    from django.core.cache import cache

    assert cache.get("greeting") is None
"""


def build_project(fresh: Fresh, project_name: str) -> None:
    fresh.project.mkdir()
    fresh.run([str(fresh.venv / "bin" / "django-admin"), "startproject", project_name, "."])
    settings = fresh.project / project_name / "settings.py"

    # Installation: the app next to the admin (README's INSTALLED_APPS block names it).
    apps = the_block("Installation", "python", "INSTALLED_APPS")
    assert '"diskcache_admin"' in apps, apps
    fresh.manage("startapp", "clubs")
    add_to_installed_apps(settings, ["diskcache_admin", "clubs"])

    # Quick start: the backend's CACHES and the runner's TEST_RUNNER, pasted as they stand.
    pasted = [
        the_block("The backend", "python", "CACHES"),
        the_block("Test isolation", "python", "TEST_RUNNER"),
    ]
    with settings.open("a") as file:
        file.write("\n" + "\n".join(pasted))
    (fresh.project / "pytest.ini").write_text(the_block("Test isolation", "ini", "[pytest]"))

    # Decorators: the example view, served where README's test example requests it.
    (fresh.project / "clubs" / "views.py").write_text(club_views())
    with (fresh.project / project_name / "urls.py").open("a") as file:
        file.write(
            "\nfrom clubs.views import club_detail\n\n"
            'urlpatterns += [path("clubs/<slug:slug>/", club_detail)]\n'
        )
    (fresh.project / "clubs" / "tests.py").write_text(RUNNER_TESTS)
    readme_test = the_block("Test isolation", "python", "cache_calls")
    (fresh.project / "clubs" / "test_pages.py").write_text(readme_test + PYTEST_ISOLATION)

    checked = fresh.manage("check")
    assert "System check identified no issues" in checked.stdout, checked.stdout
    fresh.manage("migrate", "--noinput")
    fresh.run(
        [fresh.python, "manage.py", "createsuperuser", "--noinput", "--username", USERNAME],
        extra_env={"DJANGO_SUPERUSER_PASSWORD": PASSWORD, "DJANGO_SUPERUSER_EMAIL": "a@b.example"},
    )


# -- what the user then does -------------------------------------------------------------------


def use_the_command_line(fresh: Fresh) -> None:
    stored = fresh.manage("cache", "set", "greeting", "hello")
    assert "Stored 'greeting'" in stored.stdout, stored.stdout
    assert fresh.manage("cache", "get", "greeting").stdout == "hello\n"
    fresh.manage("cache", "set", "club:riverside-chess-club", '{"name": "Riverside"}', "--json")

    # The README's own command lines, as typed (on the key just stored).
    console = the_block("The command line", "console", "manage.py cache")
    commands = [line[2:] for line in console.splitlines() if line.startswith("$ ")]
    assert commands, console
    outputs: dict[str, str] = {}
    for command in commands:
        words = shlex.split(command)
        assert words[:2] == ["python", "manage.py"], command
        outputs[words[2] + " " + words[3]] = fresh.run([fresh.python, *words[1:]]).stdout
    assert "Cache 'default' (DiskCache)" in outputs["cache stats"], outputs
    assert "club:riverside-chess-club" in outputs["cache keys"], outputs
    assert '"Riverside"' in outputs["cache get"], outputs
    stats = fresh.manage("cache", "stats").stdout
    assert re.search(r"^\s+entries\s+2$", stats, flags=re.MULTILINE), stats


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_runserver(fresh: Fresh) -> str:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (fresh.root / "runserver.log").open("wb") as log:
        server = subprocess.Popen(
            [fresh.python, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=fresh.project,
            env=fresh.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    fresh.processes.append(server)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/admin/login/", timeout=2) as response:
                if response.status == 200:
                    return base
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    log_text = (fresh.root / "runserver.log").read_text(errors="replace")
    pytest.fail(f"runserver did not answer on {base} within 30 s:\n{log_text[-4000:]}")


class Browser:
    """Cookies and CSRF, like a browser; the server's traceback on a 5xx."""

    def __init__(self, base: str, log: Path) -> None:
        self.base = base
        self.log = log
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def open(
        self, path: str, data: dict[str, str] | None = None
    ) -> tuple[str, str, dict[str, str]]:
        """``(final URL path, body, headers)``, following redirects."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body)
        try:
            with self.opener.open(request, timeout=30) as response:
                final = urllib.parse.urlsplit(response.geturl())
                headers = {name.lower(): value for name, value in response.headers.items()}
                return final.path, response.read().decode(), headers
        except urllib.error.HTTPError as error:
            error.close()
            server_log = self.log.read_text(errors="replace")[-6000:]
            pytest.fail(f"GET/POST {path}: HTTP {error.code}\n--- runserver\n{server_log}")

    def links(self, html: str, text: str | None = None) -> list[str]:
        anchors = re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', html, flags=re.DOTALL)
        return [
            unescape(href)
            for href, label in anchors
            if text is None or re.sub(r"<[^>]+>|\s+", " ", label).strip() == text
        ]


def log_in_and_browse_the_caches(fresh: Fresh, base: str) -> None:
    browser = Browser(base, fresh.root / "runserver.log")
    where, page, _ = browser.open("/admin/")
    assert where == "/admin/login/", f"the admin index did not ask for a login: {where}"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, page
    where, index, _ = browser.open(
        "/admin/login/?next=/admin/",
        {
            "csrfmiddlewaretoken": token.group(1),
            "username": USERNAME,
            "password": PASSWORD,
            "next": "/admin/",
        },
    )
    assert where == "/admin/", f"login failed, landed on {where}:\n{index[-2000:]}"

    # The index shows Caches (README: "Log in to the admin: the index shows Caches").
    changelists = [href for href in browser.links(index, "Caches") if href.endswith("/cache/")]
    assert changelists, f"no 'Caches' entry on the admin index:\n{index}"
    _, caches, _ = browser.open(changelists[0])
    alias_pages = [href for href in browser.links(caches) if href.endswith("/cache/default/")]
    assert alias_pages, f"the Caches page does not link the 'default' alias:\n{caches}"

    _, detail, _ = browser.open(alias_pages[0])
    assert "default" in detail
    assert "DiskCache" in detail
    key_pages = [href for href in browser.links(detail) if href.endswith("/default/keys/")]
    assert key_pages, f"the alias page does not link its keys:\n{detail}"
    _, keys, _ = browser.open(key_pages[0])
    # What the CLI stored, seen by the server process.
    assert "club:riverside-chess-club" in unescape(keys), keys
    assert "greeting" in keys, keys

    # The decorated view on the real cache: computed once, then served from the cache.
    _, first, first_headers = browser.open("/clubs/tigers/")
    _, second, second_headers = browser.open("/clubs/tigers/")
    assert first == second == "Club tigers"
    # Logged in: served uncached unless the key varies on the user (README: cached_view policy).
    assert (first_headers["x-cache"], second_headers["x-cache"]) == ("bypass", "bypass")
    anonymous = Browser(base, fresh.root / "runserver.log")
    _, _, cold = anonymous.open("/clubs/tigers/")
    _, _, warm = anonymous.open("/clubs/tigers/")
    assert (cold["x-cache"], warm["x-cache"]) == ("miss", "hit")


def run_the_tests(fresh: Fresh) -> None:
    runner = fresh.manage("test", "-v", "2")
    output = runner.stdout + runner.stderr
    assert "Cache isolation: swap" in output, output
    assert "Ran 2 tests" in output, output
    assert "test_club_page_is_cached (clubs.tests.ClubPageTests" in output, output

    pytest_run = fresh.run([str(fresh.venv / "bin" / "pytest"), "-rA"])
    assert "diskcache-admin cache isolation: swap" in pytest_run.stdout, pytest_run.stdout
    assert re.search(r"^=+ 2 passed in ", pytest_run.stdout, flags=re.MULTILINE), pytest_run.stdout

    # Neither run touched the development cache.
    assert fresh.manage("cache", "get", "greeting").stdout == "hello\n"


def test_a_new_user_follows_the_readme_in_a_fresh_project(fresh: Fresh) -> None:
    project_name = settings_module_from_readme()
    with fresh.step("wheel"):
        wheel_file = wheel(fresh)
    # README: `pip install django-diskcache-admin`; here the wheel of that distribution.
    install = the_block("Installation", "sh", "pip install").split()
    assert install[-1].replace("-", "_") == wheel_file.name.split("-")[0], install
    with fresh.step("venv+pip"):
        create_venv_and_install(fresh, wheel_file)
    with fresh.step("project"):
        build_project(fresh, project_name)
    with fresh.step("cli"):
        use_the_command_line(fresh)
    with fresh.step("tests"):
        run_the_tests(fresh)
    with fresh.step("runserver"):
        log_in_and_browse_the_caches(fresh, start_runserver(fresh))
        fresh.stop_processes()
