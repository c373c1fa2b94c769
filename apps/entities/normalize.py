"""Names reduced to the keys entity resolution compares.

The same company is written «ТОВ "Зоря-Схід"», «ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ "ЗОРЯ-СХІД"», «ООО
«Зоря-Схид»», "Zoria-Skhid LLC" and "PP Zoria-Skhid"; a foreign supplier "Ningbo Hengda Trading Co., Ltd." and
«Нінгбо Хенгда Традінг Ко., Лтд.». Every spelling is brought to one Latin *skeleton*:

1. Cyrillic (Ukrainian and Russian letters) is transliterated with the national table (КМУ 2010, the one
   ``apps.core.translit`` implements), so Cyrillic and official Latin spellings meet;
2. letters that transliterations and transcriptions render differently are folded: г/ґ/х and g/h/kh are one
   sound class, и/і/ї/й/ы and y/i one, є/е/э and ye/e one, ц and ts/c/tz, щ/ш and shch/sch/sh, doubled letters
   single, diacritics dropped (ł → l, ß → ss);
3. legal forms are removed at either end of the name, in Ukrainian, Russian, English, German, Polish, Italian,
   Spanish, Turkish, Czech and other spellings, full or abbreviated, with or without dots;
4. quotes and punctuation go; for companies the words are sorted, so "name first" spellings ("Зоря-Схід, ТОВ")
   meet the usual ones.

People are keyed by their name parts: Russian forms of Ukrainian given names and patronymics (Петр/Петро,
Николаевич/Миколайович) are mapped to one form (``apps.entities.given_names``), initials are kept as initials,
and the surname is told apart from the given name and patronymic, so swapped parts and "Іваненко П.М." compare
with the full name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein

from apps.entities.given_names import FEMALE_NAMES, MALE_NAMES

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie", "ж": "zh", "з": "z",
    "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ь": "", "ю": "iu", "я": "ia", "ё": "e", "ъ": "", "ы": "y", "э": "e",
}  # fmt: skip
_CYRILLIC_TABLE = str.maketrans(_CYRILLIC)
_LATIN_SPECIAL = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ı": "i", "æ": "ae", "œ": "oe", "ß": "ss", "þ": "th"})
_APOSTROPHES = re.compile(r"['’ʼ`´]")
# Applied in order to the Latin form: the longer spellings first.
_FOLDS = (
    ("shch", "sh"), ("sch", "sh"), ("tch", "ch"), ("dzh", "j"), ("ck", "k"), ("ph", "f"), ("th", "t"), ("qu", "kv"),
    ("tz", "ts"), ("ye", "ie"), ("yu", "iu"), ("ya", "ia"), ("yi", "i"), ("oo", "u"), ("ou", "u"), ("ee", "i"),
    ("ie", "e"), ("y", "i"), ("g", "h"), ("kh", "h"), ("w", "v"), ("x", "ks"), ("q", "k"), ("c", "k"),
)  # fmt: skip
_REPEATS = re.compile(r"([^\W\d_])\1+")
_DOTTED_ABBREVIATION = re.compile(r"(?<=\w)\.(?=\w)")
_NON_WORD = re.compile(r"[^\w]+")

# Legal forms as they are written; each is reduced to its skeleton below, so every spelling of one form (and its
# transliteration or transcription) is recognised.
LEGAL_FORMS = (
    # Ukrainian
    "Товариство з обмеженою відповідальністю", "ТОВ", "ТзОВ", "Приватне підприємство", "ПП",
    "Приватне акціонерне товариство", "ПрАТ", "Публічне акціонерне товариство", "ПАТ", "Акціонерне товариство",
    "АТ", "Дочірнє підприємство", "ДП", "Державне підприємство", "Товариство з додатковою відповідальністю",
    "ТДВ", "Фізична особа-підприємець", "Фізична особа підприємець", "ФОП", "СПД", "Комунальне підприємство",
    "КП", "Фермерське господарство", "ФГ", "Повне товариство", "Командитне товариство", "Виробниче підприємство",
    "Спільне підприємство", "СП", "Закрите акціонерне товариство", "ЗАТ", "Відкрите акціонерне товариство", "ВАТ",
    # Russian
    "Общество с ограниченной ответственностью", "ООО", "Частное предприятие", "ЧП",
    "Частное акционерное общество", "ЧАО", "Публичное акционерное общество", "ПАО", "Акционерное общество", "АО",
    "Закрытое акционерное общество", "ЗАО", "Открытое акционерное общество", "ОАО", "Дочернее предприятие",
    "Общество с дополнительной ответственностью", "ОДО", "Физическое лицо-предприниматель", "ФЛП",
    # Ukrainian forms in English
    "Private Enterprise", "PE", "Private Joint Stock Company", "PJSC", "Public Joint Stock Company",
    "Joint Stock Company", "JSC", "Subsidiary Enterprise", "State Enterprise", "SE", "Additional Liability Company",
    "ALC", "Individual Entrepreneur", "Sole Proprietor",
    # English-speaking countries and Asia
    "Limited Liability Company", "LLC", "L.L.C.", "Limited", "Ltd", "Company Limited", "Co., Ltd.", "Co Ltd",
    "Company", "Co", "Incorporated", "Inc", "Corporation", "Corp", "PLC", "LLP", "LP", "Private Limited",
    "Pvt. Ltd.", "Pvt Ltd", "Pty Ltd", "Proprietary Limited", "Sdn. Bhd.", "Sdn Bhd", "Bhd", "PT", "Tbk",
    "Kabushiki Kaisha", "K.K.", "Co., Ltd", "Group Co., Ltd.", "Holdings Limited",
    # German, Dutch, Nordic
    "GmbH", "Gesellschaft mit beschränkter Haftung", "GmbH & Co. KG", "GmbH und Co. KG", "KG", "AG",
    "Aktiengesellschaft", "OHG", "e.K.", "UG", "B.V.", "N.V.", "BVBA", "AB", "AS", "ASA", "A/S", "ApS", "Oy",
    "Oyj",
    # Polish, Czech, Slovak, Hungarian, Baltic, Balkan
    "Sp. z o.o.", "Sp.z o.o.", "Spółka z ograniczoną odpowiedzialnością", "Spółka akcyjna", "Sp.k.", "Sp. j.", "s.r.o.",
    "spol. s r.o.", "a.s.", "Kft.", "Zrt.", "Nyrt.", "Bt.", "UAB", "SIA", "OÜ", "AD", "EOOD", "OOD", "d.o.o.",
    "d.d.", "SRL", "S.R.L.", "S.r.l.", "S.A.", "SA",
    # Romance languages
    "S.p.A.", "Società per azioni", "Società a responsabilità limitata", "S.L.", "Sociedad Limitada",
    "Sociedad Anónima", "S.A. de C.V.", "Ltda", "SAS", "SARL", "SNC", "Lda",
    # Turkish
    "A.Ş.", "Anonim Şirketi", "Ltd. Şti.", "Limited Şirketi", "San. ve Tic.", "Sanayi ve Ticaret",
    "San. Tic.",
)  # fmt: skip
# Words that say nothing about which company it is.
STOP_WORDS = ("and", "und", "et", "i", "ta", "та", "и", "&", "the")


def fold(text: str) -> str:
    """The Latin skeleton of any text, lower case, words kept apart by single spaces."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _APOSTROPHES.sub("", text).translate(_CYRILLIC_TABLE).translate(_LATIN_SPECIAL)
    text = "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))
    text = _DOTTED_ABBREVIATION.sub("", text)
    words = []
    for word in _NON_WORD.sub(" ", text).split():
        for before, after in _FOLDS:
            word = word.replace(before, after)
        words.append(_REPEATS.sub(r"\1", word))
    return " ".join(words)


