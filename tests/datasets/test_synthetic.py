"""The synthetic customs generator: deterministic, valid codes, and every planted scheme has its signature."""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from apps.core.translit import transliterate_uk
from apps.datasets.synthetic import codes, reference
from apps.datasets.synthetic.config import SPLIT_THRESHOLD_EUR

ROWS = 20_000
SEED = 11
DOCS = Path(__file__).resolve().parents[2] / "docs" / "synthetic-data.md"

DECLARATION_HEADER = [
    "Номер декларації", "Дата оформлення", "Напрямок", "Код митного органу", "Митний орган", "Код декларанта",
    "Декларант", "Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД", "Суб'єкт ЗЕД", "Іноземний контрагент", "Країна контрагента",
    "Країна походження", "Країна відправлення", "Код товару УКТЗЕД", "Опис товару", "Кількість", "Одиниця виміру",
    "Маса нетто, кг", "Маса брутто, кг", "Фактурна вартість", "Валюта", "Митна вартість, грн", "Мито, грн",
    "ПДВ, грн", "Акциз, грн", "Вид транспорту", "Умови поставки", "Виявлено порушення", "Донараховано, грн",
]  # fmt: skip
INVOICE_HEADER = [
    "Реєстраційний номер ПН", "Номер ПН", "Дата складання", "Код ЄДРПОУ/РНОКПП продавця", "Продавець",
    "Код ЄДРПОУ/РНОКПП покупця", "Покупець", "Код товару УКТЗЕД", "Опис товару", "Кількість", "Одиниця виміру",
    "Сума без ПДВ, грн", "Ставка ПДВ, %", "Сума ПДВ, грн", "Сума з ПДВ, грн",
]  # fmt: skip
COMPANY_HEADER = [
    "Код ЄДРПОУ/РНОКПП", "Повне найменування", "Скорочене найменування", "Організаційно-правова форма", "Стан",
    "Дата реєстрації", "Місцезнаходження", "Види діяльності (КВЕД)", "Статутний капітал, грн", "Керівник",
    "Засновники", "Кінцеві бенефіціарні власники",
]  # fmt: skip
PERSON_HEADER = ["Номер запису", "Джерело", "ПІБ", "Дата народження", "РНОКПП", "Адреса", "Ролі"]
MIRROR_HEADER = ["Країна-партнер", "Код товару (HS6)", "Місяць", "Експорт до України за даними партнера, USD"]

TRADER_CODE = "Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД"


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("customs")
    call_command("generate_customs", rows=ROWS, seed=SEED, out=out, stdout=StringIO())
    return out


@pytest.fixture(scope="module")
def declarations(run: Path) -> pd.DataFrame:
    frame = read(run / "declarations.csv")
    for column in ("Митна вартість, грн", "Маса нетто, кг", "Фактурна вартість", "Мито, грн", "ПДВ, грн"):
        frame[column + " #"] = frame[column].astype(float)
    return frame


@pytest.fixture(scope="module")
def schemed(run: Path, declarations: pd.DataFrame) -> pd.DataFrame:
    truth = read(run / "ground_truth" / "declaration_schemes.csv")
    return truth.merge(declarations, left_on="declaration_number", right_on="Номер декларації", how="left")


@pytest.fixture(scope="module")
def scheme_truth(run: Path) -> dict:
    return json.loads((run / "ground_truth" / "schemes.json").read_text(encoding="utf-8"))


