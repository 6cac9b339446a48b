from __future__ import annotations

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('diskcache_admin', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('when', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('who', models.CharField(help_text='Username, or the OS user for the CLI.', max_length=150)),
                ('via', models.CharField(choices=[('admin', 'admin'), ('cli', 'command line')], max_length=10)),
                ('alias', models.CharField(db_index=True, max_length=100)),
                ('action', models.CharField(max_length=40)),
                ('summary', models.TextField(blank=True)),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'cache audit entry',
                'verbose_name_plural': 'cache audit entries',
                'ordering': ('-when', '-id'),
                'default_permissions': ('view',),
            },
        ),
    ]
