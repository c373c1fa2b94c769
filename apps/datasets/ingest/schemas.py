"""What each record kind's fields are: type, rules, personal data, and the headers that name them in the wild.

One ``KindSchema`` per ``RecordKind``. Its fields are the record model's columns (``schema_for(kind).model``):
labels, maximum lengths and decimal precision come from the model, so the database and the validator never
disagree. The rest is ours:

- ``type`` says how text from a file becomes a value (``apps.datasets.ingest.validate``);
- ``required`` rows without the value are quarantined;
- ``pii`` fields are always personal and stored as masking tokens; ``personal_when`` fields become personal
  when the named tax-code field holds a 10-digit РНОКПП (a sole trader, ФОП, is a person: the code, the name
  and the address of a ФОП are personal data);
- ``synonyms`` are headers investigators meet in Ukrainian, Russian and English exports. Matching is done on
  normalised text (``apps.datasets.ingest.mapping.normalize_header``), so case, spacing, punctuation and the
  і/и, ё/е, apostrophe variants do not need listing. The field's own name always matches too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from django.db import models as django_models

from apps.datasets.models import RECORD_MODELS, RecordKind
from apps.privacy.masking import PIIKind

if TYPE_CHECKING:
    from django.utils.functional import Promise

    from apps.datasets.models import Record


class FieldType(StrEnum):
    TEXT = "text"
    CODE = "code"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATE = "date"
    DATETIME = "datetime"
    BOOL = "bool"
    COUNTRY = "country"
    CURRENCY = "currency"
    GOODS_CODE = "goods_code"
    TAX_CODE = "tax_code"
    # An anonymised party code (``with_anonymised_party_codes``): Latin letters and digits, no spaces.
    IDENTIFIER = "identifier"
    CHOICE = "choice"
    # "; "-separated people and organisations (register extracts): people are masked one by one.
    PARTY_LIST = "party_list"
    # A list of strings, given as a JSON array or separated by ";" or new lines.
    LIST = "list"


ZERO = Decimal(0)
# ЄДРПОУ (8 digits) for legal entities, РНОКПП (10 digits) for people.
COMPANY_OR_PERSON_CODE = (8, 10)
PERSON_CODE = (10,)
PERSONAL_CODE_LENGTH = 10


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    required: bool = False
    pii: PIIKind | None = None
    personal_when: str | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    # CHOICE: the stored value and the spellings (normalised like headers) that mean it.
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tax_code_lengths: tuple[int, ...] = COMPANY_OR_PERSON_CODE
    # Phone numbers and personal tax numbers inside free text are masked in place.
    mask_in_text: bool = False
    synonyms: tuple[str, ...] = ()
    # Filled from the model by KindSchema.
    label: str | Promise = ""
    max_length: int | None = None
    precision: int = 0
    scale: int = 0
    nullable: bool = True

    @property
    def masked(self) -> bool:
        """The stored value is a masking token (always, or for the rows of a person)."""
        return self.pii is not None or self.personal_when is not None


@dataclass(frozen=True)
class KindSchema:
    kind: RecordKind
    fields: tuple[FieldSpec, ...]

    @property
    def model(self) -> type[Record]:
        return RECORD_MODELS[self.kind]

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.kind} has no field {name!r}")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    @property
    def required_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.required)


def _with_model_facts(kind: RecordKind, specs: tuple[FieldSpec, ...]) -> KindSchema:
    model = RECORD_MODELS[kind]
    completed = []
    for spec in specs:
        model_field = model_column(model, spec.name)
        max_length = getattr(model_field, "max_length", None)
        precision = getattr(model_field, "max_digits", None) or 0
        scale = getattr(model_field, "decimal_places", None) or 0
        # A personal value is stored as a token; the column's length bounds the token, not the value in the file.
        if spec.pii is not None:
            max_length = None
        nullable = bool(getattr(model_field, "null", False))
        completed.append(
            replace(
                spec,
                label=model_field.verbose_name,
                max_length=max_length,
                precision=precision,
                scale=scale,
                nullable=nullable,
            )
        )
    return KindSchema(kind=kind, fields=tuple(completed))


def model_column(model: type[Record], name: str) -> django_models.Field:
    model_field = model._meta.get_field(name)
    if not isinstance(model_field, django_models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return model_field


def record_columns(model: type[Record]) -> list[str]:
    """The record table's data columns, in model order (without id, organisation, dataset and row)."""
    skip = {"id", "organization", "dataset", "row_number"}
    return [
        model_field.name
        for model_field in model._meta.concrete_fields
        if isinstance(model_field, django_models.Field) and model_field.name not in skip
    ]


