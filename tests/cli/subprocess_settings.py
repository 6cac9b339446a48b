"""Settings for the ``cache`` command run as a real process: a file database it can migrate.

The test's CACHES arrive as JSON in ``DISKCACHE_ADMIN_CLI_CACHES``, the database path in
``DISKCACHE_ADMIN_CLI_DB``.
"""

from __future__ import annotations

import json
import os

from tests.settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DISKCACHE_ADMIN_CLI_DB"],
    }
}
if "DISKCACHE_ADMIN_CLI_CACHES" in os.environ:
    CACHES = json.loads(os.environ["DISKCACHE_ADMIN_CLI_CACHES"])