def file_hashes(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


# Check digits ---------------------------------------------------------------------------------------------------


# Codes published by the organisations themselves (НБУ, ПриватБанк, Нафтогаз, Укрзалізниця, Укрпошта, Київстар,
# Ощадбанк, Держмитслужба, ДПС). They exercise both weight sets and, for ДПС (43005393), the second pass when the
# first remainder is 10. The algorithm is Держстат's, as documented in apps/datasets/synthetic/codes.py.
REAL_EDRPOU = ["00032106", "14360570", "20077720", "40075815", "21560045", "21673832", "00032129", "43115923",
               "43005393"]  # fmt: skip


@pytest.mark.parametrize("code", REAL_EDRPOU)
def test_real_edrpou_codes_are_valid(code: str) -> None:
    assert codes.is_valid_edrpou(code)
    assert codes.edrpou_check_digit(code[:7]) == int(code[7])


@pytest.mark.parametrize(
    "code", ["00032107", "14360571", "43005390", "4300539", "430053931", "4300539X", "", "４３００５３９３"]
)
def test_invalid_edrpou_codes_are_rejected(code: str) -> None:
    assert not codes.is_valid_edrpou(code)


def test_edrpou_check_digit_follows_the_definition() -> None:
    # 1436057: weights 1..7 give 1+8+9+24+0+30+49 = 121, 121 mod 11 = 0.
    assert codes.edrpou_check_digit("1436057") == 0
    # 4007581 lies between 30 and 60 million: weights 7,1,2,3,4,5,6 give 115, 115 mod 11 = 5.
    assert codes.edrpou_check_digit("4007581") == 5
    # 4300539: the first pass gives 120 mod 11 = 10, so weights + 2 (9,3,4,5,6,7,8) give 168 mod 11 = 3.
    assert codes.edrpou_check_digit("4300539") == 3


@pytest.mark.parametrize(
    ("code", "born", "male"),
    [
        # 36525 days after 31.12.1899 is 01.01.2000; the examples of the public rnokpp helper libraries.
        ("3652504575", datetime.date(2000, 1, 1), True),
        ("3068208400", datetime.date(1984, 1, 2), False),
        # python-stdnum's documented example of stdnum.ua.rntrc.
        ("1759013776", datetime.date(1948, 2, 28), True),
    ],
)
def test_real_rnokpp_examples_are_valid(code: str, born: datetime.date, male: bool) -> None:
    assert codes.is_valid_rnokpp(code)
    assert codes.rnokpp_birth_date(code) == born
    assert codes.rnokpp_is_male(code) is male


@pytest.mark.parametrize("code", ["1759013770", "3652504574", "365250457", "36525045751", "365250457A"])
def test_invalid_rnokpp_are_rejected(code: str) -> None:
    assert not codes.is_valid_rnokpp(code)


def test_rnokpp_check_digit_follows_the_definition() -> None:
    # 175901377: -1*1 + 5*7 + 7*5 + 9*9 + 4*0 + 6*1 + 10*3 + 5*7 + 7*7 = 270; 270 mod 11 = 6; 6 mod 10 = 6.
    assert codes.rnokpp_check_digit("175901377") == 6
    generated = codes.rnokpp_for(birth_date=datetime.date(1990, 5, 17), serial=123, male=False)
    assert codes.is_valid_rnokpp(generated)
    assert codes.rnokpp_birth_date(generated) == datetime.date(1990, 5, 17)
    assert not codes.rnokpp_is_male(generated)


def test_transliteration_follows_the_national_standard() -> None:
    assert transliterate_uk("Зоря-Схід") == "Zoria-Skhid"
    assert transliterate_uk("Згурський") == "Zghurskyi"
    assert transliterate_uk("Юрій Яготин Знам'янка Єнакієве") == "Yurii Yahotyn Znamianka Yenakiieve"
    assert transliterate_uk("Приватне підприємство") == "Pryvatne pidpryiemstvo"


# Determinism and the command ------------------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        call_command("generate_customs", rows=3000, seed=seed, out=tmp_path / name, verbosity=0)
    first, second, other = (file_hashes(tmp_path / name) for name in "abc")
    assert first == second
    assert set(first) == set(other)
    assert first["declarations.csv"] != other["declarations.csv"]
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    for path, entry in manifest["files"].items():
        assert entry["sha256"] == first[path], path
    assert manifest["seed"] == 5
    assert manifest["parameters"]["rows"] == 3000


def test_command_rejects_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="fraud_rate"):
        call_command("generate_customs", rows=100, out=tmp_path, fraud_rate=0.9, verbosity=0)
    with pytest.raises(CommandError, match="rows"):
        call_command("generate_customs", rows=0, out=tmp_path, verbosity=0)


def test_command_refuses_an_output_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("not a directory", encoding="utf-8")
    with pytest.raises(CommandError, match="not a directory"):
        call_command("generate_customs", rows=100, out=target, verbosity=0)
    assert target.read_text(encoding="utf-8") == "not a directory"