def _build_legal_forms() -> tuple[tuple[str, ...], ...]:
    # Each form as written, and with its dots lost ("Sp. z o.o." is also typed "Sp z o o", "S.A." "S A").
    forms = {tuple(fold(spelling).split()) for form in LEGAL_FORMS for spelling in (form, form.replace(".", " "))}
    forms.discard(())
    return tuple(sorted(forms, key=len, reverse=True))


_LEGAL_FORM_WORDS = _build_legal_forms()
# Every word of a legal form, in skeleton ("ltd", "sti", "hmbh"): full-text search leaves them out beside other words.
LEGAL_FORM_WORDS = frozenset(word for form in _LEGAL_FORM_WORDS for word in form)
# The forms by their length in words, longest first: a name's ends are looked up, not compared with every form.
_LEGAL_FORMS_BY_SIZE = tuple(
    (size, frozenset(form for form in _LEGAL_FORM_WORDS if len(form) == size))
    for size in sorted({len(form) for form in _LEGAL_FORM_WORDS}, reverse=True)
)
_STOP_WORDS = frozenset(fold(word) for word in STOP_WORDS if fold(word))


def strip_legal_forms(words: list[str]) -> list[str]:
    """The words without legal forms at either end (repeatedly: "GmbH & Co. KG"); a name is never emptied."""
    changed = True
    while changed and words:
        changed = False
        for size, forms in _LEGAL_FORMS_BY_SIZE:
            if size >= len(words):
                continue
            if tuple(words[:size]) in forms:
                words = words[size:]
                changed = True
                break
            if tuple(words[-size:]) in forms:
                words = words[:-size]
                changed = True
                break
    return words