def names(text: str) -> tuple[str, ...]:
    """Header spellings written one after another, separated by "|"."""
    return tuple(name.strip() for name in text.split("|") if name.strip())


# Spellings of the direction of a declaration: the customs regime prefix (ІМ40, ЕК10), words in three languages.
DIRECTION_CHOICES = {
    "import": ("им", "im", "импорт", "import", "ввезення", "ввоз", "ввезение", "i", "in"),
    "export": ("ек", "эк", "ex", "ek", "експорт", "экспорт", "export", "вивезення", "вывоз", "вывезение", "e", "out"),
}

# Shared by declarations and invoices.
GOODS_CODE_SYNONYMS = names(
    "Код товару УКТЗЕД | Код УКТЗЕД | УКТЗЕД | Код УКТ ЗЕД | УКТ ЗЕД | Код товару | Код товару (УКТЗЕД) | "
    "Код товара | Код УКТ ВЭД | УКТ ВЭД | Код товара по УКТ ВЭД | Код ТН ВЭД | ТН ВЭД | HS code | HS | "
    "Commodity code | Goods code | Tariff code | CN code | HS code (UKTZED) | HS10 code | HS10"
)
GOODS_DESCRIPTION_SYNONYMS = names(
    "Опис товару | Найменування товару | Назва товару | Товар | Опис | Описание товара | Наименование "
    "товара | Описание | Goods description | Description | Commodity description | Goods | Description of "
    "goods"
)
QUANTITY_SYNONYMS = names("Кількість | К-сть | Количество | Кол-во | Quantity | Qty")
UNIT_SYNONYMS = names(
    "Одиниця виміру | Од. виміру | Од виміру | Одиниця | Единица измерения | Ед. изм. | Ед изм | Unit | "
    "Unit of measure | UOM | Units"
)