def test_command_prints_a_summary(tmp_path: Path) -> None:
    out = StringIO()
    call_command("generate_customs", rows=500, seed=1, out=tmp_path, stdout=out)
    text = out.getvalue()
    assert "declarations: 500/500 rows" in text
    assert "declarations.csv" in text
    assert "Planted:" in text


def test_manifest_counts_match_the_files(run: Path) -> None:
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    for path, entry in manifest["files"].items():
        data = (run / path).read_bytes()
        assert entry["bytes"] == len(data)
        if path.endswith(".csv"):
            assert entry["rows"] == len(read(run / path))
    assert manifest["counts"]["declarations"] == ROWS


# Formats --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "header"),
    [
        ("declarations.csv", DECLARATION_HEADER),
        ("tax_invoices.csv", INVOICE_HEADER),
        ("registry_companies.csv", COMPANY_HEADER),
        ("registry_persons.csv", PERSON_HEADER),
        ("mirror_statistics.csv", MIRROR_HEADER),
    ],
)
def test_headers_are_the_documented_ones(run: Path, path: str, header: list[str]) -> None:
    with (run / path).open(encoding="utf-8", newline="") as handle:
        assert next(csv.reader(handle)) == header
    documentation = DOCS.read_text(encoding="utf-8")
    assert f"`{path}`" in documentation
    for column in header:
        assert column in documentation, column


def test_files_are_utf8_without_bom_and_parse_as_strict_csv(run: Path) -> None:
    for path in ("declarations.csv", "tax_invoices.csv", "registry_companies.csv", "registry_persons.csv"):
        data = (run / path).read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(StringIO(data.decode("utf-8")), strict=True))
        assert {len(row) for row in rows} == {len(rows[0])}, path


def test_goods_codes_are_ten_digit_text_with_leading_zeros(run: Path, declarations: pd.DataFrame) -> None:
    goods = declarations["Код товару УКТЗЕД"]
    assert goods.str.fullmatch(r"\d{10}").all()
    assert goods.str.startswith("0").sum() > 100
    assert set(goods) <= {g.code for g in reference.GOODS}
    assert read(run / "tax_invoices.csv")["Код товару УКТЗЕД"].str.fullmatch(r"\d{10}").all()


def test_declarations_are_realistic(declarations: pd.DataFrame) -> None:
    assert declarations["Номер декларації"].str.fullmatch(r"UA\d{6}/20(23|24|25)/\d{6}").all()
    assert declarations["Номер декларації"].is_unique
    dates = pd.to_datetime(declarations["Дата оформлення"], format="%d.%m.%Y")
    assert dates.is_monotonic_increasing
    assert (dates.max() - dates.min()).days > 700
    assert set(declarations["Напрямок"]) == {"ІМ", "ЕК"}
    assert declarations["Код митного органу"].nunique() >= 15
    countries = {c.iso for c in reference.COUNTRIES}
    for column in ("Країна контрагента", "Країна походження", "Країна відправлення"):
        assert set(declarations[column]) <= countries
    assert not {"RU", "BY"} & set(declarations["Країна контрагента"])
    assert declarations["Валюта"].nunique() >= 5
    imports = declarations[declarations["Напрямок"] == "ІМ"]
    expected_vat = imports["Митна вартість, грн #"] + imports["Мито, грн #"] + imports["Акциз, грн"].astype(float)
    vat_rate = imports["ПДВ, грн #"] / expected_vat.where(expected_vat > 0)
    assert vat_rate.round(2).isin([0.0, 0.07, 0.14, 0.2]).mean() > 0.99
    # Some descriptions are in Russian, most in Ukrainian.
    russian = declarations["Опис товару"].str.contains("ы|э|ъ", regex=True).mean()
    assert 0.005 < russian < 0.2