def name_words(name: str) -> list[str]:
    """A company name's words in their skeletons, in their order, without stop words and legal forms."""
    return strip_legal_forms([word for word in fold(name).split() if word not in _STOP_WORDS])


@lru_cache(maxsize=200_000)
def company_key(name: str) -> str:
    """The key two spellings of one company share: «ТОВ "Зоря-Схід"» and "Zoria-Skhid LLC" → "shid zoria"."""
    return " ".join(sorted(name_words(name)))


def legal_form_of(name: str) -> str:
    """The legal form the name carries (its skeleton), or ""; two different forms argue against a match."""
    words = fold(name).split()
    for size, forms in _LEGAL_FORMS_BY_SIZE:
        if size < len(words):
            for end in (tuple(words[:size]), tuple(words[-size:])):
                if end in forms:
                    return " ".join(end)
    return ""


def _aligned_words(a_key: str, b_key: str) -> list[tuple[str, str]]:
    """The words of two keys paired best first, so a keying error in a first letter (which moves the word in the
    sorted key) still pairs the word with its original."""
    left, right = a_key.split(), b_key.split()
    scored = sorted(((fuzz.ratio(a, b), i, j) for i, a in enumerate(left) for j, b in enumerate(right)), reverse=True)
    used_left: set[int] = set()
    used_right: set[int] = set()
    pairs = []
    for _, i, j in scored:
        if i not in used_left and j not in used_right:
            used_left.add(i)
            used_right.add(j)
            pairs.append((left[i], right[j]))
    pairs.extend((left[i], "") for i in range(len(left)) if i not in used_left)
    pairs.extend(("", right[j]) for j in range(len(right)) if j not in used_right)
    return pairs


def name_similarity(a_key: str, b_key: str) -> float:
    """0..1: how alike two keys are, forgiving keying errors, word order and a missing word."""
    if not a_key or not b_key:
        return 0.0
    if a_key == b_key:
        return 1.0
    pairs = _aligned_words(a_key, b_key)
    aligned = fuzz.ratio(" ".join(a for a, _ in pairs), " ".join(b for _, b in pairs))
    return max(fuzz.ratio(a_key, b_key), fuzz.token_sort_ratio(a_key, b_key), aligned) / 100.0


def spelling_agreement(a_key: str, b_key: str) -> float:
    """1 when two keys differ by at most one keying error (a letter dropped, doubled, swapped or mistyped), 0 for
    two, -1 for more: different companies' names usually differ by a whole word or syllable."""
    pairs = _aligned_words(a_key, b_key)
    distance = sum(DamerauLevenshtein.distance(a, b) for a, b in pairs)
    return 1.0 if distance <= 1 else 0.0 if distance == 2 else -1.0


def _build_name_forms() -> tuple[dict[str, str], dict[str, str]]:
    """Skeleton of every Ukrainian, Russian and Latin form of a given name or patronymic → the Ukrainian one's."""
    given: dict[str, str] = {}
    patronymics: dict[str, str] = {}
    for uk, ru, uk_male, uk_female, ru_male, ru_female in MALE_NAMES:
        given[fold(uk)] = given[fold(ru)] = fold(uk)
        patronymics[fold(uk_male)] = patronymics[fold(ru_male)] = fold(uk_male)
        patronymics[fold(uk_female)] = patronymics[fold(ru_female)] = fold(uk_female)
    for uk, ru in FEMALE_NAMES:
        given[fold(uk)] = given[fold(ru)] = fold(uk)
    return given, patronymics


GIVEN_NAME_FORMS, PATRONYMIC_FORMS = _build_name_forms()
_PATRONYMIC_ENDINGS = tuple(fold(ending) for ending in ("ович", "евич", "овна", "евна", "івна"))