CUSTOMS_DECLARATION = (
    FieldSpec(
        "declaration_number",
        FieldType.CODE,
        required=True,
        synonyms=names(
            "Номер декларації | Номер МД | № МД | Номер митної декларації | № декларації | Номер декларации | "
            "Номер таможенной декларации | № декларации | Номер ГТД | Declaration number | Declaration no | "
            "Declaration ID | Customs declaration number | Declaration"
        ),
    ),
    FieldSpec(
        "declaration_date",
        FieldType.DATE,
        required=True,
        synonyms=names(
            "Дата оформлення | Дата декларації | Дата МД | Дата митного оформлення | Дата | Дата оформления | "
            "Дата декларации | Дата таможенного оформления | Date | Declaration date | Clearance date"
        ),
    ),
    FieldSpec(
        "direction",
        FieldType.CHOICE,
        required=True,
        choices=DIRECTION_CHOICES,
        synonyms=names(
            "Напрямок | Напрям | Напрямок переміщення | Тип декларації | Митний режим | Направление | Направление "
            "перемещения | Тип декларации | Таможенный режим | Direction | Flow | Trade flow | Import/Export | "
            "Customs regime"
        ),
    ),
    FieldSpec(
        "customs_office_code",
        FieldType.CODE,
        synonyms=names(
            "Код митного органу | Код митниці | Код митного поста | Код таможенного органа | Код таможни | "
            "Customs office code | Office code | Office ID | Customs office ID"
        ),
    ),
    FieldSpec(
        "customs_office",
        FieldType.TEXT,
        synonyms=names(
            "Митний орган | Митниця | Митний пост | Таможенный орган | Таможня | Таможенный пост | Customs office "
            "| Customs post | Office"
        ),
    ),
    FieldSpec(
        "declarant_code",
        FieldType.TAX_CODE,
        personal_when="declarant_code",
        synonyms=names(
            "Код декларанта | ЄДРПОУ декларанта | Код ЄДРПОУ декларанта | Код ЕДРПОУ декларанта | ЕДРПОУ "
            "декларанта | Declarant code | Broker code | Declarant EDRPOU | Declarant ID"
        ),
    ),
    FieldSpec(
        "declarant_name",
        FieldType.TEXT,
        personal_when="declarant_code",
        synonyms=names(
            "Декларант | Назва декларанта | Найменування декларанта | Митний брокер | Наименование декларанта | "
            "Таможенный брокер | Declarant | Declarant name | Broker | Customs broker"
        ),
    ),
    FieldSpec(
        "trader_code",
        FieldType.TAX_CODE,
        required=True,
        personal_when="trader_code",
        synonyms=names(
            "Код ЄДРПОУ/РНОКПП суб'єкта ЗЕД | Код ЄДРПОУ суб'єкта ЗЕД | Код суб'єкта ЗЕД | ЄДРПОУ суб'єкта ЗЕД | "
            "Код ЄДРПОУ | ЄДРПОУ | Код ЄДРПОУ/РНОКПП | ЄДРПОУ/РНОКПП | Код отримувача | Код імпортера | Код "
            "ЕДРПОУ субъекта ВЭД | Код субъекта ВЭД | ЕДРПОУ | Код ЕДРПОУ | Код ЕГРПОУ | ЕГРПОУ | ОКПО | Код ОКПО "
            "| EDRPOU | Trader code | Company code | Importer code | Exporter code | Trader EDRPOU | Importer ID | "
            "Exporter ID | Trader ID"
        ),
    ),
    FieldSpec(
        "trader_name",
        FieldType.TEXT,
        personal_when="trader_code",
        synonyms=names(
            "Суб'єкт ЗЕД | Назва суб'єкта ЗЕД | Найменування суб'єкта ЗЕД | Імпортер/експортер | Імпортер | "
            "Отримувач | Субъект ВЭД | Наименование субъекта ВЭД | Название субъекта ВЭД | Импортер | "
            "Импортер/экспортер | Получатель | Trader | Trader name | Company | Company name | Importer | "
            "Importer/exporter"
        ),
    ),
    FieldSpec(
        "counterparty_name",
        FieldType.TEXT,
        synonyms=names(
            "Іноземний контрагент | Контрагент | Відправник/одержувач | Іноземний партнер | Постачальник | "
            "Иностранный контрагент | Отправитель/получатель | Иностранный партнер | Поставщик | Foreign "
            "counterparty | Counterparty | Foreign partner | Supplier | Consignor | Partner"
        ),
    ),
    FieldSpec(
        "counterparty_country",
        FieldType.COUNTRY,
        synonyms=names(
            "Країна контрагента | Країна партнера | Страна контрагента | Страна партнера | Counterparty country | "
            "Partner country"
        ),
    ),
    FieldSpec(
        "origin_country",
        FieldType.COUNTRY,
        synonyms=names(
            "Країна походження | Країна походження товару | Страна происхождения | Страна происхождения товара | "
            "Country of origin | Origin country | Origin"
        ),
    ),
    FieldSpec(
        "departure_country",
        FieldType.COUNTRY,
        synonyms=names(
            "Країна відправлення | Країна відправлення/призначення | Страна отправления | Страна "
            "отправления/назначения | Country of departure | Departure country | Country of dispatch | Dispatch "
            "country"
        ),
    ),
    FieldSpec("goods_code", FieldType.GOODS_CODE, required=True, synonyms=GOODS_CODE_SYNONYMS),
    FieldSpec("goods_description", FieldType.TEXT, synonyms=GOODS_DESCRIPTION_SYNONYMS),
    FieldSpec("quantity", FieldType.DECIMAL, min_value=ZERO, synonyms=QUANTITY_SYNONYMS),
    FieldSpec("unit", FieldType.TEXT, synonyms=UNIT_SYNONYMS),
    FieldSpec(
        "net_mass_kg",
        FieldType.DECIMAL,
        min_value=ZERO,
        synonyms=names(
            "Маса нетто, кг | Маса нетто | Вага нетто | Вага нетто, кг | Нетто | Масса нетто, кг | Масса нетто | "
            "Вес нетто | Вес нетто, кг | Net mass | Net mass, kg | Net weight | Net weight, kg"
        ),
    ),
    FieldSpec(
        "gross_mass_kg",
        FieldType.DECIMAL,
        min_value=ZERO,
        synonyms=names(
            "Маса брутто, кг | Маса брутто | Вага брутто | Вага брутто, кг | Брутто | Масса брутто, кг | Масса "
            "брутто | Вес брутто | Вес брутто, кг | Gross mass | Gross mass, kg | Gross weight | Gross weight, kg"
        ),
    ),
    FieldSpec(
        "invoice_value",
        FieldType.DECIMAL,
        min_value=ZERO,
        synonyms=names(
            "Фактурна вартість | Фактурна вартість, вал. | Вартість за фактурою | Фактурная стоимость | Стоимость "
            "по счету | Invoice value | Invoice amount"
        ),
    ),
    FieldSpec(
        "invoice_currency",
        FieldType.CURRENCY,
        synonyms=names(
            "Валюта | Валюта фактури | Валюта контракту | Валюта счета | Валюта контракта | Currency | Invoice currency"
        ),
    ),
    FieldSpec(
        "customs_value_uah",
        FieldType.DECIMAL,
        min_value=ZERO,
        synonyms=names(
            "Митна вартість, грн | Митна вартість | Таможенная стоимость, грн | Таможенная стоимость | Customs "
            "value | Customs value, UAH | Customs value UAH"
        ),
    ),
    FieldSpec(
        "duty_uah",
        FieldType.DECIMAL,
        min_value=ZERO,
        synonyms=names(
            "Мито, грн | Мито | Ввізне мито | Сума мита | Пошлина, грн | Пошлина | Ввозная пошлина | Duty | Duty, "
            "UAH | Import duty | Customs duty"
        ),
    ),
    FieldSpec(
        "vat_uah",
        FieldType.DECIMAL,
        min_value=ZERO,
        synonyms=names("ПДВ, грн | ПДВ | Сума ПДВ | НДС, грн | НДС | Сумма НДС | VAT | VAT, UAH | Import VAT"),
    ),
    FieldSpec(
        "excise_uah",
        FieldType.DECIMAL,
        min_value=ZERO,
        synonyms=names("Акциз, грн | Акциз | Акцизний податок | Акцизный налог | Excise | Excise, UAH | Excise duty"),
    ),
    FieldSpec(
        "transport_mode",
        FieldType.TEXT,
        synonyms=names(
            "Вид транспорту | Вид транспорту на кордоні | Вид транспорта | Transport mode | Mode of transport | "
            "Transport"
        ),
    ),
    FieldSpec(
        "incoterms",
        FieldType.CODE,
        synonyms=names(
            "Умови поставки | Умови поставки (Інкотермс) | Інкотермс | Базис поставки | Условия поставки | "
            "Инкотермс | Incoterms | Delivery terms | Terms of delivery"
        ),
    ),
    FieldSpec(
        "fraud_found",
        FieldType.BOOL,
        synonyms=names(
            "Виявлено порушення | Порушення | Порушення виявлено | Результат перевірки | Выявлено нарушение | "
            "Нарушение | Нарушение выявлено | Результат проверки | Fraud | Fraud found | Violation | Violation "
            "found | Label | Is fraud | Target | Inspection outcome"
        ),
    ),
    FieldSpec(
        "additional_revenue_uah",
        FieldType.DECIMAL,
        min_value=ZERO,
        synonyms=names(
            "Донараховано, грн | Донараховано | Донараховані платежі | Сума донарахування | Доначислено, грн | "
            "Доначислено | Сумма доначисления | Additional revenue | Additional revenue, UAH | Additional "
            "assessment | Assessed"
        ),
    ),
)

