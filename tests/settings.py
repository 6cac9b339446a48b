"""Settings for the test suite: small, separate from the demo site."""

from __future__ import annotations

import os
import tempfile

SECRET_KEY = "diskcache-admin-tests-not-secret"
DEBUG = False
USE_TZ = True
ROOT_URLCONF = "tests.urls"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "diskcache_admin",
    "testproject.clubs",
    # Installed so the debug-toolbar panel can be tested; its middleware is only added by the
    # panel tests, so no other test renders a toolbar.
    "debug_toolbar",
]
DEBUG_TOOLBAR_CONFIG = {"IS_RUNNING_TESTS": False}
SILENCED_SYSTEM_CHECKS = ["debug_toolbar.W001"]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

# Each test process gets its own directory; tests that need a specific store make their own.
_CACHE_ROOT = tempfile.mkdtemp(prefix="diskcache-admin-tests-")
CACHES = {
    "default": {
        "BACKEND": "diskcache_admin.backend.DiskCache",
        "LOCATION": os.path.join(_CACHE_ROOT, "default"),
    },
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"},
}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REDIS_URL = os.environ.get("DISKCACHE_ADMIN_TEST_REDIS", "redis://127.0.0.1:6379/15")

# The project's own suite manages its caches explicitly; the isolation tests turn it on.
DISKCACHE_ADMIN_TEST_ISOLATION = "off"
