"""PostgreSQL full-text search over the record tables: a text search configuration, a folding function,
``search_vector`` columns with GIN indexes, and the indexes the vector search and autocomplete join on.

``nexus_search`` indexes words unstemmed after ``unaccent`` (Ukrainian has no stemmer in PostgreSQL; the query
side stems, see ``apps.search.text``), English words with the English stemmer, numbers as they are. Masking tokens
(``PII-…``) are left out of every vector: a personal value is never searchable, in clear or as its token.

The columns are filled by the search indexing task after a dataset loads (``apps.search.engines.postgres.
postgres_index_dataset``), not generated during the loader's ``COPY``: computing and GIN-indexing the vectors
there made a load about fifteen times slower (docs/search.md). Existing rows are filled by
``manage.py search_reindex --postgres``.
"""

from django.db import migrations

CONFIG = "nexus_search"
# The embedded server's database uses the C locale, where lower() and the text search parser leave Cyrillic
# capitals alone and take «quotes» for letters. Every vector therefore folds its text with nexus_search_fold():
# lower case (with the built-in Unicode collation where the database's own does not fold Cyrillic, or a
# translate() table on servers older than 17 that have neither), typographic punctuation to spaces, apostrophes
# dropped (м'ясо → мясо). The function is chosen when migrating; the query side does the same in Python.
UPPER = "АБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯЁЪЫЭ"
LOWER = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюяёъыэ"
STRIP = "regexp_replace(regexp_replace($1, '[«»„“”–—…№]', ' ', 'g'), '[''’ʼ`]', '', 'g')"


TABLES = (
    "datasets_customsdeclaration",
    "datasets_taxinvoice",
    "datasets_registrycompany",
    "datasets_telegrammessage",
    "datasets_document",
)

FORWARD = [
    """
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'nexus_search') THEN
            CREATE TEXT SEARCH CONFIGURATION nexus_search (COPY = simple);
            ALTER TEXT SEARCH CONFIGURATION nexus_search
                ALTER MAPPING FOR word, hword, hword_part WITH unaccent, simple;
            ALTER TEXT SEARCH CONFIGURATION nexus_search
                ALTER MAPPING FOR asciiword, asciihword, hword_asciipart WITH english_stem;
        END IF;
    END $$;
    """
]
# Undone in the reverse order of creation: the configuration last, once no column depends on it.
REVERSE = ["DROP TEXT SEARCH CONFIGURATION IF EXISTS nexus_search", "DROP FUNCTION IF EXISTS nexus_search_fold(text)"]
for table in TABLES:
    # Nullable without a default: added without rewriting the table. Filled by the indexing task.
    FORWARD.append(f"ALTER TABLE {table} ADD COLUMN search_vector tsvector")
    FORWARD.append(f"CREATE INDEX {table}_search ON {table} USING gin (search_vector)")
    REVERSE.append(f"ALTER TABLE {table} DROP COLUMN search_vector")
# The vector search finds distinct goods descriptions; their records are found again by the description's hash.
for table in ("datasets_customsdeclaration", "datasets_taxinvoice"):
    FORWARD.append(f"CREATE INDEX {table}_goods_md5 ON {table} (organization_id, md5(goods_description))")
    REVERSE.append(f"DROP INDEX {table}_goods_md5")
# Autocomplete on codes: a prefix of an ЄДРПОУ or an IBAN, typed with or without its leading zeros.
FORWARD.append(
    "CREATE INDEX search_identifier_prefix ON entities_entityidentifier "
    "(organization_id, ltrim(value, '0') text_pattern_ops)"
)
REVERSE.append("DROP INDEX search_identifier_prefix")


def fold_function(connection) -> str:
    """The fastest lower-casing this server does right for Cyrillic (translate() is about 20 times slower)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT lower('ЇЖАК') = 'їжак'")
        if cursor.fetchone()[0]:
            lowered = f"lower({STRIP})"
        else:
            cursor.execute("SELECT 1 FROM pg_collation WHERE collname = 'pg_c_utf8'")
            if cursor.fetchone():
                lowered = f"lower({STRIP} COLLATE pg_c_utf8)"
            else:
                lowered = f"translate(lower({STRIP}), '{UPPER}', '{LOWER}')"
    return (
        "CREATE OR REPLACE FUNCTION nexus_search_fold(text) RETURNS text "
        f"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT {lowered} $$"
    )


def forward(apps, schema_editor) -> None:
    schema_editor.execute(FORWARD[0], params=None)
    schema_editor.execute(fold_function(schema_editor.connection), params=None)
    for statement in FORWARD[1:]:
        schema_editor.execute(statement, params=None)


def backward(apps, schema_editor) -> None:
    for statement in reversed(REVERSE):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0001_initial"),
        ("core", "0002_postgres_extensions"),
        ("datasets", "0001_initial"),
        ("entities", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
