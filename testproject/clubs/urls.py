from __future__ import annotations

from django.urls import path

from . import views

app_name = "clubs"

urlpatterns = [
    path("", views.index, name="index"),
    path("clubs/<slug:slug>/", views.club_detail, name="detail"),
]
