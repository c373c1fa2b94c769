"""What a typed query means to the engines: words, codes, stems and transliterations.

PostgreSQL has no Ukrainian stemmer, and OpenSearch none without a plugin, so Cyrillic words are reduced here, on
the query side, to a stem that is matched as a prefix ("митниці" → ``митниц:*`` finds «митниця», «митницею»);
the documents are indexed unstemmed (``simple`` after ``unaccent``), so nothing depends on a dictionary the
server may not have. English words go through the server's English stemmer.

Codes lose or gain leading zeros in spreadsheets: an ЄДРПОУ «00123456» arrives as 123456, a goods code «0303…»
as 303…; ``code_variants`` gives every spelling a code may be stored under.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from apps.core.translit import transliterate_uk
from apps.entities.normalize import LEGAL_FORM_WORDS, fold

EDRPOU_LENGTH = 8
GOODS_CODE_LENGTH = 10
# A stem shorter than this matches too much as a prefix: the word is kept whole.
MIN_STEM = 3
MIN_GUESSED_STEM = 5
_WORD = re.compile(r"[^\W_]+(?:['’ʼ][^\W_]+)*", re.UNICODE)
_CODE_CHUNK = re.compile(r"\d[\d\s/-]*\d|\d")
_CYRILLIC = re.compile(r"[а-яіїєґёыэъ]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_APOSTROPHE = re.compile(r"['’ʼ`]")

# Inflection endings of Ukrainian and Russian nouns and adjectives, longest first; removing one leaves a stem
# that every form of the word starts with.
_ENDINGS = tuple(
    sorted(
        {
            # Ukrainian
            "ями", "ами", "ові", "еві", "єві", "ого", "ому", "ими", "іми", "ій", "ий", "ої", "ою", "ею", "єю",
            "ах", "ях", "ів", "їв", "ям", "ам", "ом", "ем", "им", "ім", "их", "іх", "а", "я", "і", "ї", "и", "у",
            "ю", "о", "е", "є", "ь", "й",
            # Russian
            "ыми", "ему", "ией", "ой", "ей", "ый", "ая", "яя", "ое", "ее", "ов", "ев", "ых", "ы",
        },
        key=len,
        reverse=True,
    )
)  # fmt: skip

# Words of questions and phrases that say nothing of what is searched for («хто ввозив … для …», "who imported … for
# …"): beside other words they are left out of the full-text query, where as prefixes they match most records.
QUESTION_WORDS = frozenset(
    {
        # Ukrainian
        "хто", "що", "де", "коли", "куди", "звідки", "чому", "як", "який", "яка", "яке", "які", "якого", "яких",
        "для", "від", "через", "про", "при", "без", "під", "над", "між", "після", "перед", "або", "але", "чи",
        "це", "цей", "ця", "ці", "той", "та", "так", "усі", "всі", "також",
        # Russian (those not spelled as in Ukrainian)
        "кто", "что", "где", "когда", "куда", "откуда", "почему", "как", "какой", "какая", "какое", "какие", "от",
        "под", "между", "после", "или", "но", "ли", "это", "этот", "эта", "эти", "тот", "все", "также",
        # English
        "who", "what", "where", "when", "why", "how", "which", "the", "and", "for", "from", "with", "that", "this",
        "these", "those", "are", "was", "were", "has", "have", "had", "all", "any", "into", "about",
    }
)  # fmt: skip

# Latin back to Ukrainian Cyrillic (the reverse of the КМУ 2010 table), longest spellings first, so a name typed
# in Latin ("Zoria") also finds its Cyrillic spelling («Зоря») in record text.
_TO_CYRILLIC = (
    ("shch", "щ"), ("zgh", "зг"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"), ("ya", "я"),
    ("yu", "ю"), ("ye", "є"), ("yi", "ї"), ("ia", "я"), ("iu", "ю"), ("ie", "є"), ("a", "а"), ("b", "б"),
    ("v", "в"), ("h", "г"), ("g", "г"), ("d", "д"), ("e", "е"), ("z", "з"), ("y", "и"), ("i", "і"), ("k", "к"),
    ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"),
    ("f", "ф"), ("c", "к"), ("w", "в"), ("x", "кс"), ("q", "к"), ("j", "й"),
)  # fmt: skip


def normalize_query(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def words_of(text: str) -> list[str]:
    """Lower-case words; apostrophes inside a word are dropped, as the index drops them (м'ясо → мясо)."""
    return [_APOSTROPHE.sub("", word).lower() for word in _WORD.findall(normalize_query(text))]


def stem(word: str) -> str:
    """A Cyrillic word without its inflection ending (when a stem of ``MIN_STEM`` letters remains)."""
    if not _CYRILLIC.search(word):
        return word
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[: -len(ending)]
    return word


def latin_to_cyrillic(word: str) -> str:
    out = []
    index = 0
    lower = word.lower()
    while index < len(lower):
        for latin, cyrillic in _TO_CYRILLIC:
            if lower.startswith(latin, index):
                out.append(cyrillic)
                index += len(latin)
                break
        else:
            out.append(lower[index])
            index += 1
    return "".join(out)


def code_variants(code: str) -> list[str]:
    """Every spelling a code may be stored under: as typed, without and with its leading zeros."""
    digits = re.sub(r"[\s-]", "", code)
    variants = [digits]
    stripped = digits.lstrip("0") or "0"
    variants.append(stripped)
    if digits.isdigit():
        for length in (EDRPOU_LENGTH, GOODS_CODE_LENGTH):
            if len(stripped) < length:
                variants.append(stripped.zfill(length))
        # A goods code typed without its leading zero: 303 → 0303 (chapter 03, heading 0303).
        if len(stripped) % 2:
            variants.append("0" + stripped)
    return list(dict.fromkeys(variant for variant in variants if variant))


def is_code(word: str) -> bool:
    """A code-like word: digits, or digits with letters (a declaration number, an IBAN)."""
    return bool(_DIGIT.search(word)) and (word.isdigit() or sum(char.isdigit() for char in word) >= 3)


@dataclass(frozen=True)
class Term:
    """One word of the query and the alternatives any of which satisfies it."""

    word: str
    # Matched as prefixes (a stem, a chapter of goods codes).
    prefixes: tuple[str, ...] = ()
    # Matched whole.
    exact: tuple[str, ...] = ()
    is_code: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    terms: tuple[Term, ...] = field(default_factory=tuple)

    @property
    def codes(self) -> list[str]:
        return [variant for term in self.terms if term.is_code for variant in term.exact]

    @property
    def is_codes_only(self) -> bool:
        return bool(self.terms) and all(term.is_code for term in self.terms)

    @property
    def words(self) -> list[str]:
        return [term.word for term in self.terms if not term.is_code]


def _code_chunks(text: str) -> tuple[list[str], str]:
    """Codes written with spaces or dashes inside ("0303 10 11 00", "123-456") taken out whole, and the rest."""
    chunks = []
    rest = text
    for match in _CODE_CHUNK.finditer(text):
        chunk = match.group()
        if len(re.sub(r"\D", "", chunk)) >= 4 and not re.search(r"/", chunk):
            chunks.append(re.sub(r"[\s-]", "", chunk))
            rest = rest.replace(chunk, " ", 1)
    return chunks, rest


def parse_query(original: str) -> ParsedQuery:
    text = normalize_query(original)
    terms: list[Term] = []
    # A document number ("UA110110/2024/000456") is one token to the index: kept whole.
    numbers = [chunk for chunk in text.split() if "/" in chunk and _DIGIT.search(chunk)]
    for number in numbers:
        terms.append(Term(word=number, exact=(number.lower(),), is_code=True))
        text = text.replace(number, " ")
    codes, rest = _code_chunks(text)
    for code in codes:
        variants = code_variants(code)
        # A short code is also a chapter or heading of goods codes (0303 → 0303101100).
        headings = tuple(v for v in variants if len(v) < GOODS_CODE_LENGTH and len(v) % 2 == 0 and len(v) <= 6)
        terms.append(Term(word=code, exact=tuple(variants), prefixes=headings, is_code=True))
    for word in words_of(rest):
        if is_code(word):
            terms.append(Term(word=word, exact=(word,), is_code=True))
            continue
        prefixes = [stem(word)]
        exact = []
        if _CYRILLIC.search(word):
            prefixes.append(transliterate_uk(word).lower())
        elif _LATIN.search(word) and len(word) >= MIN_STEM:
            # The Cyrillic spelling a Latin word may have: a short guessed stem («конт» from "conti") would match
            # every word that starts so (контракт, контейнер), so it is matched whole.
            cyrillic = latin_to_cyrillic(word)
            guessed = stem(cyrillic)
            if len(guessed) >= MIN_GUESSED_STEM:
                prefixes.append(guessed)
            else:
                exact.append(cyrillic)
        terms.append(Term(word=word, prefixes=tuple(dict.fromkeys(p for p in prefixes if p)), exact=tuple(exact)))
    return ParsedQuery(text=normalize_query(original), terms=tuple(terms))


def _lexeme(value: str) -> str:
    """A value safe inside ``to_tsquery``: quoted, with quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _telling(word: str) -> bool:
    return len(word) >= MIN_STEM and word not in QUESTION_WORDS and fold(word) not in LEGAL_FORM_WORDS


def tsquery(parsed: ParsedQuery, *, any_term: bool = False) -> str:
    """The ``to_tsquery`` text: each term's alternatives OR-ed, terms AND-ed (OR-ed when ``any_term``).

    Beside other words, a word shorter than ``MIN_STEM`` («Sp. z o.o.», «ve», «&»), a ``QUESTION_WORDS`` word or a
    word of a legal form («Ltd», «Şti», «GmbH», «Лтд») is left out: it narrows nothing the other words do not, and
    GIN reads every record it is in (at 5,000,000 declarations «Ltd» alone made a name take half a second).

    Latin words are matched whole: the configuration stems them on both sides ("exports" finds "export"), and a
    whole word lets GIN skip through the rarest word's records, where a prefix makes it collect every record of
    every word that starts so. Cyrillic stems and goods headings stay prefixes: that is how they match."""
    terms = parsed.terms
    kept = [term.is_code or _telling(term.word) for term in terms]
    if any(kept):
        terms = tuple(term for term, keep in zip(terms, kept, strict=True) if keep)
    groups = []
    for term in terms:
        alternatives = [_lexeme(value) for value in term.exact]
        alternatives += [
            _lexeme(value) if not term.is_code and not _CYRILLIC.search(value) else f"{_lexeme(value)}:*"
            for value in term.prefixes
        ]
        if alternatives:
            groups.append("(" + " | ".join(alternatives) + ")")
    return (" | " if any_term else " & ").join(groups)
