"""Settings of the story project: a developer's caches, configured through the environment.

STORY_REDIS_URL / STORY_PREFIX: the "dev" Redis alias (LocMem when unset);
STORY_DISK_DIR: the "dev" DiskCache directory; STORY_FILE_DIR: adds a "files" FileBasedCache
alias there; STORY_MODE: DISKCACHE_ADMIN_TEST_ISOLATION ("unset": not in the settings);
STORY_APP: "1" adds diskcache_admin to INSTALLED_APPS; STORY_SAFE: JSON for
DISKCACHE_ADMIN_TEST_CACHES; STORY_START_METHOD: fork or spawn.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile

# The same key as tests.settings, so the outer tests can read the "dev" DiskCache it signed.
SECRET_KEY = "diskcache-admin-tests-not-secret"

DEBUG = False
USE_TZ = True
ROOT_URLCONF = "tests.testing.project.urls"
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    *(["diskcache_admin"] if os.environ.get("STORY_APP") == "1" else []),
]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"

SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_CACHE_ALIAS = "sessions"

_redis = os.environ.get("STORY_REDIS_URL")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis,
            "KEY_PREFIX": os.environ.get("STORY_PREFIX", "story"),
            "TIMEOUT": 600,
        }
        if _redis
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dev"}
    ),
    "disk": {
        "BACKEND": "diskcache_admin.backend.DiskCache",
        "LOCATION": os.environ.get("STORY_DISK_DIR") or tempfile.mkdtemp(prefix="story-disk-"),
        "OPTIONS": {"MAX_ENTRIES": 1000},
    },
    "sessions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "s"},
}

if os.environ.get("STORY_FILE_DIR"):
    CACHES["files"] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": os.environ["STORY_FILE_DIR"],
    }

TEST_RUNNER = "diskcache_admin.testing.IsolatedCacheRunner"
if os.environ.get("STORY_MODE") != "unset":
    DISKCACHE_ADMIN_TEST_ISOLATION = os.environ.get("STORY_MODE", "swap")
DISKCACHE_ADMIN_TEST_CACHES = json.loads(os.environ.get("STORY_SAFE", "{}"))

if os.environ.get("STORY_START_METHOD"):
    multiprocessing.set_start_method(os.environ["STORY_START_METHOD"], force=True)
