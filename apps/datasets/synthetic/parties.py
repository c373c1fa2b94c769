"""The people and companies behind the data, and the spellings each of them appears under.

Every party is an entity with a stable id (``C`` domestic companies, ``F`` foreign companies, ``P`` people; a
ФОП is a person trading under their own name and keeps the person's ``P`` id). Files never carry the ids:
they carry names as clerks type them, which the ground truth maps back to the ids.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from apps.core.translit import transliterate_uk
from apps.datasets.synthetic import codes, names, reference
from apps.datasets.synthetic.config import STREAM_PARTIES, GeneratorConfig
from apps.datasets.synthetic.draws import Draws
from apps.datasets.synthetic.translit import cyrillize, russify, typo
from apps.datasets.synthetic.writer import csv_escape, csv_unescape

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

PORTFOLIO_SIZE = 8

# How often each spelling of a domestic company appears in declarations and invoices, by slot:
# short form «», short form "", full form in capitals, full form, name first, Latin, Russian, typo, bare name.
COMPANY_VARIANT_WEIGHTS = (0.42, 0.16, 0.08, 0.06, 0.05, 0.05, 0.07, 0.06, 0.05)
COMPANY_VARIANT_KINDS = ("short", "short_ascii_quotes", "full_upper", "full", "name_first", "latin", "russian",
                         "typo", "bare")  # fmt: skip
# Foreign partners: as registered, capitals, legal form respelled, no punctuation, typo, Cyrillic, no legal form.
FOREIGN_VARIANT_WEIGHTS = (0.5, 0.14, 0.08, 0.08, 0.05, 0.09, 0.06)
FOREIGN_VARIANT_KINDS = ("canonical", "upper", "legal_form", "no_punctuation", "typo", "cyrillic", "no_legal_form")

STATUS_ACTIVE = "зареєстровано"
STATUS_CLOSING = "в стані припинення"
STATUS_CLOSED = "припинено"


@dataclass(slots=True)
class Address:
    city: int
    postcode: int
    street: str
    house: str
    unit_kind: str  # "кв." for a flat, "офіс" for an office
    unit: int | None

    @property
    def building(self) -> str:
        city = names.CITIES[self.city]
        return f"м. {city.name}, {self.street}, буд. {self.house}"

    def canonical(self) -> str:
        text = f"{self.postcode:05d}, {self.building}"
        return f"{text}, {self.unit_kind} {self.unit}" if self.unit else text


_STREET_WORDS = {"вул.": "вулиця", "просп.": "проспект", "бульв.": "бульвар", "пров.": "провулок"}


def address_variant(address: Address, style: int) -> str:
    """The address as different registers and clerks write it; style 0 is the register's own form."""
    city = names.CITIES[address.city]
    unit = f", {address.unit_kind} {address.unit}" if address.unit else ""
    street_type, _, street_name = address.street.partition(" ")
    if style == 1:
        return f"м. {city.name}, {address.street} {address.house}{unit}"
    if style == 2:
        long_street = f"{_STREET_WORDS.get(street_type, street_type)} {street_name}".strip()
        tail = f"/{address.unit}" if address.unit else ""
        return f"{city.name}, {long_street}, {address.house}{tail}"
    if style == 3:
        compact_unit = f",{address.unit_kind}{address.unit}" if address.unit else ""
        return f"м.{city.name}, {address.street.replace('. ', '.')},{address.house}{compact_unit}"
    if style == 4:
        return f"УКРАЇНА, {address.canonical().upper()}"
    if style == 5:
        ru_type = names.STREET_TYPES_RU.get(street_type, street_type)
        ru_unit = ""
        if address.unit:
            ru_unit = f", кв. {address.unit}" if address.unit_kind == "кв." else f", офис {address.unit}"
        return f"г. {city.name_ru}, {ru_type} {russify(street_name)}, д. {address.house}{ru_unit}"
    return address.canonical()


@dataclass(slots=True)
class Person:
    index: int
    entity_id: str
    surname: str
    given: str
    patronymic: str
    given_ru: str
    patronymic_ru: str
    male: bool
    birth_date: datetime.date
    rnokpp: str
    address: Address
    nominee: bool = False
    roles: list[tuple[str, int]] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.surname} {self.given} {self.patronymic}"

    def name_variant(self, kind: str, draws: Draws) -> str:
        if kind == "upper":
            return self.full_name.upper()
        if kind == "swapped":
            return f"{self.given} {self.patronymic} {self.surname}"
        if kind == "initials":
            return f"{self.surname} {self.given[0]}.{self.patronymic[0]}."
        if kind == "russian":
            return f"{russify(self.surname)} {self.given_ru} {self.patronymic_ru}"
        if kind == "typo":
            return f"{typo(self.surname, draws)} {self.given} {self.patronymic}"
        if kind == "latin":
            return transliterate_uk(f"{self.surname} {self.given} {self.patronymic}")
        return self.full_name


