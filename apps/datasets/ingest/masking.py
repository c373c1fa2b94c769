"""Personal data of a record kind replaced by masking tokens (``apps.privacy.masking``), column by column.

- ``pii`` fields are always personal;
- ``personal_when`` fields are personal on the rows whose tax code is a 10-digit РНОКПП: a sole trader (ФОП)
  trades under the person's own number and name, so the code, the name and (for a register) the address are
  masked, while a company's ЄДРПОУ and name stay readable;
- party lists of a register (directors, founders, owners) mask each person and keep companies (``… (код
  12345678)``, a legal form, a foreign company with its country) and shares (``(частка 50%)``);
- free text (roles, messages, document text) has phone numbers, e-mail addresses and valid РНОКПП replaced in
  place by their tokens, so the text still reads and the tokens link to the masked columns.

Tokens are computed once per distinct value (a dictionary encoding of the column), so a column of a million
rows with ten thousand traders costs ten thousand keyed hashes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apps.datasets.synthetic.codes import is_valid_rnokpp
from apps.privacy.masking import PIIKind, pii_token, pii_tokens

# Ukrainian numbers in their usual spellings (+380 67 123 45 67, +38 (067) 123-45-67, 067 123 45 67,
# +380671234567) and other international numbers written with a leading +. Ten bare digits starting with 0 are
# not taken for a phone: goods codes look like that (0901210000).
PHONE_PATTERN = re.compile(
    r"(?<![\w+])(?:(?:\+?38[\s-]?)?\(?0[\s-]?\d{2}\)?[\s-]?\d{3}[\s-]?\d{2}[\s-]?\d{2}"
    r"|\+(?!38)\d{1,3}[\s-]?\(?\d{1,4}\)?(?:[\s-]?\d{2,4}){2,4})(?![\w])"
)
EMAIL_PATTERN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
TEN_DIGITS = re.compile(r"(?<!\d)\d{10}(?!\d)")
_SHARE = re.compile(r"\s*\((?:частка|частина|доля|share)[^)]*\)\s*$", re.IGNORECASE)
_COMPANY_MARKERS = re.compile(
    r"\(код\s*\d{8}\)|\([A-Z]{2}\)\s*$|[«»\"]|^(?:ТОВ|ПП|ПрАТ|ПАТ|АТ|ДП|ТДВ|КП|ООО|ЧП|ЧАО|ПАО|ОАО|ЗАО)\s"
    r"|\b(?:LLC|Ltd|Limited|GmbH|Inc|Corp|S\.A\.|S\.p\.A\.|Sp\. z o\.o\.|B\.V\.|AG|SE|PLC|Co\.)",
    re.IGNORECASE,
)
PARTY_SEPARATOR = "; "
RAW_CELL_LIMIT = 200
HIDDEN = "[…]"
GOODS_CODE_LIKE_LENGTH = 10


def canonical_phone(phone: str) -> str:
    """One spelling per number, so the same phone written two ways gets one token: ``+380671234567``."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 10 and digits.startswith("0"):
        digits = "38" + digits
    elif len(digits) == 11 and digits.startswith("80"):
        digits = "3" + digits
    return "+" + digits


def map_distinct(values: pa.Array, func: Callable[[str], object], result_type: pa.DataType) -> pa.Array:
    """``func`` applied once per distinct value of a string column; missing values stay missing."""
    encoded = pc.dictionary_encode(values)
    results = pa.array([func(value) for value in encoded.dictionary.to_pylist()], type=result_type)
    return results.take(encoded.indices)


def tokens(values: pa.Array, kind: PIIKind) -> pa.Array:
    """Masking tokens of a string column; empty and missing values stay missing."""
    encoded = pc.dictionary_encode(values)
    masked = pa.array(pii_tokens(encoded.dictionary.to_pylist(), kind), type=pa.string())
    return masked.take(encoded.indices)


def mask_where(values: pa.Array, personal: pa.Array, kind: PIIKind) -> pa.Array:
    """Tokens on the rows where ``personal`` is true, the value as it is elsewhere."""
    if not pc.any(personal).as_py():
        return values
    return pc.if_else(personal, tokens(pc.if_else(personal, values, None), kind), values)


def mask_text(text: str) -> str:
    """Phone numbers, e-mail addresses and personal tax numbers inside free text replaced by their tokens."""
    text = EMAIL_PATTERN.sub(lambda match: pii_token(match.group(), PIIKind.EMAIL), text)
    text = PHONE_PATTERN.sub(_phone_token, text)
    return TEN_DIGITS.sub(
        lambda match: pii_token(match.group(), PIIKind.TAX_NUMBER) if is_valid_rnokpp(match.group()) else match.group(),
        text,
    )


def _phone_token(match: re.Match[str]) -> str:
    phone = match.group()
    if phone.isdigit() and len(phone) == GOODS_CODE_LIKE_LENGTH:
        return phone
    return pii_token(canonical_phone(phone), PIIKind.PHONE)


def company_like(names: pa.Array) -> pa.Array:
    """True where a name reads as a company's: a legal form, quotes, a company code or a country in brackets."""
    return map_distinct(names, lambda name: bool(_COMPANY_MARKERS.search(name)), pa.bool_())


def mask_party(item: str) -> str:
    share_match = _SHARE.search(item)
    share = share_match.group().strip() if share_match else ""
    party = item[: share_match.start()].strip() if share_match else item.strip()
    if not party:
        return item.strip()
    masked = mask_text(party) if _COMPANY_MARKERS.search(party) else pii_token(party, PIIKind.PERSON_NAME)
    return f"{masked} {share}" if share else masked


def mask_party_list(text: str) -> str:
    """``Іваненко Петро (частка 50%); ТОВ «Зоря» (код 12345678)`` → ``PII-name-… (частка 50%); ТОВ «Зоря» …``."""
    return PARTY_SEPARATOR.join(mask_party(item) for item in text.split(";") if item.strip())


def mask_text_column(values: pa.Array) -> pa.Array:
    return map_distinct(values, mask_text, pa.string())


def mask_party_column(values: pa.Array) -> pa.Array:
    return map_distinct(values, mask_party_list, pa.string())


def mask_list_column(values: pa.Array, kind: PIIKind) -> pa.Array:
    """Every string of a list column replaced by its token (phones in their canonical spelling)."""
    flat = pc.list_flatten(values)
    if kind is PIIKind.PHONE:
        flat = map_distinct(flat, canonical_phone, pa.string())
    lengths = pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), type=pa.int32())
    return pa.ListArray.from_arrays(offsets, tokens(flat, kind), mask=values.is_null())


def hide_cells(values: pa.Array) -> pa.Array:
    """Cells that are not interpreted (unmapped, or in a row that could not be split) shown only as "[…]"."""
    present = pc.and_(pc.is_valid(values), pc.not_equal(values, ""))
    return pc.if_else(present, pa.scalar(HIDDEN), values)


def hide_unknown_cell(cell: str) -> str:
    """A cell of a row that could not be split into columns: numbers stay (minus personal ones), words go."""
    if re.search(r"[^\W\d_]", cell) or TEN_DIGITS.search(cell) or PHONE_PATTERN.search(cell):
        return HIDDEN
    return cell[:RAW_CELL_LIMIT]
