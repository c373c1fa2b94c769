"""Spelling transforms that turn one Ukrainian name into the variants found in real files.

Latin variants use the national standard in ``apps.core.translit``.
"""

from __future__ import annotations

import re
from typing import Protocol

# Ukrainian letters a Russian-speaking clerk writes differently; whole-word forms of given names are in names.py.
_RUSSIAN_LETTERS = {"і": "и", "ї": "и", "є": "е", "ґ": "г", "'": "", "’": "", "ʼ": ""}


def russify(text: str) -> str:
    """Russian spelling of a Ukrainian word by letter rules («Олійник» → «Олейник», «Схід» → «Схид»)."""
    out: list[str] = []
    for index, char in enumerate(text):
        lower = char.lower()
        nxt = text[index + 1].lower() if index + 1 < len(text) else ""
        previous = text[index - 1].lower() if index > 0 else ""
        if lower == "і" and nxt == "й" and index > 0:
            replacement = "е"
        elif lower == "ь" and previous in "сц" and nxt == "к":
            replacement = ""
        else:
            replacement = _RUSSIAN_LETTERS.get(lower, lower)
        out.append(replacement.upper() if char != lower else replacement)
    return "".join(out)


_CYRILLIC_DIGRAPHS = (
    ("shch", "щ"), ("sch", "ш"), ("sh", "ш"), ("ch", "ч"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ya", "я"),
    ("yu", "ю"), ("ye", "є"), ("ng", "нг"), ("ph", "ф"), ("th", "т"), ("ck", "к"), ("qu", "кв"), ("oo", "у"),
    ("ee", "і"), ("ou", "у"),
)  # fmt: skip
_CYRILLIC_LETTERS = {
    "a": "а", "b": "б", "c": "к", "d": "д", "e": "е", "f": "ф", "g": "г", "h": "х", "i": "і", "j": "дж",
    "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "q": "к", "r": "р", "s": "с", "t": "т",
    "u": "у", "v": "в", "w": "в", "x": "кс", "y": "й", "z": "з",
    "ä": "е", "ö": "е", "ü": "ю", "ß": "сс", "ç": "ч", "ş": "ш", "ğ": "г", "ı": "и", "ł": "л", "ś": "сь",
    "ż": "ж", "ź": "зь", "ó": "о", "ą": "он", "ę": "ен", "ń": "нь", "ć": "ць", "é": "е", "è": "е", "á": "а",
    "í": "і", "ú": "у", "ñ": "нь", "ã": "ан", "õ": "он", "č": "ч", "š": "ш", "ž": "ж", "ř": "рж", "ý": "і",
    "ě": "е", "ů": "у", "ő": "е", "ű": "ю", "ă": "а", "â": "и", "î": "и", "ț": "ц", "ș": "ш",
}  # fmt: skip


_CYRILLIC_TABLE = str.maketrans(_CYRILLIC_LETTERS)


def cyrillize(text: str) -> str:
    """A rough Cyrillic transcription of a Latin-script name, as Ukrainian clerks type foreign partners."""
    out = []
    for word in re.split(r"([ -])", text):
        lower = word.lower()
        for latin, cyrillic in _CYRILLIC_DIGRAPHS:
            if latin in lower:
                lower = lower.replace(latin, cyrillic)
        result = lower.translate(_CYRILLIC_TABLE)
        if len(word) > 1 and word.isupper():
            result = result.upper()
        elif word[:1].isupper():
            result = result[:1].upper() + result[1:]
        out.append(result)
    return "".join(out)


# Neighbouring keys on the Ukrainian ЙЦУКЕН layout: the typos a hurried clerk makes.
_KEYBOARD_ROWS = ("йцукенгшщзхї", "фівапролджє", "ячсмитьбю")
_NEIGHBOURS: dict[str, str] = {}
for _row in _KEYBOARD_ROWS:
    for _i, _char in enumerate(_row):
        _NEIGHBOURS[_char] = _row[max(0, _i - 1) : _i] + _row[_i + 1 : _i + 2]
for _row in ("qwertyuiop", "asdfghjkl", "zxcvbnm"):
    for _i, _char in enumerate(_row):
        _NEIGHBOURS[_char] = _row[max(0, _i - 1) : _i] + _row[_i + 1 : _i + 2]


class Draw(Protocol):
    def integer(self, low: int, high: int) -> int: ...


def typo(text: str, draw: Draw) -> str:
    """One realistic keying error inside ``text``: a dropped, doubled, swapped or neighbouring letter."""
    letters = [i for i, char in enumerate(text) if char.isalpha()]
    if len(letters) < 4:
        return text
    # Keep the first letter: clerks rarely get it wrong, and it keeps the variant sortable next to the original.
    position = letters[draw.integer(1, len(letters) - 1)]
    char = text[position]
    kind = draw.integer(0, 3)
    if kind == 0:
        return text[:position] + text[position + 1 :]
    if kind == 1:
        return text[:position] + char + text[position:]
    if kind == 2 and position + 1 < len(text) and text[position + 1].isalpha():
        return text[:position] + text[position + 1] + char + text[position + 2 :]
    options = _NEIGHBOURS.get(char.lower(), "")
    if not options:
        return text[:position] + text[position + 1 :]
    replacement = options[draw.integer(0, len(options) - 1)]
    return text[:position] + (replacement.upper() if char.isupper() else replacement) + text[position + 1 :]