def test_every_code_in_every_file_has_a_valid_check_digit(run: Path, declarations: pd.DataFrame) -> None:
    def valid(code: str) -> bool:
        return codes.is_valid_edrpou(code) if len(code) == 8 else codes.is_valid_rnokpp(code)

    invoices = read(run / "tax_invoices.csv")
    companies = read(run / "registry_companies.csv")
    columns = [
        declarations[TRADER_CODE], declarations["Код декларанта"], invoices["Код ЄДРПОУ/РНОКПП продавця"],
        invoices["Код ЄДРПОУ/РНОКПП покупця"], companies["Код ЄДРПОУ/РНОКПП"],
    ]  # fmt: skip
    for column in columns:
        assert column.map(valid).all()
    assert (declarations[TRADER_CODE].str.len() == 8).mean() > 0.8
    persons = read(run / "registry_persons.csv")
    numbers = persons.loc[persons["РНОКПП"] != "", "РНОКПП"]
    assert numbers.map(codes.is_valid_rnokpp).all()
    register = persons[(persons["Джерело"] == "ЄДР")]
    born = pd.to_datetime(register["Дата народження"], format="%d.%m.%Y").dt.date
    assert (register["РНОКПП"].map(codes.rnokpp_birth_date) == born).all()


# Planted schemes ------------------------------------------------------------------------------------------------


def test_every_schemed_row_exists_in_the_files(run: Path, schemed: pd.DataFrame) -> None:
    assert schemed["Номер декларації"].notna().all()
    assert set(schemed["scheme"]) == {"under_invoicing", "misclassification", "split_shipment", "shell_company"}
    assert (schemed["declared_goods_code"] == schemed["Код товару УКТЗЕД"]).all()
    assert (schemed["trader_code"] == schemed[TRADER_CODE]).all()
    share = len(schemed) / ROWS
    assert 0.02 < share < 0.04  # the default fraud rate is 0.03
    invoices = read(run / "tax_invoices.csv")
    carousel = read(run / "ground_truth" / "invoice_schemes.csv")
    assert set(carousel["registration_number"]) <= set(invoices["Реєстраційний номер ПН"])


def test_under_invoiced_unit_values_are_far_below_their_peers(
    schemed: pd.DataFrame, declarations: pd.DataFrame
) -> None:
    frame = declarations.assign(unit_value=declarations["Митна вартість, грн #"] / declarations["Маса нетто, кг #"])
    clean = frame[(frame["Напрямок"] == "ІМ") & ~frame["Номер декларації"].isin(schemed["Номер декларації"])]
    peers = clean.groupby(["Код товару УКТЗЕД", "Країна походження"])["unit_value"].agg(["median", "count"])
    under = schemed[schemed["scheme"] == "under_invoicing"].join(
        peers, on=["Код товару УКТЗЕД", "Країна походження"], how="inner"
    )
    under = under[under["count"] >= 5]
    ratio = under["Митна вартість, грн #"] / under["Маса нетто, кг #"] / under["median"]
    assert len(ratio) > 100
    assert ratio.median() < 0.4
    assert (ratio < 0.7).mean() > 0.97
    # Honest rows rarely sit that low: the signature separates.
    honest = clean.join(peers, on=["Код товару УКТЗЕД", "Країна походження"])
    honest_ratio = honest["unit_value"] / honest["median"]
    assert (honest_ratio < 0.5).mean() < 0.01
    assert schemed.loc[schemed["scheme"] == "under_invoicing", "value_factor"].astype(float).between(0.15, 0.45).all()


def test_misclassified_goods_are_described_as_one_thing_and_declared_as_a_cheaper_one(schemed: pd.DataFrame) -> None:
    misclassified = schemed[schemed["scheme"] == "misclassification"]
    assert len(misclassified) > 50
    pairs = set(reference.MISCLASSIFICATION_PAIRS)
    goods = {g.code: g for g in reference.GOODS}
    for _index, row in misclassified.iterrows():
        true, declared = goods[row["true_goods_code"]], goods[row["declared_goods_code"]]
        assert (true.code, declared.code) in pairs
        assert true.duty_pct > declared.duty_pct or true.excise_eur_per_unit > declared.excise_eur_per_unit
        description = row["Опис товару"].lower()
        assert any(description.startswith(p.lower()) for p in (*true.descriptions_uk, true.description_ru))
        assert not any(description.startswith(p.lower()) for p in declared.descriptions_uk)
    regions = misclassified["Країна походження"].map(
        lambda iso: reference.COUNTRIES[reference.COUNTRY_INDEX[iso]].region
    )
    assert (regions != "EU").all()  # EU goods pay no duty under the DCFTA: nothing to gain


