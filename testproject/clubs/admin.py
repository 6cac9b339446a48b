from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from .models import Club, ClubClass

if TYPE_CHECKING:
    _ClubAdmin = admin.ModelAdmin[Club]
    _ClubClassAdmin = admin.ModelAdmin[ClubClass]
    _ClubClassInline = admin.TabularInline[ClubClass, Club]
else:  # the admin classes are generic only in the type stubs
    _ClubAdmin = _ClubClassAdmin = admin.ModelAdmin
    _ClubClassInline = admin.TabularInline


class ClubClassInline(_ClubClassInline):
    model = ClubClass
    extra = 1


@admin.register(Club)
class ClubAdmin(_ClubAdmin):
    list_display = ["name", "city", "slug"]
    search_fields = ["name", "city"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ClubClassInline]


@admin.register(ClubClass)
class ClubClassAdmin(_ClubClassAdmin):
    list_display = ["title", "club", "weekday", "start_time", "level"]
    list_filter = ["weekday", "level", "club"]
    search_fields = ["title", "club__name"]
