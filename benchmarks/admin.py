"""Server time of the admin pages on a DiskCache with 10,000 and 1,000,000 entries.

Run from the repository root::

    .venv/bin/python -m benchmarks.admin            # 10k and 1M entries, a few minutes
    .venv/bin/python -m benchmarks.admin --quick    # 10k and 100k, a smoke run

Each figure is the median wall time of Django's test ``Client`` (a logged-in superuser) fetching
the page, over several runs after a warm-up: URL routing, middleware, the inspection layer and
template rendering, without a network. The store is filled through the backend's ``set_many``
(the engine's ``Store.set_many``, one transaction per batch). Django is configured standalone
here; nothing reads the project's settings.

Targets (issue 3): a key-browser page at 1M entries in <= 250 ms, and no more than 2x the 10k
figure.
"""

from __future__ import annotations

import argparse
import datetime
import html
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "admin.md")
BATCH = 50_000
RUNS = 21
TARGET_MS = 250.0
NEXT_LINK = re.compile(r'<a href="([^"]+)" class="dca-next"')

# This module is also the benchmark's URLconf.
urlpatterns: list[Any] = []


def configure(root: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="diskcache-admin-benchmark-not-secret",
        USE_TZ=True,
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "diskcache_admin",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        STATIC_URL="/static/",
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.path.join(root, "django.sqlite3"),
            }
        },
        CACHES={"default": cache_config(root, 0)},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    django.setup()
    from django.contrib import admin
    from django.urls import path

    urlpatterns.append(path("admin/", admin.site.urls))


def fill(cache: Any, start: int, stop: int) -> float:
    """Entries ``start``..``stop``: several families, sizes, expiries and tags."""
    began = time.perf_counter()
    families = ("user", "product", "views.decorators.cache.cache_page", "template.cache", "api")
    for low in range(start, stop, BATCH):
        high = min(low + BATCH, stop)
        by_group: dict[tuple[float | None, str | None], dict[str, Any]] = {}
        for n in range(low, high):
            family = families[n % len(families)]
            timeout = (None, 60.0, 3600.0, 86400.0)[n % 4]
            tag = "nightly" if n % 10 == 0 else None
            value: Any = {"id": n, "payload": "x" * (n % 200)} if n % 3 else n
            by_group.setdefault((timeout, tag), {})[f"{family}:{n}"] = value
        for (timeout, tag), data in by_group.items():
            cache.set_many(data, timeout, tag=tag)
    return time.perf_counter() - began


def cache_config(root: str, size: int) -> dict[str, Any]:
    return {
        "BACKEND": "diskcache_admin.backend.DiskCache",
        "LOCATION": os.path.join(root, f"cache-{size}"),
        "OPTIONS": {"MAX_ENTRIES": None},
    }


def timed_get(client: Any, url: str) -> float:
    began = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - began) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}")
    return elapsed


def pages(client: Any) -> dict[str, str]:
    base = "/admin/diskcache_admin/cache/"
    keys = f"{base}default/keys/"
    # A page deep in the keyspace: follow the cursor five pages on.
    url = keys
    for _ in range(5):
        found = NEXT_LINK.search(client.get(url).content.decode())
        if found is None:
            raise SystemExit(f"no next page after {url}")
        url = keys + html.unescape(found.group(1))
    return {
        "Caches list": base,
        "Cache detail (stats and charts)": f"{base}default/",
        "Key browser, first page": keys,
        "Key browser, 6th page (cursor)": url,
        "Key browser, prefix search": f"{keys}?q=product%3A1&match=prefix",
        "Key browser, sorted by size desc": f"{keys}?o=size&desc=on",
        "Key browser, expires soonest": f"{keys}?o=expires",
        "Key browser, family filter": f"{keys}?family=user",
    }