def test_split_shipments_are_each_under_the_threshold_and_sum_above_it(schemed: pd.DataFrame) -> None:
    split = schemed[schemed["scheme"] == "split_shipment"]
    assert split["group_id"].nunique() >= 10
    for _group, parts in split.groupby("group_id"):
        assert 3 <= len(parts) <= 6
        for column in (TRADER_CODE, "Код товару УКТЗЕД", "Дата оформлення", "Код митного органу", "Країна контрагента"):
            assert parts[column].nunique() == 1, column
        assert (parts["Валюта"] == "EUR").all()
        values = parts["Фактурна вартість #"]
        assert (values < SPLIT_THRESHOLD_EUR).all()
        assert values.sum() > SPLIT_THRESHOLD_EUR
        assert (parts["Мито, грн #"] == 0).all()
        assert (parts["ПДВ, грн #"] == 0).all()
        assert (parts["Вид транспорту"] == "поштове відправлення").all()


def test_shell_companies_have_the_shell_signature(run: Path, scheme_truth: dict, declarations: pd.DataFrame) -> None:
    shells = scheme_truth["shell_companies"]
    assert len(shells) >= 4
    companies = read(run / "registry_companies.csv").set_index("Код ЄДРПОУ/РНОКПП")
    rows_per_trader = declarations.groupby(TRADER_CODE).size()
    active = [shell for shell in shells if shell["declaration_rows"]]
    assert len(active) >= 3
    for shell in active:
        registered = datetime.date.fromisoformat(shell["registered"])
        window = [datetime.date.fromisoformat(day) for day in shell["trading_window"]]
        first = datetime.date.fromisoformat(shell["first_declaration"])
        last = datetime.date.fromisoformat(shell["last_declaration"])
        assert 20 <= (window[0] - registered).days <= 120  # fresh: trading within months of registration
        assert window[0] <= first <= last <= window[1]
        months = max((last - first).days / 30.4, 1)
        assert shell["declaration_rows"] / months > 4 * rows_per_trader.median() / 24  # far busier than usual
        assert companies.loc[shell["code"], "Дата реєстрації"] == registered.strftime("%d.%m.%Y")
        assert shell["capital_uah"] <= 5000
    # Mass registration addresses: several companies in one building.
    for address in scheme_truth["mass_addresses"]:
        in_building = companies["Місцезнаходження"].str.contains(address["building"], regex=False).sum()
        assert in_building >= len(address["companies"]) >= 1
    assert max(len(a["companies"]) for a in scheme_truth["mass_addresses"]) >= 2
    # Shared (nominee) directors: one person runs several shells.
    assert max(len(n["directs"]) for n in scheme_truth["nominee_directors"]) >= 2
    shell_ids = {shell["entity_id"] for shell in shells}
    for nominee in scheme_truth["nominee_directors"]:
        assert set(nominee["directs"]) <= shell_ids


def test_vat_carousel_invoices_form_cycles(run: Path, scheme_truth: dict) -> None:
    invoices = read(run / "tax_invoices.csv").set_index("Реєстраційний номер ПН")
    rings = scheme_truth["vat_carousels"]["rings"]
    assert len(rings) >= 2
    for ring in rings:
        members = ring["member_codes"]
        assert 3 <= len(members) <= 5
        assert len(set(members)) == len(members)
        edges = invoices.loc[ring["invoices"], ["Код ЄДРПОУ/РНОКПП продавця", "Код ЄДРПОУ/РНОКПП покупця"]]
        next_of = dict(zip(edges.iloc[:, 0], edges.iloc[:, 1], strict=False))
        assert set(next_of) == set(members)
        seen, current = [], members[0]
        for _ in members:
            seen.append(current)
            current = next_of[current]
        assert current == members[0]  # A→B→…→A
        assert sorted(seen) == sorted(members)
        assert (invoices.loc[ring["invoices"], "Код товару УКТЗЕД"] == ring["goods_code"]).all()
        assert len(ring["invoices"]) == len(members) * ring["rounds"]


