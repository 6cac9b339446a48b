from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Cache",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ],
            options={
                "verbose_name": "cache",
                "verbose_name_plural": "caches",
                "permissions": (
                    ("view_cache_stats", "Can view cache statistics"),
                    ("view_cache_keys", "Can view cache keys"),
                    ("view_cache_values", "Can view cache values"),
                    ("delete_cache_keys", "Can delete cache keys"),
                    ("clear_cache", "Can clear a cache"),
                    ("maintain_cache", "Can run cache maintenance (expire, evict, cull, reset stats)"),
                ),
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
