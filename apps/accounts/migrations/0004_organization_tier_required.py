import django.db.models.deletion
from django.db import migrations, models

import apps.accounts.models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_seed_tiers"),
    ]

    operations = [
        migrations.AlterField(
            model_name="organization",
            name="tier",
            field=models.ForeignKey(
                default=apps.accounts.models.default_tier_id,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="organizations",
                to="accounts.tier",
                verbose_name="billing tier",
            ),
        ),
    ]