@dataclass(frozen=True)
class PersonName:
    """A person's name in parts: surname, given name and patronymic skeletons, or their initials."""

    surname: str
    given: str
    patronymic: str

    @property
    def key(self) -> str:
        return " ".join(part for part in (self.surname, self.given, self.patronymic) if part)

    @property
    def given_initial(self) -> str:
        return self.given[:1]

    @property
    def patronymic_initial(self) -> str:
        return self.patronymic[:1]


def _given(word: str) -> str | None:
    return GIVEN_NAME_FORMS.get(word)


def _patronymic(word: str) -> str | None:
    known = PATRONYMIC_FORMS.get(word)
    if known is not None:
        return known
    if len(word) > 5 and word.endswith(_PATRONYMIC_ENDINGS):
        return word
    return None


@lru_cache(maxsize=200_000)
@lru_cache(maxsize=200_000)
def person_name(name: str) -> PersonName:
    """Parts of a person's name in any order, script or case: "Іваненко П.М.", "Petro Ivanenko", "ИВАНЕНКО ПЕТР"."""
    raw = re.sub(r"(?<=\w)\.(?=\w)", ". ", unicodedata.normalize("NFKC", name))
    words = fold(raw).split()
    surname_words: list[str] = []
    given = patronymic = ""
    initials: list[str] = []
    for word in words:
        if len(word) == 1:
            initials.append(word)
        elif not given and (canonical := _given(word)) is not None:
            given = canonical
        elif not patronymic and (canonical := _patronymic(word)) is not None:
            patronymic = canonical
        else:
            surname_words.append(word)
    if not given and len(surname_words) >= 2:
        # An unknown given name: the usual order is surname first ("Прізвище Ім'я"), the Latin one given first.
        given = surname_words.pop(1)
    if initials:
        given = given or initials[0]
        if len(initials) > 1:
            patronymic = patronymic or initials[1]
    return PersonName(surname=" ".join(surname_words), given=given, patronymic=patronymic)


def person_key(name: str) -> str:
    """Surname, given name, patronymic skeletons in that order, whatever order the name was written in."""
    return person_name(name).key


def _part_agreement(left: str, right: str) -> float:
    """1 for the same part, 0.8 when one side is only the other's initial, 0 when either is missing."""
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    if len(left) == 1 or len(right) == 1:
        return 0.8 if left[0] == right[0] else -1.0
    return fuzz.ratio(left, right) / 100.0 if fuzz.ratio(left, right) >= 80 else -1.0


def person_similarity(left: PersonName, right: PersonName) -> dict[str, float]:
    """Per-part agreement of two names: surname similarity 0..1; given name and patronymic 1 same, 0.8 initial
    agrees, 0 unknown, -1 different."""
    return {
        "surname": name_similarity(left.surname, right.surname),
        "given_name": _part_agreement(left.given, right.given),
        "patronymic": _part_agreement(left.patronymic, right.patronymic),
    }


# The office or flat: an address entity is the building, so companies registered in one building meet there.
_UNIT = re.compile(
    r"(?:\b(?:офіс|офис|оф|кв|квартира|приміщення|прим|помещение|office|apt|suite)\.?\s*№?\s*\d+\w*)|(?<=\d)\s*/\s*\d+\w*",
    re.IGNORECASE,
)
_POSTCODE = re.compile(r"(?<!\d)\d{5}(?!\d)")
ADDRESS_WORDS = (
    "Україна", "Украина", "Ukraine", "м", "місто", "г", "город", "смт", "с", "село", "вул", "вулиця", "ул", "улица",
    "просп", "проспект", "пр", "бульв", "бульвар", "б-р", "пров", "провулок", "пер", "переулок", "пл", "площа",
    "площадь", "буд", "будинок", "д", "дом", "корп", "корпус", "кв", "квартира", "офіс", "офис", "оф", "прим",
    "приміщення", "помещение", "обл", "область", "р-н", "район",
)  # fmt: skip
_ADDRESS_NOISE = frozenset(word for phrase in ADDRESS_WORDS for word in fold(phrase).split())


@lru_cache(maxsize=200_000)
def address_key(address: str) -> str:
    """An address without the words that vary between spellings (м., вул., буд., кв., Україна…), as a skeleton.

    «01033, м. Київ, вул. Саксаганського, буд. 36, кв. 12» and «Київ, вулиця Саксаганського, 36/12» → the same
    words, sorted; the flat or office is left out, so the key names the building.
    """
    without_postcode = _POSTCODE.sub(" ", _UNIT.sub(" ", address))
    return " ".join(sorted(word for word in fold(without_postcode).split() if word not in _ADDRESS_NOISE))