def test_mirror_mismatches_are_inflated_partner_figures(run: Path, scheme_truth: dict) -> None:
    mirror = read(run / "mirror_statistics.csv")
    mirror["value"] = mirror["Експорт до України за даними партнера, USD"].astype(float)
    indexed = mirror.set_index(["Країна-партнер", "Код товару (HS6)", "Місяць"])["value"]
    planted = scheme_truth["mirror_mismatches"]["planted"]
    assert planted
    for cell in planted:
        reported = indexed[(cell["country"], cell["hs6"], cell["month"])]
        assert reported == pytest.approx(cell["partner_reported_usd"], abs=0.01)
        assert reported / cell["ukraine_true_usd"] >= 1.8


def test_inspection_outcome_is_correlated_with_the_schemes(schemed: pd.DataFrame, declarations: pd.DataFrame) -> None:
    labelled = declarations[declarations["Виявлено порушення"] != ""]
    assert 0.27 < len(labelled) / ROWS < 0.33  # the default labelled share is 0.3
    assert set(labelled["Виявлено порушення"]) == {"так", "ні"}
    assert (declarations.loc[declarations["Виявлено порушення"] == "", "Донараховано, грн"] == "").all()
    found = labelled["Виявлено порушення"] == "так"
    revenue = labelled["Донараховано, грн"].astype(float)
    assert (revenue[found] > 0).all()
    assert (revenue[~found] == 0).all()
    is_schemed = labelled["Номер декларації"].isin(schemed["Номер декларації"])
    assert found[is_schemed].mean() > 0.6
    assert found[~is_schemed].mean() < 0.03
    assert found[is_schemed].sum() > found[~is_schemed].sum()  # noise exists but schemes dominate
    assert found[~is_schemed].sum() > 0


# Entity resolution ground truth ---------------------------------------------------------------------------------


def test_every_party_mention_maps_to_its_entity(run: Path, declarations: pd.DataFrame) -> None:
    mentions = read(run / "ground_truth" / "entity_mentions.csv")
    entities = read(run / "ground_truth" / "entities.csv").set_index("entity_id")
    assert mentions["entity_id"].isin(entities.index).all()
    key = ["source", "role", "code", "name", "country"]
    assert not mentions.duplicated(key).any()
    lookup = mentions.set_index(key)["entity_id"]
    traders = declarations[[TRADER_CODE, "Суб'єкт ЗЕД"]].drop_duplicates()
    for code, name in traders.itertuples(index=False):
        entity = lookup[("declarations", "trader", code, name, "UA")]
        assert entities.loc[entity, "code"] == code
    partners = declarations[["Іноземний контрагент", "Країна контрагента"]].drop_duplicates()
    for name, country in partners.itertuples(index=False):
        entity = lookup[("declarations", "counterparty", "", name, country)]
        assert entities.loc[entity, "country"] == country
    counted = mentions[(mentions["source"] == "declarations") & (mentions["role"] == "trader")]["rows"].astype(int)
    assert counted.sum() == ROWS


def test_names_appear_in_the_documented_variants(run: Path) -> None:
    mentions = read(run / "ground_truth" / "entity_mentions.csv")
    by_entity = mentions[mentions["entity_id"].str.startswith("C")].groupby("entity_id")["name"].apply(set)
    variants = max(by_entity, key=len)
    assert len(variants) >= 5
    names = mentions["name"]
    assert names.str.contains("«").any()
    assert names.str.contains('"').any()
    assert names.str.startswith("Товариство з обмеженою відповідальністю").any()
    assert names.str.startswith("ТОВАРИСТВО З ОБМЕЖЕНОЮ ВІДПОВІДАЛЬНІСТЮ").any()
    assert names.str.startswith("ООО").any()  # Russian spelling
    assert names.str.contains(r"\bLLC\b|\bTOV\b", regex=True).any()  # Latin
    company_spellings = {"short", "short_ascii_quotes", "full_upper", "full", "name_first", "latin", "russian", "typo",
                         "bare"}  # fmt: skip
    partner_spellings = {"canonical", "upper", "legal_form", "no_punctuation", "typo", "cyrillic", "no_legal_form"}
    assert set(mentions.loc[mentions["role"] != "counterparty", "spelling"]) == company_spellings
    assert set(mentions.loc[mentions["role"] == "counterparty", "spelling"]) == partner_spellings
    partners = mentions[mentions["role"] == "counterparty"]
    assert partners["name"].str.contains("[а-яі]", regex=True).any()  # foreign names typed in Cyrillic
    # A spelling points at one entity only within its code (companies) or country (partners).
    assert not partners.duplicated(["name", "country"]).any()