TAX_INVOICE = (
    FieldSpec(
        "registration_number",
        FieldType.CODE,
        synonyms=names(
            "Реєстраційний номер ПН | Реєстраційний номер | Номер реєстрації ПН | Номер у ЄРПН | Регистрационный "
            "номер НН | Регистрационный номер | Registration number | Registry number"
        ),
    ),
    FieldSpec(
        "invoice_number",
        FieldType.CODE,
        required=True,
        synonyms=names(
            "Номер ПН | Номер податкової накладної | Номер накладної | № ПН | Номер НН | Номер налоговой "
            "накладной | Номер накладной | Invoice number | Invoice no | Tax invoice number"
        ),
    ),
    FieldSpec(
        "invoice_date",
        FieldType.DATE,
        required=True,
        synonyms=names(
            "Дата складання | Дата ПН | Дата складання ПН | Дата накладної | Дата | Дата составления | Дата НН | "
            "Дата накладной | Invoice date | Date | Date of issue"
        ),
    ),
    FieldSpec(
        "seller_code",
        FieldType.TAX_CODE,
        required=True,
        personal_when="seller_code",
        synonyms=names(
            "Код ЄДРПОУ/РНОКПП продавця | Код продавця | ЄДРПОУ продавця | Код ЄДРПОУ продавця | Податковий номер "
            "продавця | Код продавца | ЕДРПОУ продавца | Код ЕДРПОУ продавца | Seller code | Seller tax number | "
            "Supplier code | Seller EDRPOU"
        ),
    ),
    FieldSpec(
        "seller_name",
        FieldType.TEXT,
        personal_when="seller_code",
        synonyms=names(
            "Продавець | Назва продавця | Найменування продавця | Постачальник | Продавец | Наименование продавца "
            "| Seller | Seller name | Supplier | Supplier name"
        ),
    ),
    FieldSpec(
        "buyer_code",
        FieldType.TAX_CODE,
        required=True,
        personal_when="buyer_code",
        synonyms=names(
            "Код ЄДРПОУ/РНОКПП покупця | Код покупця | ЄДРПОУ покупця | Код ЄДРПОУ покупця | Податковий номер "
            "покупця | Код покупателя | ЕДРПОУ покупателя | Код ЕДРПОУ покупателя | Buyer code | Buyer tax number "
            "| Customer code | Buyer EDRPOU"
        ),
    ),
    FieldSpec(
        "buyer_name",
        FieldType.TEXT,
        personal_when="buyer_code",
        synonyms=names(
            "Покупець | Назва покупця | Найменування покупця | Отримувач | Покупатель | Наименование покупателя | "
            "Buyer | Buyer name | Customer | Customer name"
        ),
    ),
    FieldSpec("goods_code", FieldType.GOODS_CODE, synonyms=GOODS_CODE_SYNONYMS),
    FieldSpec("goods_description", FieldType.TEXT, synonyms=GOODS_DESCRIPTION_SYNONYMS),
    FieldSpec("quantity", FieldType.DECIMAL, min_value=ZERO, synonyms=QUANTITY_SYNONYMS),
    FieldSpec("unit", FieldType.TEXT, synonyms=UNIT_SYNONYMS),
    FieldSpec(
        "amount_uah",
        FieldType.DECIMAL,
        required=True,
        min_value=ZERO,
        synonyms=names(
            "Сума без ПДВ, грн | Сума без ПДВ | Обсяг постачання без ПДВ | Сумма без НДС, грн | Сумма без НДС | "
            "Amount without VAT | Amount | Net amount | Amount excl. VAT"
        ),
    ),
    FieldSpec(
        "vat_rate",
        FieldType.DECIMAL,
        min_value=ZERO,
        max_value=Decimal(100),
        synonyms=names("Ставка ПДВ, % | Ставка ПДВ | Ставка НДС, % | Ставка НДС | VAT rate | VAT rate, %"),
    ),
    FieldSpec(
        "vat_uah",
        FieldType.DECIMAL,
        min_value=ZERO,
        synonyms=names("Сума ПДВ, грн | Сума ПДВ | ПДВ | Сумма НДС, грн | Сумма НДС | НДС | VAT | VAT amount"),
    ),
    FieldSpec(
        "total_uah",
        FieldType.DECIMAL,
        min_value=ZERO,
        synonyms=names(
            "Сума з ПДВ, грн | Сума з ПДВ | Загальна сума | Сума | Сумма с НДС, грн | Сумма с НДС | Общая сумма | "
            "Total | Total amount | Amount with VAT | Amount incl. VAT"
        ),
    ),
)

