from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations


class Migration(migrations.Migration):
    """pg_trgm and unaccent, for fuzzy names and accent-insensitive full-text search."""

    dependencies = [("core", "0001_initial")]

    operations = [TrigramExtension(), UnaccentExtension()]
