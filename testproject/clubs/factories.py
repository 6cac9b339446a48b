"""factory-boy factories for the demo models (used by ``seed_demo`` and the tests)."""

from __future__ import annotations

import datetime

from django.utils.text import slugify
from factory.declarations import LazyAttribute, Sequence, SubFactory
from factory.django import DjangoModelFactory

from .models import Club, ClubClass


class ClubFactory(DjangoModelFactory[Club]):
    class Meta:
        model = Club
        django_get_or_create = ("slug",)

    name = Sequence(lambda n: f"Club {n}")
    slug = LazyAttribute(lambda club: slugify(club.name))
    city = "Lyon"
    description = LazyAttribute(lambda club: f"{club.name} meets in {club.city}.")


class ClubClassFactory(DjangoModelFactory[ClubClass]):
    class Meta:
        model = ClubClass
        django_get_or_create = ("club", "title")

    club = SubFactory(ClubFactory)
    title = Sequence(lambda n: f"Class {n}")
    weekday = Sequence(lambda n: n % 7)
    start_time = Sequence(lambda n: datetime.time(9 + n % 12, 30 * (n % 2)))
    level = ClubClass.Level.ALL