REGISTRY_COMPANY = (
    FieldSpec(
        "code",
        FieldType.TAX_CODE,
        required=True,
        personal_when="code",
        synonyms=names(
            "Код ЄДРПОУ/РНОКПП | Код ЄДРПОУ | ЄДРПОУ | Ідентифікаційний код | Ідентифікаційний код юридичної "
            "особи | Код | Код ЕДРПОУ | ЕДРПОУ | ЕГРПОУ | Код ЕГРПОУ | Идентификационный код | Code | EDRPOU | "
            "Company code | Registration code | Registration number"
        ),
    ),
    FieldSpec(
        "name",
        FieldType.TEXT,
        required=True,
        personal_when="code",
        synonyms=names(
            "Повне найменування | Найменування | Назва | Повна назва | Полное наименование | Наименование | "
            "Название | Name | Full name | Company name | Legal name"
        ),
    ),
    FieldSpec(
        "short_name",
        FieldType.TEXT,
        personal_when="code",
        synonyms=names(
            "Скорочене найменування | Скорочена назва | Сокращенное наименование | Краткое наименование | Short "
            "name | Abbreviated name"
        ),
    ),
    FieldSpec(
        "legal_form",
        FieldType.TEXT,
        synonyms=names("Організаційно-правова форма | ОПФ | Организационно-правовая форма | Legal form | Form"),
    ),
    FieldSpec(
        "status",
        FieldType.TEXT,
        synonyms=names("Стан | Статус | Стан суб'єкта | Состояние | Статус субъекта | Status | State"),
    ),
    FieldSpec(
        "registration_date",
        FieldType.DATE,
        synonyms=names(
            "Дата реєстрації | Дата державної реєстрації | Дата регистрации | Registration date | Registered"
        ),
    ),
    FieldSpec(
        "address",
        FieldType.TEXT,
        personal_when="code",
        synonyms=names(
            "Місцезнаходження | Адреса | Юридична адреса | Місцезнаходження юридичної особи | Местонахождение | "
            "Адрес | Юридический адрес | Address | Registered address | Legal address"
        ),
    ),
    FieldSpec(
        "activity_codes",
        FieldType.TEXT,
        synonyms=names(
            "Види діяльності (КВЕД) | Види діяльності | КВЕД | Основний вид діяльності | Виды деятельности | КВЭД "
            "| Activities | Activity codes | NACE | NACE codes"
        ),
    ),
    FieldSpec(
        "authorized_capital_uah",
        FieldType.DECIMAL,
        min_value=ZERO,
        synonyms=names(
            "Статутний капітал, грн | Статутний капітал | Розмір статутного капіталу | Уставный капитал, грн | "
            "Уставный капитал | Authorised capital | Authorized capital | Share capital"
        ),
    ),
    FieldSpec(
        "directors",
        FieldType.PARTY_LIST,
        synonyms=names("Керівник | Керівники | Директор | Підписант | Руководитель | Director | Directors | Head"),
    ),
    FieldSpec(
        "founders",
        FieldType.PARTY_LIST,
        synonyms=names(
            "Засновники | Засновник | Засновники (учасники) | Учредители | Учредитель | Founders | Shareholders"
        ),
    ),
    FieldSpec(
        "beneficial_owners",
        FieldType.PARTY_LIST,
        synonyms=names(
            "Кінцеві бенефіціарні власники | Кінцевий бенефіціарний власник | Бенефіціари | КБВ | Конечные "
            "бенефициарные владельцы | Бенефициары | Beneficial owners | UBO | Ultimate beneficial owners"
        ),
    ),
)