@dataclass(slots=True)
class Company:
    index: int
    entity_id: str
    code: str
    legal_form: str
    brand: str
    role: str  # importer, exporter, broker, domestic, shell
    registered: datetime.date
    address: Address
    kved: list[str]
    capital: int | None
    status: str = STATUS_ACTIVE
    director: int | None = None
    founders: list[tuple[str, int, int]] = field(default_factory=list)  # (person|company|foreign, index, share %)
    owners: list[int] = field(default_factory=list)
    person: int | None = None  # the entrepreneur of a ФОП
    dishonest: bool = False
    mass_address: int | None = None
    window: tuple[int, int] | None = None  # first and last day of a shell company's trading
    portfolio: list[tuple[int, int]] = field(default_factory=list)  # (goods index, foreign partner index)

    @property
    def full_name(self) -> str:
        if self.legal_form == "ФОП":
            return f"{names.LEGAL_FORMS['ФОП'][0]} {self.brand}"
        return f"{names.LEGAL_FORMS[self.legal_form][0]} «{self.brand}»"

    @property
    def short_name(self) -> str:
        if self.legal_form == "ФОП":
            return f"ФОП {self.brand}"
        return f"{self.legal_form} «{self.brand}»"


@dataclass(slots=True)
class ForeignCompany:
    index: int
    entity_id: str
    country: int
    body: str
    legal_form: str

    @property
    def name(self) -> str:
        if self.legal_form == "Tbk":
            return f"PT {self.body} Tbk"
        return f"{self.body} {self.legal_form}"


@dataclass
class Universe:
    """Every party of a run plus the arrays the vectorised row generators index into."""

    companies: list[Company]
    persons: list[Person]
    foreign: list[ForeignCompany]
    mass_addresses: list[Address]
    controllers: list[int]
    company_cells: ObjectArray  # "code,name" CSV cells per company and spelling slot
    company_codes: ObjectArray
    foreign_cells: ObjectArray  # "name,country" CSV cells per partner and spelling slot
    foreign_country: IntArray
    portfolio_goods: IntArray
    portfolio_partner: IntArray
    portfolio_size: IntArray
    broker_preference: IntArray
    home_post: IntArray
    dishonest: BoolArray
    importers: IntArray
    importer_weights: FloatArray
    exporters: IntArray
    exporter_weights: FloatArray
    shells: IntArray
    shell_start: IntArray
    shell_end: IntArray
    shell_weights: FloatArray
    splitters: IntArray
    domestic: IntArray
    brokers: IntArray

    def company_name(self, company: int, slot: int) -> str:
        """A company's spelling in variant slot ``slot``, as it appears in the files."""
        cell: str = self.company_cells[company, slot]
        return csv_unescape(cell.split(",", 1)[1])

    def foreign_name(self, foreign: int, slot: int) -> str:
        cell: str = self.foreign_cells[foreign, slot]
        return csv_unescape(cell.rsplit(",", 1)[0])


_HOME_POSTS = {"Київ": "UA100010", "Львів": "UA209130", "Одеса": "UA500090", "Дніпро": "UA110180",
               "Харків": "UA807110", "Луцьк": "UA205050", "Рівне": "UA205050", "Ужгород": "UA305020",
               "Чернівці": "UA408030", "Вінниця": "UA401040", "Хмельницький": "UA401040"}  # fmt: skip

# Registration year bands and the ЄДРПОУ prefixes the register issued in them (codes grow over time).
_CODE_BANDS = ((1999, 100_000, 3_099_999), (2009, 3_100_000, 3_699_999), (2014, 3_700_000, 3_999_999),
               (2019, 4_000_000, 4_349_999), (2022, 4_350_000, 4_499_999), (2100, 4_500_000, 4_599_999))  # fmt: skip


def _cumulative(weights: list[float] | tuple[float, ...]) -> list[float]:
    total = float(sum(weights))
    running = 0.0
    cumulative = []
    for weight in weights:
        running += weight
        cumulative.append(running / total)
    return cumulative