def test_latin_variants_follow_the_national_transliteration(run: Path) -> None:
    entities = read(run / "ground_truth" / "entities.csv")
    mentions = read(run / "ground_truth" / "entity_mentions.csv")
    companies = entities[entities["kind"] == "company"].set_index("entity_id")["name"]
    latin = mentions[
        mentions["name"].str.contains(r"^[A-Za-z\"' ,.-]+$", regex=True) & mentions["entity_id"].str.startswith("C")
    ]
    assert len(latin) > 10
    for row in latin.head(50).itertuples():
        brand = companies[row.entity_id].split("«", 1)[1].rsplit("»", 1)[0]
        assert transliterate_uk(brand) in row.name


def test_register_records_map_to_people_and_companies(run: Path) -> None:
    records = read(run / "ground_truth" / "record_entities.csv")
    entities = read(run / "ground_truth" / "entities.csv").set_index("entity_id")
    assert records["entity_id"].isin(entities.index).all()
    persons = read(run / "registry_persons.csv")
    person_truth = records[records["source"] == "registry_persons"].set_index("record_key")
    assert set(person_truth.index) == set(persons["Номер запису"])
    # Duplicates: the same person recorded several times, under different spellings.
    per_entity = person_truth.groupby("entity_id").size()
    assert (per_entity > 1).mean() > 0.25
    merged = persons.merge(person_truth, left_on="Номер запису", right_index=True)
    assert (merged["ПІБ"] == merged["name"]).all()
    differing = merged.groupby("entity_id")["ПІБ"].nunique()
    assert (differing > 1).sum() > 50
    companies = read(run / "registry_companies.csv")
    company_truth = records[(records["source"] == "registry_companies") & (records["role"] == "director")]
    directors = companies.set_index("Код ЄДРПОУ/РНОКПП")["Керівник"]
    for row in company_truth.head(200).itertuples():
        assert directors[row.record_key] == row.name
        assert row.entity_id.startswith("P")


def test_sole_traders_are_people(run: Path, declarations: pd.DataFrame) -> None:
    mentions = read(run / "ground_truth" / "entity_mentions.csv")
    sole = mentions[mentions["code"].str.len() == 10]
    assert len(sole) > 0
    assert sole["entity_id"].str.startswith("P").all()
    entities = read(run / "ground_truth" / "entities.csv").set_index("entity_id")
    assert entities.loc[sole["entity_id"].unique(), "roles"].str.contains("fop").all()
    assert declarations[TRADER_CODE].isin(sole["code"]).any()


def test_ground_truth_summarises_the_run(run: Path, scheme_truth: dict) -> None:
    truth = read(run / "ground_truth" / "declaration_schemes.csv")
    assert scheme_truth["counts"]["schemed_declarations"] == truth["scheme"].value_counts().to_dict()
    assert scheme_truth["parameters"]["split_threshold_eur"] == SPLIT_THRESHOLD_EUR
    assert (
        scheme_truth["counts"]["split_groups"] == truth.loc[truth["scheme"] == "split_shipment", "group_id"].nunique()
    )
    entities = read(run / "ground_truth" / "entities.csv").set_index("entity_id")
    shells = [shell["entity_id"] for shell in scheme_truth["shell_companies"]]
    assert (entities.loc[shells, "is_shell"] == "1").all()
    assert (entities["is_shell"] == "1").sum() == len(shells)
    assert (entities.loc[scheme_truth["dishonest_traders"], "is_dishonest"] == "1").all()
    shell_rows = truth[truth["scheme"] == "shell_company"]
    assert set(shell_rows["group_id"]) <= set(shells)
    assert set(shell_rows["trader_entity_id"]) == set(shell_rows["group_id"])
    controllers = scheme_truth["controllers"]
    assert controllers
    assert all(set(c["shells"]) <= set(shells) for c in controllers)
    assert (entities.loc[[c["entity_id"] for c in controllers], "is_controller"] == "1").all()