REGISTRY_PERSON = (
    FieldSpec(
        "record_number",
        FieldType.CODE,
        synonyms=names("Номер запису | № | № з/п | Номер записи | № п/п | Record number | No | Record"),
    ),
    FieldSpec(
        "source_name",
        FieldType.TEXT,
        synonyms=names("Джерело | Источник | Source"),
    ),
    FieldSpec(
        "full_name",
        FieldType.TEXT,
        required=True,
        pii=PIIKind.PERSON_NAME,
        synonyms=names(
            "ПІБ | Прізвище ім'я по батькові | Прізвище, ім'я, по батькові | ФІО | ФИО | Фамилия имя отчество | "
            "Full name | Name | Person | Person name"
        ),
    ),
    FieldSpec(
        "birth_date",
        FieldType.DATE,
        pii=PIIKind.BIRTH_DATE,
        synonyms=names("Дата народження | Дата рождения | Date of birth | Birth date | DOB"),
    ),
    FieldSpec(
        "tax_number",
        FieldType.TAX_CODE,
        pii=PIIKind.TAX_NUMBER,
        tax_code_lengths=PERSON_CODE,
        synonyms=names(
            "РНОКПП | ІПН | Ідентифікаційний номер | Реєстраційний номер облікової картки платника податків | "
            "Податковий номер | ИНН | Идентификационный номер | Tax number | TIN | Personal tax number"
        ),
    ),
    FieldSpec(
        "address",
        FieldType.TEXT,
        pii=PIIKind.ADDRESS,
        synonyms=names(
            "Адреса | Адреса проживання | Місце проживання | Адреса реєстрації | Адрес | Место жительства | Адрес "
            "регистрации | Address | Home address"
        ),
    ),
    FieldSpec(
        "roles",
        FieldType.TEXT,
        mask_in_text=True,
        synonyms=names("Ролі | Роль | Роли | Roles | Role"),
    ),
)

