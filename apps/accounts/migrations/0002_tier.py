import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Tier",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="created at")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                ("slug", models.SlugField(max_length=32, unique=True, verbose_name="slug")),
                ("name", models.CharField(max_length=100, verbose_name="name")),
                (
                    "position",
                    models.PositiveSmallIntegerField(
                        default=0, help_text="Plans are listed from the lowest position up.", verbose_name="position"
                    ),
                ),
                (
                    "daily_query_limit",
                    models.PositiveIntegerField(
                        blank=True,
                        help_text="Page reads, searches, API calls and exports per organisation per day; empty means unlimited.",
                        null=True,
                        verbose_name="queries a day",
                    ),
                ),
                ("pii_allowed", models.BooleanField(default=False, verbose_name="personal data may be unlocked")),
                (
                    "export_formats",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(
                            choices=[("csv", "CSV"), ("pdf", "PDF"), ("pptx", "PPTX"), ("xlsx", "XLSX")], max_length=8
                        ),
                        blank=True,
                        default=list,
                        size=None,
                        verbose_name="export formats",
                    ),
                ),
                ("api_access", models.BooleanField(default=False, verbose_name="API access")),
                (
                    "api_rate_per_minute",
                    models.PositiveIntegerField(
                        default=60,
                        help_text="The partner API's rate limit per organisation.",
                        verbose_name="API requests a minute",
                    ),
                ),
                ("custom_models", models.BooleanField(default=False, verbose_name="custom models")),
            ],
            options={
                "verbose_name": "billing tier",
                "verbose_name_plural": "billing tiers",
                "ordering": ["position", "name"],
            },
        ),
        migrations.AddField(
            model_name="organization",
            name="tier",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="organizations",
                to="accounts.tier",
                verbose_name="billing tier",
            ),
        ),
    ]
