"""``manage.py seed_demo``: clubs, classes, realistic cache entries and an admin user.

Idempotent: a second run finds the same clubs, classes and user, and overwrites the same cache
keys with the same values, so the demo can be re-seeded at any time.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
from argparse import ArgumentTypeError
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.utils import make_template_fragment_key
from django.core.management.base import BaseCommand, CommandParser
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils.cache import learn_cache_key
from django.utils.html import format_html

from diskcache_admin.backend import DiskCache
from testproject.clubs.factories import ClubClassFactory, ClubFactory
from testproject.clubs.models import Club, ClubClass
from testproject.clubs.views import timetable

# `make demo` serves on 127.0.0.1:$(PORT) and passes the same port here (--port).
DEFAULT_PORT = 8000


def site_url(port: int = DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}/"


SITE_URL = site_url()
ADMIN_URL = f"{SITE_URL}admin/"

Level = ClubClass.Level
Day = ClubClass.Weekday

CLUBS: list[dict[str, Any]] = [
    {
        "name": "Riverside Chess Club",
        "city": "Lyon",
        "description": "Casual and rated games on the banks of the Saône.",
        "classes": [
            ("Openings for beginners", Day.MONDAY, datetime.time(18, 30), Level.BEGINNER),
            ("Endgame clinic", Day.WEDNESDAY, datetime.time(19, 0), Level.INTERMEDIATE),
            ("Blitz night", Day.FRIDAY, datetime.time(20, 0), Level.ALL),
        ],
    },
    {
        "name": "Harbour Rowing Club",
        "city": "Marseille",
        "description": "Coastal rowing in the Vieux-Port, boats provided.",
        "classes": [
            ("Early ergs", Day.TUESDAY, datetime.time(6, 30), Level.ADVANCED),
            ("Learn to row", Day.SATURDAY, datetime.time(9, 0), Level.BEGINNER),
            ("Sunday long row", Day.SUNDAY, datetime.time(8, 0), Level.INTERMEDIATE),
        ],
    },
    {
        "name": "Old Town Choir",
        "city": "Strasbourg",
        "description": "Four-part choral music, no audition.",
        "classes": [
            ("Full rehearsal", Day.TUESDAY, datetime.time(19, 30), Level.ALL),
            ("Sight-reading basics", Day.THURSDAY, datetime.time(18, 0), Level.BEGINNER),
        ],
    },
    {
        "name": "Northside Climbing Collective",
        "city": "Grenoble",
        "description": "Bouldering and lead climbing for every level.",
        "classes": [
            ("Intro to bouldering", Day.MONDAY, datetime.time(18, 0), Level.BEGINNER),
            ("Lead climbing", Day.WEDNESDAY, datetime.time(19, 0), Level.ADVANCED),
            ("Youth squad", Day.SATURDAY, datetime.time(10, 0), Level.ALL),
        ],
    },
]

FIRST_NAMES = ["alice", "bruno", "chloe", "david", "emma", "farid", "gina", "hugo", "ines", "jules"]


@dataclass(frozen=True)
class Entry:
    key: str
    value: Any
    timeout: float | None  # seconds; None never expires
    tag: str | None = None
    version: int | None = None


class Command(BaseCommand):
    help = "Seed the demo site: clubs and classes, demo cache entries and an admin user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin", help="Superuser name (default: admin).")
        parser.add_argument(
            "--password", default="admin", help="Superuser password (default: admin)."
        )
        parser.add_argument(
            "--cache", default="default", help="Cache alias to fill with demo entries."
        )
        parser.add_argument(
            "--port",
            type=port_number,
            default=DEFAULT_PORT,
            help=f"Port the demo is served on, for the printed URLs (default: {DEFAULT_PORT}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        clubs = self.seed_clubs()
        classes = ClubClass.objects.filter(club__in=clubs).count()
        self.stdout.write(f"Clubs: {len(clubs)} clubs, {classes} classes.")

        cache = caches[options["cache"]]
        entries = demo_entries(clubs)
        self.fill_cache(cache, entries)
        port = options["port"]
        written = len(entries) + write_cached_pages(cache, clubs, host=f"127.0.0.1:{port}")
        self.stdout.write(f"Cache {options['cache']!r}: {written} demo entries written.")
        if isinstance(cache, DiskCache):
            stats = cache.stats()
            self.stdout.write(
                f"  {stats.count} entries, {stats.size / 1024:.1f} KiB in {cache.location}"
            )

        username, password = options["username"], options["password"]
        created = self.seed_superuser(username, password)
        self.stdout.write(f"Superuser {username!r} {'created' if created else 'updated'}.")

        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("The demo is ready."))
        self.stdout.write(f"Site:  {site_url(port)}")
        self.stdout.write(f"Admin: {site_url(port)}admin/")
        self.stdout.write(f"Login: username {username}  password {password}")

    def seed_clubs(self) -> list[Club]:
        clubs: list[Club] = []
        for spec in CLUBS:
            club = ClubFactory.create(
                name=spec["name"], city=spec["city"], description=spec["description"]
            )
            for title, weekday, start_time, level in spec["classes"]:
                ClubClassFactory.create(
                    club=club, title=title, weekday=weekday, start_time=start_time, level=level
                )
            clubs.append(club)
        return clubs

    def fill_cache(self, cache: BaseCache, entries: list[Entry]) -> None:
        for entry in entries:
            if isinstance(cache, DiskCache):
                cache.set(entry.key, entry.value, entry.timeout, entry.version, tag=entry.tag)
            else:
                cache.set(entry.key, entry.value, entry.timeout, entry.version)

    def seed_superuser(self, username: str, password: str) -> bool:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_active = user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return created


def demo_entries(clubs: list[Club]) -> list[Entry]:
    """Entries of the kinds a real site keeps: several key families, types, sizes and expiries."""
    entries: list[Entry] = []
    for club in clubs:
        classes = club.classes.count()
        summary = {"id": club.pk, "name": club.name, "city": club.city, "classes": classes}
        entries.append(Entry(f"club:{club.slug}", summary, 3600, tag="clubs"))
        members = list(range(club.pk * 100, club.pk * 100 + 25))
        entries.append(Entry(f"club:{club.slug}:members", members, None, tag="clubs"))
    # A cached "not found": negative caching, a None value that must still count as a hit.
    entries.append(Entry("club:no-such-club", None, 120, tag="clubs"))

    for number, name in enumerate(FIRST_NAMES, start=1):
        profile = {
            "id": number,
            "username": name,
            "email": f"{name}@example.com",
            "last_login": datetime.datetime(
                2026, 11, 20, 8 + number, 15, tzinfo=datetime.timezone.utc
            ),
        }
        entries.append(Entry(f"user:{number}", profile, 1800))
        permissions = frozenset(
            {"clubs.view_club", "clubs.view_clubclass"}
            | ({"clubs.change_clubclass"} if number % 3 == 0 else set())
        )
        entries.append(Entry(f"user:{number}:permissions", permissions, None))
    entries.append(Entry("user:7:avatar", _pseudo_random_bytes("avatar", 12 * 1024), 86400))

    for club in clubs:
        sidebar = format_html(
            "<aside><h3>{}</h3><p>{} classes a week in {}</p></aside>",
            club.name,
            club.classes.count(),
            club.city,
        )
        key = make_template_fragment_key("club_sidebar", [club.slug])
        entries.append(Entry(key, str(sidebar), 900))

    entries.extend(
        [
            Entry("stats:page_views", 1482, None),
            Entry("rate_limit:login:127.0.0.1", 3, 60),
            Entry("otp:user:3", "493817", 30),
            Entry("weather:lyon", {"temp_c": 7.5, "sky": "overcast"}, 600),
            Entry("shop:price:membership", decimal.Decimal("49.90"), None),
            Entry(
                "cron:last_run",
                datetime.datetime(2026, 11, 21, 3, 0, tzinfo=datetime.timezone.utc),
                None,
            ),
            # Version 2 of a key: the admin shows the version apart from the key.
            Entry("feature_flags", {"new_timetable": True, "dark_mode": False}, None, version=2),
            # Larger than the engine's file threshold, so it lives in a value file beside the db.
            Entry("export:clubs.csv", _members_csv(clubs), 3600, tag="exports"),
            Entry(
                "export:clubs.json",
                [{"club": c.name, "city": c.city} for c in clubs],
                3600,
                tag="exports",
            ),
        ]
    )
    return entries


def write_cached_pages(
    cache: BaseCache, clubs: list[Club], timeout: int = 600, host: str = "127.0.0.1:8000"
) -> int:
    """Write what Django's ``cache_page`` writes for each club page: its header list and page.

    ``host`` is the one the demo is served on: ``cache_page`` keys hold the request's host.
    """
    factory = RequestFactory(HTTP_HOST=host)
    for club in clubs:
        request = factory.get(club.get_absolute_url())
        context = {"club": club, "classes": timetable(club), "from_cache": False, "cache_key": ""}
        response = HttpResponse(render_to_string("clubs/club_detail.html", context))
        # Writes the "cache_header" entry and names the "cache_page" one, as the middleware does.
        page_key = learn_cache_key(request, response, timeout, "", cache=cache)
        cache.set(page_key, response, timeout)
    return 2 * len(clubs)


def port_number(text: str) -> int:
    """A TCP port for ``--port``; anything else is an argparse error (exit status 2)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)")
    return port


def _members_csv(clubs: list[Club]) -> str:
    lines = ["club,member_id,name,email,joined"]
    for club in clubs:
        for member in range(800):
            name = f"{FIRST_NAMES[member % len(FIRST_NAMES)]}{member}"
            lines.append(
                f"{club.slug},{club.pk * 1000 + member},{name},{name}@example.com,"
                f"2026-{1 + member % 12:02d}-{1 + member % 28:02d}"
            )
    return "\n".join(lines) + "\n"


def _pseudo_random_bytes(seed: str, size: int) -> bytes:
    # Deterministic, so a second seed writes identical values.
    blocks = range(-(-size // 32))  # sha256 digests are 32 bytes
    return b"".join(hashlib.sha256(f"{seed}:{n}".encode()).digest() for n in blocks)[:size]
