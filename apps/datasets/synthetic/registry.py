"""Register extracts: companies (ЄДР-style) and people (ЄДР plus lists supplied by other agencies)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from apps.datasets.synthetic import names, reference
from apps.datasets.synthetic.config import STREAM_REGISTRY, GeneratorConfig
from apps.datasets.synthetic.draws import Draws
from apps.datasets.synthetic.parties import Company, Person, Universe, address_variant

COMPANY_HEADER = (
    "Код ЄДРПОУ/РНОКПП",
    "Повне найменування",
    "Скорочене найменування",
    "Організаційно-правова форма",
    "Стан",
    "Дата реєстрації",
    "Місцезнаходження",
    "Види діяльності (КВЕД)",
    "Статутний капітал, грн",
    "Керівник",
    "Засновники",
    "Кінцеві бенефіціарні власники",
)
PERSON_HEADER = ("Номер запису", "Джерело", "ПІБ", "Дата народження", "РНОКПП", "Адреса", "Ролі")
RECORD_TRUTH_HEADER = ("source", "record_key", "role", "position", "name", "entity_id")

# How many people later an agency's copy of a person's record appears.
_COPY_DELAY = 5000

SOURCE_REGISTER = "ЄДР"
SOURCE_TAX = "ДПС"
SOURCE_OTHER = "інша установа"

# How the register spells the people in a company's record (it is mostly clean, often in capitals).
_REGISTER_NAME_KINDS = ("canonical", "upper", "initials", "typo")
_REGISTER_NAME_CUM = (0.62, 0.9, 0.96, 1.0)
# How another agency's list spells a person it also knows.
_LIST_NAME_KINDS = ("typo", "swapped", "russian", "upper", "canonical", "latin")
_LIST_NAME_CUM = (0.3, 0.52, 0.72, 0.86, 0.96, 1.0)


class RegistryWriter:
    def __init__(self, config: GeneratorConfig, universe: Universe) -> None:
        self.universe = universe
        self.draws = Draws(config.stream(STREAM_REGISTRY))

    def _register_name(self, person: Person) -> str:
        kind = _REGISTER_NAME_KINDS[self.draws.weighted(_REGISTER_NAME_CUM)]
        return person.name_variant(kind, self.draws)

    def company_rows(self) -> Iterator[tuple[list[str], list[list[str]]]]:
        """Each company's register row with the ground truth of every party named in it."""
        universe = self.universe
        for company in universe.companies:
            truth = [["registry_companies", company.code, "company", "1", company.full_name, company.entity_id]]
            director = ""
            if company.director is not None:
                person = universe.persons[company.director]
                director = self._register_name(person)
                truth.append(["registry_companies", company.code, "director", "1", director, person.entity_id])
            founders = []
            for position, (kind, index, share) in enumerate(company.founders, start=1):
                text, entity_id = self._founder(kind, index)
                founders.append(f"{text} (частка {share}%)")
                truth.append(["registry_companies", company.code, "founder", str(position), text, entity_id])
            owners = []
            for position, index in enumerate(company.owners, start=1):
                person = universe.persons[index]
                text = self._register_name(person)
                owners.append(text)
                truth.append(["registry_companies", company.code, "beneficial_owner", str(position), text,
                              person.entity_id])  # fmt: skip
            row = [
                company.code,
                company.full_name,
                company.short_name,
                names.LEGAL_FORMS[company.legal_form][0],
                company.status,
                company.registered.strftime("%d.%m.%Y"),
                company.address.canonical(),
                "; ".join(f"{code} {reference.KVED[code]}" for code in company.kved if code in reference.KVED),
                "" if company.capital is None else f"{company.capital:.2f}",
                director,
                "; ".join(founders),
                "; ".join(owners),
            ]
            yield row, truth

    def _founder(self, kind: str, index: int) -> tuple[str, str]:
        universe = self.universe
        if kind == "person":
            person = universe.persons[index]
            return self._register_name(person), person.entity_id
        if kind == "company":
            company: Company = universe.companies[index]
            return f"{company.short_name} (код {company.code})", company.entity_id
        foreign = universe.foreign[index]
        return f"{foreign.name} ({reference.COUNTRIES[foreign.country].iso})", foreign.entity_id

    def person_rows(self, batch: int) -> Iterator[tuple[list[list[str]], list[list[str]]]]:
        """Every person's register record plus the copies other agencies hold, in batches, numbered 1..n.

        A copy is held back for a random number of records so that duplicates lie apart, as in a merged list,
        while only the held-back copies stay in memory.
        """
        rows: list[list[str]] = []
        truth: list[list[str]] = []
        held: list[tuple[int, int, list[str], str]] = []
        number = 0

        def emit(values: list[str], entity_id: str) -> None:
            nonlocal number
            number += 1
            rows.append([str(number), *values])
            truth.append(["registry_persons", str(number), "person", "1", values[1], entity_id])

        for position, person in enumerate(self.universe.persons):
            while held and held[0][0] <= position:
                _release, _order, values, entity_id = heapq.heappop(held)
                emit(values, entity_id)
            roles = self._roles(person)
            name = person.full_name.upper() if self.draws.chance(0.3) else person.full_name
            emit(
                [SOURCE_REGISTER, name, person.birth_date.strftime("%d.%m.%Y"), person.rnokpp,
                 person.address.canonical(), roles],
                person.entity_id,
            )  # fmt: skip
            copies = (1 if self.draws.chance(0.35) else 0) + (1 if self.draws.chance(0.1) else 0)
            for copy in range(copies):
                kind = _LIST_NAME_KINDS[self.draws.weighted(_LIST_NAME_CUM)]
                values = [
                    SOURCE_TAX if copy == 0 else SOURCE_OTHER,
                    person.name_variant(kind, self.draws),
                    person.birth_date.strftime("%d.%m.%Y") if self.draws.chance(0.85) else "",
                    person.rnokpp if self.draws.chance(0.75) else "",
                    address_variant(person.address, self.draws.integer(1, 5)),
                    roles if self.draws.chance(0.5) else "",
                ]
                release = position + self.draws.integer(1, _COPY_DELAY)
                heapq.heappush(held, (release, number * 2 + copy, values, person.entity_id))
            if len(rows) >= batch:
                yield rows, truth
                rows, truth = [], []
        while held:
            _release, _order, values, entity_id = heapq.heappop(held)
            emit(values, entity_id)
        yield rows, truth

    def _roles(self, person: Person) -> str:
        codes = self.universe.company_codes
        return "; ".join(f"{role} {codes[index]}" for role, index in person.roles)
