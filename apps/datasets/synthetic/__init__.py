"""Synthetic Ukrainian customs, tax and register data with planted fraud schemes and their ground truth.

Entry points: ``generator.generate(GeneratorConfig(...), out_dir)`` (what ``manage.py generate_customs`` runs) and
the check-digit functions in ``codes``. docs/synthetic-data.md describes the files and the schemes.
"""