TELEGRAM_MESSAGE = (
    FieldSpec(
        "channel",
        FieldType.TEXT,
        required=True,
        synonyms=names("Канал | Chat | Channel name | chat_name"),
    ),
    FieldSpec(
        "message_id",
        FieldType.INTEGER,
        required=True,
        synonyms=names("id | Message id | ID повідомлення"),
    ),
    FieldSpec(
        "sent_at",
        FieldType.DATETIME,
        required=True,
        synonyms=names("date | Sent | Дата"),
    ),
    FieldSpec(
        "author",
        FieldType.TEXT,
        pii=PIIKind.PERSON_NAME,
        synonyms=names("from | Автор | Author name"),
    ),
    FieldSpec(
        "text",
        FieldType.TEXT,
        mask_in_text=True,
        synonyms=names("Текст | Message | Message text"),
    ),
    FieldSpec(
        "forwarded_from",
        FieldType.TEXT,
        pii=PIIKind.PERSON_NAME,
        synonyms=names("Переслано від | Forwarded"),
    ),
    FieldSpec(
        "links",
        FieldType.LIST,
        synonyms=names("Посилання | URLs"),
    ),
    FieldSpec(
        "phones",
        FieldType.LIST,
        pii=PIIKind.PHONE,
        synonyms=names("Телефони | Phone numbers"),
    ),
    FieldSpec(
        "codes",
        FieldType.LIST,
        synonyms=names("Коди | Company codes"),
    ),
)

DOCUMENT = (
    FieldSpec(
        "filename",
        FieldType.TEXT,
        required=True,
        synonyms=names("Файл | File | File name | Path"),
    ),
    FieldSpec(
        "sha256",
        FieldType.CODE,
        required=True,
        synonyms=names("hash | SHA-256"),
    ),
    FieldSpec(
        "page_count",
        FieldType.INTEGER,
        min_value=ZERO,
        synonyms=names("pages | Сторінок | Pages"),
    ),
    FieldSpec(
        "text",
        FieldType.TEXT,
        mask_in_text=True,
        synonyms=names("Текст | Content"),
    ),
)

SCHEMAS: dict[str, KindSchema] = {
    RecordKind.CUSTOMS_DECLARATION: _with_model_facts(RecordKind.CUSTOMS_DECLARATION, CUSTOMS_DECLARATION),
    RecordKind.TAX_INVOICE: _with_model_facts(RecordKind.TAX_INVOICE, TAX_INVOICE),
    RecordKind.REGISTRY_COMPANY: _with_model_facts(RecordKind.REGISTRY_COMPANY, REGISTRY_COMPANY),
    RecordKind.REGISTRY_PERSON: _with_model_facts(RecordKind.REGISTRY_PERSON, REGISTRY_PERSON),
    RecordKind.TELEGRAM_MESSAGE: _with_model_facts(RecordKind.TELEGRAM_MESSAGE, TELEGRAM_MESSAGE),
    RecordKind.DOCUMENT: _with_model_facts(RecordKind.DOCUMENT, DOCUMENT),
}


def party_code_fields(schema: KindSchema) -> tuple[str, ...]:
    """The codes of a record's parties: a company's ЄДРПОУ or a sole trader's РНОКПП (not a register person's tax
    number, which is always a person's)."""
    return tuple(spec.name for spec in schema.fields if spec.type is FieldType.TAX_CODE and spec.personal_when)


def with_anonymised_party_codes(schema: KindSchema) -> KindSchema:
    """The kind read from a file whose party codes are anonymised identifiers: each is an opaque code (kept as
    written, within the column's length), never checked as ЄДРПОУ/РНОКПП and never personal. It must look like an
    identifier (Latin letters and digits, no spaces), so that a column of names mapped there by mistake is refused,
    not stored in clear. The parties' names and addresses stay personal unless they read as a company's: no code
    tells a company from a person any more."""
    codes = party_code_fields(schema)
    return replace(
        schema,
        fields=tuple(
            replace(spec, type=FieldType.IDENTIFIER, personal_when=None) if spec.name in codes else spec
            for spec in schema.fields
        ),
    )


def schema_for(kind: str) -> KindSchema:
    try:
        return SCHEMAS[kind]
    except KeyError:
        raise ValueError(f"unknown record kind {kind!r}") from None


# ISO 3166-1 alpha-2, officially assigned codes (and XK, Kosovo, which customs systems use).
ISO_COUNTRIES = frozenset(
    re.findall(
        r"[A-Z]{2}",
        """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO
    FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE
    JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO
    MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM
    TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK
    """,
    )
)
