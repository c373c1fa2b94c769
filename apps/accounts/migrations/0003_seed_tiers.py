"""The three plans of the product brief, and enterprise for every organisation that existed before tiers did.

Organisations created before billing kept every feature they had (PII, all exports, the API); moving them to the
free plan would have taken those away overnight. New organisations start on ``BILLING_DEFAULT_TIER``.
"""

from django.db import migrations

from apps.accounts.tier_defaults import DEFAULT_TIERS as TIERS


def seed(apps, schema_editor):
    Tier = apps.get_model("accounts", "Tier")
    Organization = apps.get_model("accounts", "Organization")
    tiers = {}
    for values in TIERS:
        tiers[values["slug"]], _created = Tier.objects.get_or_create(slug=values["slug"], defaults=values)
    Organization.objects.filter(tier__isnull=True).update(tier=tiers["enterprise"])


def unseed(apps, schema_editor):
    apps.get_model("accounts", "Organization").objects.update(tier=None)
    apps.get_model("accounts", "Tier").objects.filter(slug__in=[t["slug"] for t in TIERS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_tier"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
