"""The catalogues in locale/: Ukrainian complete, compiled files in step, and nothing left unextracted.

The extraction check runs Django's ``makemessages`` exactly as ``make messages`` does (same ignore patterns,
read from the Makefile) over a copy of the sources, so the real catalogues are never touched.
"""

from __future__ import annotations

import os
import re
import shutil
from fnmatch import fnmatch
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import translation
from pytest_django.fixtures import Settings as SettingsWrapper

BASE_DIR = Path(settings.BASE_DIR)
LOCALE_DIR = BASE_DIR / "locale"
LANGUAGES = [code for code, _name in settings.LANGUAGES]
# Python's %(name)s / %(count)d placeholders, and HTML tags: a translation keeps exactly the same ones.
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]")
# Only real HTML element names: "<key>" in a plain-text message is prose and is translated like prose.
TAG = re.compile(r"</?(?:a|abbr|b|br|code|em|i|kbd|li|ol|p|span|strong|ul)\b[^>]*>")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
TRANSLATABLE_EXTENSIONS = {".py", ".html", ".txt"}


def catalogue(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE_DIR / language / "LC_MESSAGES" / "django.po"))


def key(entry: polib.POEntry | polib.MOEntry) -> tuple[str | None, str]:
    return entry.msgctxt, entry.msgid


def translations(entries: list[polib.POEntry] | polib.MOFile) -> dict[tuple[str | None, str], object]:
    return {
        key(entry): (entry.msgstr_plural if entry.msgid_plural else entry.msgstr)
        for entry in entries
        if entry.msgid  # the header
    }


def makefile_ignore_patterns() -> list[str]:
    """The --ignore patterns of the Makefile's makemessages call: the test extracts exactly what `make` does."""
    makefile = (BASE_DIR / "Makefile").read_text(encoding="utf-8")
    command = next(line for line in makefile.splitlines() if "makemessages" in line and "manage.py" in line)
    return re.findall(r"--ignore '([^']+)'", command)


def test_every_language_has_a_catalogue() -> None:
    assert LANGUAGES == ["uk", "en"]
    for language in LANGUAGES:
        po = catalogue(language)
        assert po.metadata["Language"] == language
        assert not po.metadata_is_fuzzy, f"{language}: a fuzzy header makes msgfmt drop the plural rules"
        assert len(po) > 50


def test_ukrainian_catalogue_is_complete() -> None:
    po = catalogue("uk")
    untranslated = [entry.msgid for entry in po.untranslated_entries()]
    fuzzy = [entry.msgid for entry in po.fuzzy_entries()]
    obsolete = [entry.msgid for entry in po.obsolete_entries()]
    assert untranslated == []
    assert fuzzy == []
    assert obsolete == []


def test_ukrainian_translations_keep_placeholders_and_markup() -> None:
    broken = []
    for entry in catalogue("uk").translated_entries():
        originals = [entry.msgid, entry.msgid_plural] if entry.msgid_plural else [entry.msgid]
        results = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for original in originals:
            for result in results:
                same_placeholders = sorted(PLACEHOLDER.findall(original)) == sorted(PLACEHOLDER.findall(result))
                if entry.msgid_plural and "%(count)" not in original:
                    same_placeholders = True
                if not same_placeholders or sorted(TAG.findall(original)) != sorted(TAG.findall(result)):
                    broken.append(entry.msgid)
    assert broken == []


def test_ukrainian_is_really_ukrainian() -> None:
    """Every translation with words in it has Cyrillic letters: a copied English msgid is not a translation."""
    untranslated_copies = [
        entry.msgid
        for entry in catalogue("uk").translated_entries()
        if re.search(r"[A-Za-z]{3,}", PLACEHOLDER.sub("", TAG.sub("", entry.msgid)))
        and not all(
            CYRILLIC.search(text) for text in (entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr])
        )
    ]
    brand_names = {"Nexus Core"}
    assert [msgid for msgid in untranslated_copies if msgid not in brand_names] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogue_is_in_step_with_the_source(language: str) -> None:
    po = catalogue(language)
    compiled_now = polib.mofile(po.to_binary())
    committed = polib.mofile(str(LOCALE_DIR / language / "LC_MESSAGES" / "django.mo"))
    assert translations(committed) == translations(compiled_now), "run `make messages` to recompile"


def test_django_uses_the_ukrainian_catalogue() -> None:
    with translation.override("uk"):
        assert translation.gettext("Investigator") == "Слідчий"
        assert translation.gettext("Sign out") == "Вийти"
    with translation.override("en"):
        assert translation.gettext("Investigator") == "Investigator"


def copy_translatable_sources(destination: Path, ignore_patterns: list[str]) -> None:
    """Copy what makemessages reads, skipping what it skips: hidden and ignored folders, the catalogues."""

    def ignored(relative: str) -> bool:
        return any(fnmatch(relative, pattern) for pattern in ignore_patterns)

    for directory, subdirectories, files in os.walk(BASE_DIR):
        relative_directory = Path(directory).relative_to(BASE_DIR)
        subdirectories[:] = [
            name
            for name in subdirectories
            if not name.startswith(".")
            and (relative_directory / name).as_posix() != "locale"
            and not ignored(f"{(relative_directory / name).as_posix()}/")
        ]
        for name in files:
            relative = relative_directory / name
            if Path(name).suffix in TRANSLATABLE_EXTENSIONS and not ignored(relative.as_posix()):
                (destination / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(BASE_DIR / relative, destination / relative)


def test_make_messages_would_add_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper
) -> None:
    ignore_patterns = makefile_ignore_patterns()
    assert "tests/*" in ignore_patterns
    copy_translatable_sources(tmp_path, ignore_patterns)
    shutil.copytree(LOCALE_DIR, tmp_path / "locale")
    monkeypatch.chdir(tmp_path)
    settings.LOCALE_PATHS = [tmp_path / "locale"]

    call_command("makemessages", locale=LANGUAGES, ignore_patterns=ignore_patterns, no_obsolete=True, verbosity=0)

    for language in LANGUAGES:
        extracted = {
            key(entry) for entry in polib.pofile(str(tmp_path / "locale" / language / "LC_MESSAGES" / "django.po"))
        }
        catalogued = {key(entry) for entry in catalogue(language)}
        assert sorted(extracted - catalogued, key=str) == [], f"{language}: new strings; run `make messages`"
        assert sorted(catalogued - extracted, key=str) == [], f"{language}: strings no longer used; run `make messages`"