def run(sizes: Sequence[int], out: str) -> str:
    """Fill one store per size, then time each page on every store in turn, run by run.

    Alternating the stores on every run spreads any load from elsewhere on the machine evenly
    over the sizes, so their ratio stays meaningful on a busy machine.
    """
    root = tempfile.mkdtemp(prefix="diskcache-admin-bench-admin-")
    try:
        configure(root)
        from django.contrib.auth.models import User
        from django.core.cache import caches
        from django.core.management import call_command
        from django.test import Client, override_settings

        call_command("migrate", verbosity=0)
        user = User.objects.create_superuser("bench", "bench@example.com", "bench")
        client = Client()
        client.force_login(user)
        settings_for = {size: {"default": cache_config(root, size)} for size in sizes}
        fill_times: dict[int, float] = {}
        urls: dict[int, dict[str, str]] = {}
        for size in sizes:
            with override_settings(CACHES=settings_for[size]):
                fill_times[size] = fill(caches["default"], 0, size)
                print(f"{size:,} entries stored in {fill_times[size]:.1f} s", file=sys.stderr)
                urls[size] = pages(client)
        times: dict[int, dict[str, list[float]]] = {size: {} for size in sizes}
        for name in urls[sizes[0]]:
            for run_number in range(RUNS + 1):
                for size in sizes:
                    with override_settings(CACHES=settings_for[size]):
                        # Build this thread's backend before the clock starts: a server keeps
                        # its backends between requests, only the swap here rebuilds them.
                        caches["default"].store  # noqa: B018
                        elapsed = timed_get(client, urls[size][name])
                    if run_number:  # the first run of each is a warm-up
                        times[size].setdefault(name, []).append(elapsed)
            print(
                f"  {name}: "
                + ", ".join(
                    f"{statistics.median(times[size][name]):.1f} ms at {size:,}" for size in sizes
                ),
                file=sys.stderr,
            )
        results = {
            size: {name: statistics.median(values) for name, values in times[size].items()}
            for size in sizes
        }
        fastest = {
            size: {name: min(values) for name, values in times[size].items()} for size in sizes
        }
        report = render(results, fastest, fill_times, sizes)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as handle:
        handle.write(report)
    return report


def render(
    results: dict[int, dict[str, float]],
    fastest: dict[int, dict[str, float]],
    fills: dict[int, float],
    sizes: Sequence[int],
) -> str:
    small, large = sizes[0], sizes[-1]
    lines = [
        "# Admin pages: server time",
        "",
        f"Generated by `.venv/bin/python -m benchmarks.admin` on"
        f" {datetime.date.today().isoformat()}, Python {platform.python_version()},"
        f" {platform.machine()}, {os.cpu_count()} CPUs. Median of {RUNS} runs after a warm-up"
        " (fastest run in brackets), the stores taking turns on every run; Django test"
        " Client, superuser, DiskCache with statistics on. The ratio column compares medians.",
        "",
        "| Page | "
        + " | ".join(f"{size:,} entries" for size in sizes)
        + f" | {large:,} / {small:,} |",
        "|---|" + "---:|" * (len(sizes) + 1),
    ]
    for name in results[small]:
        cells = [f"{results[size][name]:.1f} ms ({fastest[size][name]:.1f})" for size in sizes]
        ratio = results[large][name] / results[small][name]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2f}x |")
    key_pages = [name for name in results[large] if name.startswith("Key browser")]
    worst = max(key_pages, key=lambda name: results[large][name])
    worst_ratio = max(results[large][name] / results[small][name] for name in key_pages)
    lines += [
        "",
        "Filling: "
        + ", ".join(f"{size:,} entries in {fills[size]:.1f} s" for size in sizes)
        + " (batches of 50,000 through the backend's `set_many`).",
        "",
        f"Targets at {large:,} entries: the slowest key-browser page ({worst}) takes"
        f" {results[large][worst]:.1f} ms (target <= {TARGET_MS:.0f} ms:"
        f" {'met' if results[large][worst] <= TARGET_MS else 'NOT met'}); the largest"
        f" {large:,}/{small:,} ratio of a key-browser page is {worst_ratio:.2f}x (target <= 2x:"
        f" {'met' if worst_ratio <= 2 else 'NOT met'}).",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10k and 100k entries only")
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"Markdown output (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    sizes = (10_000, 100_000) if args.quick else (10_000, 1_000_000)
    print(run(sizes, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
