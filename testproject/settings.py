"""Settings of the demo site: ``make demo`` (or ``python manage.py runserver``) serves it.

Everything the demo writes lives under one directory, ``<repo>/var`` (git-ignored), which the
environment variable ``DISKCACHE_ADMIN_DEMO_VAR`` relocates (the tests point it at a temporary
directory). Not a template for production: the secret key has a development default and DEBUG is
on unless ``DJANGO_DEBUG=0``.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("DISKCACHE_ADMIN_DEMO_VAR") or BASE_DIR / "var").resolve()
# SQLite does not create the directory of its database file, and `migrate` runs first.
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-diskcache-admin-demo-only-never-use-in-production"
)
DEBUG = os.environ.get("DJANGO_DEBUG", "1").lower() not in {"0", "false", "no", "off", ""}
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "diskcache_admin",
    "testproject.clubs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "testproject.urls"
WSGI_APPLICATION = "testproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "demo.sqlite3"},
}

CACHES = {
    # The store this project is about; the admin's "Caches" pages show it in full.
    "default": {
        "BACKEND": "diskcache_admin.backend.DiskCache",
        "LOCATION": str(VAR_DIR / "cache"),
        "OPTIONS": {"MAX_ENTRIES": 10_000, "SIZE_LIMIT": 256 * 2**20},
    },
    # A second backend, so the admin lists more than one alias and what each can do.
    "locmem": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "demo",
    },
}

# Sessions live in the DiskCache, so logging in to the admin writes real entries to it.
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_CACHE_ALIAS = "default"

AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"diskcache_admin": {"handlers": ["console"], "level": "INFO"}},
}

# django-debug-toolbar, when it is installed (the ``toolbar`` extra) and DEBUG is on.
USE_DEBUG_TOOLBAR = DEBUG and find_spec("debug_toolbar") is not None
if USE_DEBUG_TOOLBAR:
    from debug_toolbar.settings import PANELS_DEFAULTS

    INSTALLED_APPS.append("debug_toolbar")
    # As early as possible, but after anything that encodes the response (none here).
    MIDDLEWARE.insert(1, "debug_toolbar.middleware.DebugToolbarMiddleware")
    INTERNAL_IPS = ["127.0.0.1", "::1"]
    # Collapsed to its handle, so the demo pages stay readable until the toolbar is opened.
    DEBUG_TOOLBAR_CONFIG = {"SHOW_COLLAPSED": True}
    # Ours beside the toolbar's own CachePanel: both record, neither double-counts.
    DEBUG_TOOLBAR_PANELS = [*PANELS_DEFAULTS, "diskcache_admin.panels.DiskCachePanel"]
