"""Staff users, groups and the cache permissions for the admin tests."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.models import Group, Permission, User

PASSWORD = "correct horse battery staple"


def cache_permission(codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label="diskcache_admin", codename=codename)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    is_active = True
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def permissions(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        """``UserFactory(permissions=["view_cache_keys"])`` grants those cache permissions."""
        if create and extracted:
            self.user_permissions.add(*(cache_permission(name) for name in extracted))
        if create:
            self.save()


class StaffFactory(UserFactory):
    is_staff = True


class SuperuserFactory(StaffFactory):
    is_superuser = True


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"group{n}")

    @factory.post_generation
    def permissions(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.permissions.add(*(cache_permission(name) for name in extracted))
