"""Invalidation: a saved or deleted club or class drops the cached pages that show it."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from .cache import forget_club
from .models import Club, ClubClass


@receiver(pre_save, sender=Club, dispatch_uid="clubs.club_renaming")
def club_renaming(sender: type[Club], instance: Club, **kwargs: Any) -> None:
    # A new slug leaves the old page's entry behind; drop it while the old slug is known.
    if instance.pk is not None:
        old = Club.objects.filter(pk=instance.pk).values_list("slug", flat=True).first()
        if old is not None and old != instance.slug:
            forget_club(old)


@receiver(post_save, sender=Club, dispatch_uid="clubs.club_saved")
@receiver(post_delete, sender=Club, dispatch_uid="clubs.club_deleted")
def club_changed(sender: type[Club], instance: Club, **kwargs: Any) -> None:
    forget_club(instance.slug)


@receiver(pre_save, sender=ClubClass, dispatch_uid="clubs.class_moving")
def class_moving(sender: type[ClubClass], instance: ClubClass, **kwargs: Any) -> None:
    # A class moved to another club leaves the page of the club it left stale.
    if instance.pk is not None:
        old = (
            ClubClass.objects.filter(pk=instance.pk)
            .exclude(club_id=instance.club_id)
            .values_list("club__slug", flat=True)
            .first()
        )
        if old is not None:
            forget_club(old)


@receiver(post_save, sender=ClubClass, dispatch_uid="clubs.class_saved")
@receiver(post_delete, sender=ClubClass, dispatch_uid="clubs.class_deleted")
def class_changed(sender: type[ClubClass], instance: ClubClass, **kwargs: Any) -> None:
    forget_club(instance.club.slug)
