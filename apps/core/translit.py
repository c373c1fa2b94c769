"""Ukrainian Cyrillic to Latin by the national standard.

The official table of the Cabinet of Ministers resolution No. 55 of 27.01.2010 («Про впорядкування
транслітерації українського алфавіту латиницею»): Є, Ї, Й, Ю, Я are written Ye, Yi, Y, Yu, Ya at the start of a
word and ie, i, i, iu, ia elsewhere; «зг» is zgh; the soft sign and the apostrophe are dropped.
«Зоря-Схід» → "Zoria-Skhid", «Згурський» → "Zghurskyi". Used for slugs, synthetic name variants and matching
names across scripts.
"""

from __future__ import annotations

_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie", "ж": "zh", "з": "z",
    "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ь": "", "ю": "iu", "я": "ia",
}  # fmt: skip
_LATIN_WORD_START = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
_APOSTROPHES = "'’ʼ`"


def _is_word_char(char: str) -> bool:
    return char.isalpha() or char in _APOSTROPHES


def transliterate_uk(text: str) -> str:
    """Ukrainian Cyrillic to Latin by the national standard (КМУ 2010); other characters pass through."""
    out: list[str] = []
    length = len(text)
    for index, char in enumerate(text):
        lower = char.lower()
        if char in _APOSTROPHES:
            continue
        if lower not in _LATIN:
            out.append(char)
            continue
        word_start = index == 0 or not _is_word_char(text[index - 1])
        if lower == "г" and index > 0 and text[index - 1].lower() == "з":
            latin = "gh"
        elif word_start and lower in _LATIN_WORD_START:
            latin = _LATIN_WORD_START[lower]
        else:
            latin = _LATIN[lower]
        if char != lower and latin:
            neighbour = text[index + 1] if index + 1 < length else ""
            previous = text[index - 1] if index > 0 else ""
            shouting = (neighbour.isalpha() and neighbour.isupper()) or (
                not (neighbour.isalpha()) and previous.isalpha() and previous.isupper()
            )
            latin = latin.upper() if shouting else latin.capitalize()
        out.append(latin)
    return "".join(out)