class _Builder:
    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.rng = config.stream(STREAM_PARTIES)
        self.draws = Draws(self.rng)
        self.companies: list[Company] = []
        self.persons: list[Person] = []
        self.foreign: list[ForeignCompany] = []
        self.used_codes: set[str] = set()
        self.used_brands: set[str] = set()
        self.used_foreign: set[tuple[str, int]] = set()
        self.mass_addresses: list[Address] = []
        self.controllers: list[int] = []
        self.directors: list[int] = []
        self.legal_entities: list[int] = []
        self.foreign_by_country: dict[int, list[int]] = defaultdict(list)
        self.city_cum = _cumulative(names.CITY_WEIGHTS)
        self.legal_forms = list(names.LEGAL_FORM_WEIGHTS)
        self.legal_form_cum = _cumulative(list(names.LEGAL_FORM_WEIGHTS.values()))
        years = np.arange(1995, 2022)
        self.year_cum = _cumulative([1.0 if year < 2005 else 2.0 if year < 2018 else 1.2 for year in years])
        self.profile_cum = {
            profile: ([reference.COUNTRY_INDEX[iso] for iso in weights], _cumulative(list(weights.values())))
            for profile, weights in reference.ORIGIN_PROFILES.items()
        }

    # Randomness helpers -------------------------------------------------------------------------------------

    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high]."""
        return self.draws.integer(low, high)

    def chance(self, probability: float) -> bool:
        return self.draws.chance(probability)

    def weighted(self, cumulative: list[float]) -> int:
        return self.draws.weighted(cumulative)

    def date_between(self, start: datetime.date, end: datetime.date) -> datetime.date:
        return start + datetime.timedelta(days=self.integer(0, (end - start).days))

    # Places and people --------------------------------------------------------------------------------------

    def address(self, *, city: int | None = None, unit_kind: str = "офіс", unit_share: float = 0.6) -> Address:
        city_index = self.weighted(self.city_cum) if city is None else city
        city_info = names.CITIES[city_index]
        house = str(self.integer(1, 150))
        if self.chance(0.12):
            house += self.draws.pick(("А", "Б", "В", "-А", " корп. 2"))
        unit = self.integer(1, 300 if unit_kind == "офіс" else 220) if self.chance(unit_share) else None
        return Address(
            city=city_index,
            postcode=city_info.postcode + self.integer(0, 180),
            street=self.draws.pick(city_info.streets),
            house=house,
            unit_kind=unit_kind,
            unit=unit,
        )

    def person(self, *, nominee: bool = False, city: int | None = None) -> int:
        male = self.chance(0.8 if nominee else 0.62)
        father = self._male_name()
        if male:
            given, given_ru = self._male_name()[:2]
            patronymic, patronymic_ru = father[2], father[4]
        else:
            given, given_ru = names.FEMALE_NAMES[self.integer(0, len(names.FEMALE_NAMES) - 1)]
            patronymic, patronymic_ru = father[3], father[5]
        if self.chance(0.15):
            pair = names.ADJECTIVAL_SURNAMES[self.integer(0, len(names.ADJECTIVAL_SURNAMES) - 1)]
            surname = pair[0] if male else pair[1]
        else:
            surname = self.draws.pick(names.SURNAMES)
        if nominee:
            young = self.chance(0.7)
            start = datetime.date(1997, 1, 1) if young else datetime.date(1947, 1, 1)
            birth = self.date_between(start, start + datetime.timedelta(days=365 * 8))
        else:
            birth = self.date_between(datetime.date(1955, 1, 1), datetime.date(1996, 12, 31))
        while True:
            rnokpp = codes.rnokpp_for(birth_date=birth, serial=self.integer(0, 999), male=male)
            if rnokpp not in self.used_codes:
                break
        self.used_codes.add(rnokpp)
        index = len(self.persons)
        self.persons.append(
            Person(
                index=index,
                entity_id=f"P{index + 1:06d}",
                surname=surname,
                given=given,
                patronymic=patronymic,
                given_ru=given_ru,
                patronymic_ru=patronymic_ru,
                male=male,
                birth_date=birth,
                rnokpp=rnokpp,
                address=self.address(city=city, unit_kind="кв.", unit_share=0.85),
                nominee=nominee,
            )
        )
        return index

    def _male_name(self) -> tuple[str, str, str, str, str, str]:
        return names.MALE_NAMES[self.integer(0, len(names.MALE_NAMES) - 1)]

    # Codes and names ----------------------------------------------------------------------------------------

    def edrpou(self, registered: datetime.date) -> str:
        low, high = next((low, high) for last_year, low, high in _CODE_BANDS if registered.year <= last_year)
        while True:
            code = codes.edrpou_from_prefix(self.integer(low, high))
            if code not in self.used_codes:
                self.used_codes.add(code)
                return code

    def brand(self, *, broker: bool = False) -> str:
        draws = self.draws
        for attempt in range(40):
            style = draws.integer(0, 9)
            if broker:
                brand = f"{draws.pick(names.BROKER_WORDS)} {draws.pick(names.BRAND_WORDS)}"
                if draws.chance(0.5):
                    brand += f"-{draws.pick(names.BRAND_QUALIFIERS)}"
            elif style < 4:
                root = draws.pick(names.BRAND_ROOTS)
                brand = draws.pick(names.BRAND_PREFIXES) + root + draws.pick(names.BRAND_SUFFIXES)
            elif style < 6:
                first = draws.pick(names.BRAND_PREFIXES)
                brand = first + draws.pick(names.BRAND_PREFIXES).lower() + draws.pick(names.BRAND_ROOTS)
            elif style < 8:
                brand = f"{draws.pick(names.BRAND_WORDS)}-{draws.pick(names.BRAND_QUALIFIERS)}"
                if draws.chance(0.3):
                    brand = brand.replace("-", " ")
            else:
                brand = f"{draws.pick(names.BRAND_HEADS)} «{draws.pick(names.BRAND_WORDS)}»"
            if attempt > 10:
                # Numbered names («Альфа-2000», «Вектор-7») are common, and keep big runs from running out.
                brand += f"-{draws.integer(2, 2025)}"
            if brand.lower() not in self.used_brands:
                self.used_brands.add(brand.lower())
                return brand
        raise RuntimeError("ran out of company names")

    def company_variants(self, company: Company) -> list[str]:
        if company.legal_form == "ФОП":
            assert company.person is not None
            person = self.persons[company.person]
            return [
                f"ФОП {person.full_name}",
                f"ФОП {person.full_name.upper()}",
                f"Фізична особа-підприємець {person.full_name.upper()}",
                f"{names.LEGAL_FORMS['ФОП'][0]} {person.full_name}",
                f"ФОП {person.name_variant('initials', self.draws)}",
                f"FOP {person.name_variant('latin', self.draws)}",
                f"ФЛП {person.name_variant('russian', self.draws)}",
                f"ФОП {person.name_variant('typo', self.draws)}",
                person.full_name,
            ]
        form = company.legal_form
        full, ru_form, _ru_full, latin_form, english_form = names.LEGAL_FORMS[form]
        brand = company.brand
        latin_brand = transliterate_uk(brand)
        latin = self.draws.pick((f'{latin_form} "{latin_brand}"', f"{latin_brand} {english_form}",
                                f"{latin_form} {latin_brand}", f'"{latin_brand}" {english_form}'))  # fmt: skip
        name_first = f'"{brand}" {form}' if self.chance(0.5) else f"{brand}, {form}"
        return [
            f"{form} «{brand}»",
            f'{form} "{brand}"',
            f'{full.upper()} "{brand.upper()}"',
            f"{full} «{brand}»",
            name_first,
            latin,
            f"{ru_form} «{russify(brand)}»",
            f"{form} «{typo(brand, self.draws)}»",
            brand,
        ]

    # Companies ----------------------------------------------------------------------------------------------

    def company(
        self,
        *,
        role: str,
        registered: datetime.date | None = None,
        legal_form: str | None = None,
        address: Address | None = None,
    ) -> Company:
        if registered is None:
            year = 1995 + self.weighted(self.year_cum)
            registered = self.date_between(datetime.date(year, 1, 1), datetime.date(year, 12, 28))
        if legal_form is None:
            legal_form = self.legal_forms[self.weighted(self.legal_form_cum)]
        index = len(self.companies)
        company = Company(
            index=index,
            entity_id=f"C{index + 1:06d}",
            code="",
            legal_form=legal_form,
            brand="",
            role=role,
            registered=registered,
            address=address or self.address(),
            kved=[],
            capital=None,
        )
        if legal_form == "ФОП":
            person = self.person()
            company.person = person
            company.entity_id = self.persons[person].entity_id
            company.code = self.persons[person].rnokpp
            company.brand = self.persons[person].full_name
            company.address = self.persons[person].address
            adult = self.persons[person].birth_date + datetime.timedelta(days=366 * 20)
            company.registered = max(registered, adult)
            self.persons[person].roles.append(("ФОП", index))
        else:
            company.code = self.edrpou(registered)
            company.brand = self.brand(broker=role == "broker")
            capital_scale = {"ПрАТ": 5_000_000, "АТ": 20_000_000}.get(legal_form, 120_000)
            company.capital = int(round(self.draws.lognormal(math.log(capital_scale), 1.0), -3)) or 1000
            self.legal_entities.append(index)
        status_draw = self.draws.random()
        if role in ("importer", "exporter", "domestic") and status_draw < 0.03:
            company.status = STATUS_CLOSED if status_draw < 0.01 else STATUS_CLOSING
        self.companies.append(company)
        return company

    def staff(self, company: Company, *, reuse_share: float = 0.12) -> None:
        """Director, founders and beneficial owners of a legitimate company."""
        if company.legal_form == "ФОП":
            return
        city = company.address.city
        if self.directors and self.chance(reuse_share):
            # A legitimate director runs at most two companies; several is the nominee signature.
            position = self.integer(0, len(self.directors) - 1)
            director = self.directors[position]
            self.directors[position] = self.directors[-1]
            self.directors.pop()
        else:
            director = self.person(city=city if self.chance(0.7) else None)
            self.directors.append(director)
        company.director = director
        self.persons[director].roles.append(("керівник", company.index))
        founders: list[tuple[str, int, int]] = []
        if company.legal_form == "ДП":
            parent_kind = "foreign" if self.chance(0.5) and self.foreign else "company"
            if parent_kind == "foreign":
                founders.append(("foreign", self.integer(0, len(self.foreign) - 1), 100))
            elif len(self.legal_entities) > 1:
                founders.append(("company", self.other_legal_entity(company), 100))
        if not founders:
            count = 1 if company.legal_form == "ПП" else self.integer(1, 3)
            for share in self.draws.shares(count):
                draw = self.draws.random()
                if draw < 0.08 and self.foreign:
                    founders.append(("foreign", self.integer(0, len(self.foreign) - 1), share))
                elif draw < 0.14 and len(self.legal_entities) > 1:
                    founders.append(("company", self.other_legal_entity(company), share))
                elif founders == [] and self.chance(0.5):
                    founders.append(("person", director, share))
                else:
                    founders.append(("person", self.person(city=city), share))
        company.founders = founders
        for kind, index, _share in founders:
            if kind == "person" and ("засновник", company.index) not in self.persons[index].roles:
                self.persons[index].roles.append(("засновник", company.index))
        owners = [index for kind, index, _share in founders if kind == "person"]
        if not owners:
            owners = [self.person(city=city)]
        company.owners = owners
        for owner in owners:
            self.persons[owner].roles.append(("бенефіціар", company.index))

    def other_legal_entity(self, company: Company) -> int:
        while True:
            candidate = self.legal_entities[self.integer(0, len(self.legal_entities) - 1)]
            if candidate != company.index:
                return candidate

    def pick_country(self, profile: str) -> int:
        countries, cumulative = self.profile_cum[profile]
        return countries[self.weighted(cumulative)]

    def pick_partner(self, profile: str) -> int:
        country = self.pick_country(profile)
        pool = self.foreign_by_country[country]
        # A few big suppliers in each country serve most traders.
        return pool[int(len(pool) * self.draws.random() ** 3)]

    # Foreign partners ---------------------------------------------------------------------------------------

    def make_foreign(self, total: int) -> None:
        demand: dict[int, float] = defaultdict(float)
        for goods in reference.GOODS:
            weights = reference.ORIGIN_PROFILES[goods.profile]
            scale = sum(weights.values())
            for iso, weight in weights.items():
                demand[reference.COUNTRY_INDEX[iso]] += weight / scale
        overall = sum(demand.values())
        for country in sorted(demand):
            count = max(3, round(total * demand[country] / overall))
            for _ in range(count):
                self.foreign_company(country)

    def foreign_company(self, country: int) -> int:
        info = reference.COUNTRIES[country]
        words = names.FOREIGN_WORDS[info.name_style]
        draws = self.draws
        for attempt in range(100):
            legal_form = draws.pick(info.legal_suffixes)
            name = draws.pick(words["name"])
            if attempt > 3 or draws.chance(0.3):
                # A second name word multiplies the combinations, so big runs do not run out of names.
                name = f"{name} {draws.pick(words['name'])}"
            if attempt > 40:
                name = f"{name} {self.integer(2, 999)}"
            trade = draws.pick(words["trade"])
            if info.name_style == "zh":
                body = f"{draws.pick(words['place'])} {name} {trade}"
            elif info.name_style == "pl" and self.chance(0.5):
                body = f"{name}-{trade}"
            else:
                body = f"{name} {trade}"
            key = (body.lower(), country)
            if key not in self.used_foreign:
                self.used_foreign.add(key)
                break
        index = len(self.foreign)
        company = ForeignCompany(index, f"F{index + 1:06d}", country, body, legal_form)
        self.foreign.append(company)
        self.foreign_by_country[country].append(index)
        return index

    def foreign_variants(self, company: ForeignCompany) -> list[str]:
        name = company.name
        respelled = names.FOREIGN_LEGAL_VARIANTS.get(company.legal_form)
        if respelled:
            legal = self.draws.pick(respelled)
            legal_variant = f"PT {company.body} {legal}" if company.legal_form == "Tbk" else f"{company.body} {legal}"
        else:
            legal_variant = name.replace(".", "")
        no_punctuation = " ".join(name.replace(".", " ").replace(",", " ").split())
        return [
            name,
            name.upper(),
            legal_variant,
            no_punctuation,
            name.replace(company.body, typo(company.body, self.draws), 1),
            cyrillize(name),
            company.body,
        ]


def _shell_windows(builder: _Builder, count: int) -> list[tuple[int, int]]:
    """Trading windows of the shell companies, staggered so that some shell is active on most days."""
    days = reference.PERIOD_DAYS
    windows = []
    for position in range(count):
        length = builder.integer(60, 150)
        start = round(position * (days - length) / max(1, count - 1)) + builder.integer(-20, 20)
        start = min(max(start, 0), days - length)
        windows.append((start, start + length - 1))
    order = builder.rng.permutation(count)
    return [windows[int(i)] for i in order]


def build_universe(config: GeneratorConfig) -> Universe:
    builder = _Builder(config)
    builder.make_foreign(config.foreign_companies)
    rng = builder.rng

    import_goods = [i for i, goods in enumerate(reference.GOODS) if goods.flow in "IB"]
    export_goods = [i for i, goods in enumerate(reference.GOODS) if goods.flow in "EB"]
    by_profile: dict[str, list[int]] = defaultdict(list)
    for index in import_goods:
        by_profile[reference.GOODS[index].profile].append(index)
    by_export_family: dict[str, list[int]] = defaultdict(list)
    for index in export_goods:
        by_export_family[reference.GOODS[index].code[0]].append(index)

    brokers = [builder.company(role="broker", legal_form="ТОВ") for _ in range(config.brokers)]
    for broker in brokers:
        broker.kved = ["52.29", "49.41", "70.22"]
        builder.staff(broker)

    importers: list[Company] = []
    for _ in range(config.importers):
        fop = builder.chance(0.12)
        company = builder.company(role="importer", legal_form="ФОП" if fop else None)
        primary = import_goods[builder.integer(0, len(import_goods) - 1)]
        size = min(PORTFOLIO_SIZE, builder.draws.geometric(0.45))
        portfolio = [primary]
        while len(portfolio) < size:
            related = by_profile[reference.GOODS[primary].profile]
            pool = related if builder.chance(0.7) else import_goods
            portfolio.append(pool[builder.integer(0, len(pool) - 1)])
        company.portfolio = [(goods, builder.pick_partner(reference.GOODS[goods].profile)) for goods in portfolio]
        company.kved = _kved_list(builder, reference.GOODS[primary], exporter=False)
        builder.staff(company)
        importers.append(company)

    exporters: list[Company] = []
    for _ in range(config.exporters):
        company = builder.company(role="exporter", legal_form=None if builder.chance(0.9) else "ПрАТ")
        primary = export_goods[builder.integer(0, len(export_goods) - 1)]
        family = by_export_family[reference.GOODS[primary].code[0]]
        size = min(PORTFOLIO_SIZE, builder.draws.geometric(0.5))
        portfolio = [primary] + [family[builder.integer(0, len(family) - 1)] for _ in range(size - 1)]
        company.portfolio = [(goods, builder.pick_partner("EXPORT")) for goods in portfolio]
        company.kved = _kved_list(builder, reference.GOODS[primary], exporter=True)
        builder.staff(company)
        exporters.append(company)

    domestic: list[Company] = []
    domestic_kved = ("46.90", "46.73", "41.20", "49.41", "47.91", "68.20", "70.22", "46.49")
    for _ in range(config.domestic_companies):
        company = builder.company(role="domestic")
        company.kved = [builder.draws.pick(domestic_kved), builder.draws.pick(domestic_kved)]
        company.kved = list(dict.fromkeys(company.kved))
        builder.staff(company)
        domestic.append(company)

    shells = _make_shells(builder, config, importers, domestic, import_goods)

    # Dishonest importers commit most of the planted declaration-level fraud (a history a model can learn).
    honest_pool = list(importers)
    dishonest_count = max(2, round(0.1 * len(honest_pool)))
    for position in rng.choice(len(honest_pool), size=min(dishonest_count, len(honest_pool)), replace=False):
        honest_pool[int(position)].dishonest = True
    small = [c for c in importers if c.dishonest and c.legal_form in ("ФОП", "ПП", "ТОВ")]
    fops_first = sorted(small, key=lambda c: (c.legal_form != "ФОП", c.index))
    splitters = fops_first[: config.splitters]
    for company in splitters:
        consumer = [reference.GOODS_INDEX[code] for code in reference.SMALL_CONSIGNMENT_CODES]
        company.portfolio = company.portfolio[:4] + [
            (goods, builder.pick_partner(reference.GOODS[goods].profile))
            for goods in rng.choice(consumer, size=3, replace=False).tolist()
        ]

    return _assemble(builder, brokers, importers, exporters, domestic, shells, splitters)


def _kved_list(builder: _Builder, goods: reference.Goods, *, exporter: bool) -> list[str]:
    primary = reference.kved_for_goods(goods, exporter=exporter)
    extras = [builder.draws.pick(("46.90", "49.41", "52.29", "46.69", "68.20", "47.91")) for _ in range(2)]
    return list(dict.fromkeys([primary, *extras]))


def _make_shells(
    builder: _Builder, config: GeneratorConfig, importers: list[Company], domestic: list[Company], goods: list[int]
) -> list[Company]:
    """Fresh companies at mass registration addresses run by nominee directors: the missing traders."""
    count = config.shells
    mass_count = max(1, math.ceil(count / 6))
    for _ in range(mass_count):
        kyiv = builder.chance(0.7)
        address = builder.address(city=0 if kyiv else None, unit_share=0.0)
        builder.mass_addresses.append(address)
    nominees = [builder.person(nominee=True) for _ in range(max(1, math.ceil(count / 5)))]
    controllers = [builder.person() for _ in range(max(1, count // 10))]
    builder.controllers = controllers
    valuable = [
        index for index in goods
        if reference.GOODS[index].profile in ("ELECTRONICS", "APPAREL", "FOOTWEAR", "COSMETICS", "VEHICLES", "TOOLS")
    ]  # fmt: skip
    shells: list[Company] = []
    for position, window in enumerate(_shell_windows(builder, count)):
        start = reference.PERIOD_START + datetime.timedelta(days=window[0])
        registered = start - datetime.timedelta(days=builder.integer(20, 120))
        mass = builder.integer(0, mass_count - 1) if builder.chance(0.85) else None
        if mass is not None:
            base = builder.mass_addresses[mass]
            address = Address(base.city, base.postcode, base.street, base.house, "офіс", builder.integer(1, 60))
        else:
            address = builder.address()
        company = builder.company(
            role="shell", registered=registered, legal_form="ТОВ" if builder.chance(0.92) else "ПП", address=address
        )
        company.mass_address = mass
        company.window = window
        company.capital = 1000 * builder.integer(1, 5)
        company.kved = ["46.90", "46.69", "46.19"][: builder.integer(1, 3)]
        if "46.19" in company.kved:
            company.kved.remove("46.19")
        if window[1] < reference.PERIOD_DAYS - 30 and builder.chance(0.5):
            company.status = STATUS_CLOSING
        # Nominees take turns so that each directs several shells.
        director = nominees[position % len(nominees)]
        company.director = director
        builder.persons[director].roles.append(("керівник", company.index))
        founder = director if builder.chance(0.6) else nominees[builder.integer(0, len(nominees) - 1)]
        company.founders = [("person", founder, 100)]
        builder.persons[founder].roles.append(("засновник", company.index))
        owner = controllers[builder.integer(0, len(controllers) - 1)]
        company.owners = [owner]
        builder.persons[owner].roles.append(("бенефіціар", company.index))
        size = builder.integer(2, 4)
        chosen = builder.rng.choice(valuable, size=size, replace=False).tolist()
        company.portfolio = [(int(g), builder.pick_partner(reference.GOODS[int(g)].profile)) for g in chosen]
        shells.append(company)
    # A controller also owns a legitimate-looking importer: the hidden link an investigator finds in the graph.
    for controller in controllers:
        if importers:
            target = importers[builder.integer(0, len(importers) - 1)]
            if target.legal_form != "ФОП" and controller not in target.owners:
                target.owners.append(controller)
                builder.persons[controller].roles.append(("бенефіціар", target.index))
    # Some legitimate small firms rent a mass address too, so the address alone proves nothing.
    for company in domestic:
        if builder.chance(0.02):
            mass = builder.integer(0, mass_count - 1)
            base = builder.mass_addresses[mass]
            company.address = Address(base.city, base.postcode, base.street, base.house, "офіс", builder.integer(1, 60))
            company.mass_address = mass
    return shells


def _deduplicate_foreign_variants(companies: list[ForeignCompany], variants: list[list[str]]) -> None:
    """Make every (spelling, country) belong to one partner only, so a spelling identifies its entity."""
    owner: dict[tuple[str, int], int] = {}
    for company in companies:
        owner[(company.name, company.country)] = company.index
    for company, slots in zip(companies, variants, strict=True):
        for slot, text in enumerate(slots):
            key = (text, company.country)
            if owner.setdefault(key, company.index) != company.index:
                slots[slot] = company.name


def _assemble(
    builder: _Builder,
    brokers: list[Company],
    importers: list[Company],
    exporters: list[Company],
    domestic: list[Company],
    shells: list[Company],
    splitters: list[Company],
) -> Universe:
    rng = builder.rng
    companies = builder.companies
    count = len(companies)
    # Code and name always stand side by side in the files: one pre-joined cell saves a join per row. The cells
    # are the only copy of the spellings kept (Universe.company_name reads them back), which saves memory.
    company_cells = np.empty((count, len(COMPANY_VARIANT_WEIGHTS)), dtype=object)
    for company in companies:
        variants = builder.company_variants(company)
        company_cells[company.index, :] = [f"{company.code},{csv_escape(name)}" for name in variants]
    foreign_variants = [builder.foreign_variants(company) for company in builder.foreign]
    _deduplicate_foreign_variants(builder.foreign, foreign_variants)
    foreign_cells = np.empty((len(builder.foreign), len(FOREIGN_VARIANT_WEIGHTS)), dtype=object)
    for foreign, variants in zip(builder.foreign, foreign_variants, strict=True):
        iso = reference.COUNTRIES[foreign.country].iso
        foreign_cells[foreign.index, :] = [f"{csv_escape(name)},{iso}" for name in variants]

    portfolio_goods = np.zeros((count, PORTFOLIO_SIZE), dtype=np.int64)
    portfolio_partner = np.zeros((count, PORTFOLIO_SIZE), dtype=np.int64)
    portfolio_size = np.zeros(count, dtype=np.int64)
    for company in companies:
        for slot, (goods, partner) in enumerate(company.portfolio[:PORTFOLIO_SIZE]):
            portfolio_goods[company.index, slot] = goods
            portfolio_partner[company.index, slot] = partner
        portfolio_size[company.index] = min(len(company.portfolio), PORTFOLIO_SIZE)

    broker_index = np.array([b.index for b in brokers], dtype=np.int64)
    broker_weights = rng.pareto(1.1, size=len(brokers)) + 1
    broker_cum = np.cumsum(broker_weights) / broker_weights.sum()
    broker_preference = broker_index[np.searchsorted(broker_cum, rng.random((count, 2)), side="right")]

    home_post = np.zeros(count, dtype=np.int64)
    for company in companies:
        city = names.CITIES[company.address.city].name
        code = _HOME_POSTS.get(city, "UA100010")
        if city == "Київ" and builder.draws.chance(0.3):
            code = "UA100150"
        home_post[company.index] = reference.POST_INDEX[code]

    def weights(group: list[Company], sigma: float) -> FloatArray:
        # Log-normal activity: the biggest 1 % of traders file about a fifth of the declarations.
        raw = rng.lognormal(0.0, sigma, size=len(group))
        scale = np.array([0.25 if c.legal_form == "ФОП" else 1.0 for c in group])
        return np.asarray(raw * scale, dtype=np.float64)

    shell_array = np.array([c.index for c in shells], dtype=np.int64)
    return Universe(
        companies=companies,
        persons=builder.persons,
        foreign=builder.foreign,
        mass_addresses=builder.mass_addresses,
        controllers=builder.controllers,
        company_cells=company_cells,
        company_codes=np.array([c.code for c in companies], dtype=object),
        foreign_cells=foreign_cells,
        foreign_country=np.array([f.country for f in builder.foreign], dtype=np.int64),
        portfolio_goods=portfolio_goods,
        portfolio_partner=portfolio_partner,
        portfolio_size=portfolio_size,
        broker_preference=broker_preference,
        home_post=home_post,
        dishonest=np.array([c.dishonest for c in companies], dtype=np.bool_),
        importers=np.array([c.index for c in importers], dtype=np.int64),
        importer_weights=weights(importers, 1.3),
        exporters=np.array([c.index for c in exporters], dtype=np.int64),
        exporter_weights=weights(exporters, 1.2),
        shells=shell_array,
        shell_start=np.array([c.window[0] for c in shells if c.window], dtype=np.int64),
        shell_end=np.array([c.window[1] for c in shells if c.window], dtype=np.int64),
        shell_weights=np.asarray(rng.lognormal(0.0, 0.5, size=len(shells)), dtype=np.float64),
        splitters=np.array([c.index for c in splitters], dtype=np.int64),
        domestic=np.array([c.index for c in domestic], dtype=np.int64),
        brokers=broker_index,
    )
