"""Ukrainian identification codes and their check digits.

Shared with the ingestion validator and entity resolution, so they take and return plain strings.

ЄДРПОУ (company code in the Unified State Register of Enterprises and Organisations of Ukraine), 8 digits,
the last one a check digit. The control-digit method published by Держстат for the register (the same one
python-stdnum implements as ``stdnum.ua.edrpou``):

1. weights 1, 2, 3, 4, 5, 6, 7 for the first seven digits; for codes between 30000000 and 60000000 the
   weights are 7, 1, 2, 3, 4, 5, 6;
2. the check digit is the weighted sum modulo 11;
3. when that remainder is 10, the sum is taken again with every weight increased by 2, and the new
   remainder is used (a second 10 becomes 0).

РНОКПП (registration number of the taxpayer's account card of an individual, formerly ІПН), 10 digits:
digits 1-5 are the number of days from 31.12.1899 to the date of birth, digits 6-9 a serial number whose
last digit is odd for men and even for women, digit 10 the check digit: the sum of the first nine digits
weighted -1, 5, 7, 9, 4, 6, 10, 5, 7, modulo 11, modulo 10 (ДПС's published structure of the number,
also python-stdnum's ``stdnum.ua.rntrc``).
"""

from __future__ import annotations

import datetime

EDRPOU_LENGTH = 8
RNOKPP_LENGTH = 10

_EDRPOU_WEIGHTS = (1, 2, 3, 4, 5, 6, 7)
_EDRPOU_WEIGHTS_MIDDLE = (7, 1, 2, 3, 4, 5, 6)
_RNOKPP_WEIGHTS = (-1, 5, 7, 9, 4, 6, 10, 5, 7)
RNOKPP_EPOCH = datetime.date(1899, 12, 31)


def edrpou_check_digit(first_seven: str) -> int:
    """The check digit of the ЄДРПОУ code that starts with these seven digits."""
    if len(first_seven) != EDRPOU_LENGTH - 1 or not first_seven.isdigit():
        raise ValueError(f"an ЄДРПОУ prefix is 7 digits, got {first_seven!r}")
    digits = [int(char) for char in first_seven]
    weights = _EDRPOU_WEIGHTS_MIDDLE if 3000000 <= int(first_seven) < 6000000 else _EDRPOU_WEIGHTS
    remainder = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
    if remainder == 10:
        remainder = sum((w + 2) * d for w, d in zip(weights, digits, strict=True)) % 11
    return remainder % 10


def is_valid_edrpou(code: str) -> bool:
    """True for an 8-digit ЄДРПОУ code whose last digit is its check digit."""
    if len(code) != EDRPOU_LENGTH or not code.isascii() or not code.isdigit():
        return False
    return edrpou_check_digit(code[:7]) == int(code[7])


def edrpou_from_prefix(first_seven: int) -> str:
    """The full ЄДРПОУ code for a seven-digit prefix (0 ≤ prefix < 10,000,000)."""
    prefix = f"{first_seven:07d}"
    return prefix + str(edrpou_check_digit(prefix))


def rnokpp_check_digit(first_nine: str) -> int:
    """The check digit of the РНОКПП that starts with these nine digits."""
    if len(first_nine) != RNOKPP_LENGTH - 1 or not first_nine.isdigit():
        raise ValueError(f"an РНОКПП prefix is 9 digits, got {first_nine!r}")
    total = sum(w * int(char) for w, char in zip(_RNOKPP_WEIGHTS, first_nine, strict=True))
    return total % 11 % 10


def is_valid_rnokpp(code: str) -> bool:
    """True for a 10-digit РНОКПП whose last digit is its check digit."""
    if len(code) != RNOKPP_LENGTH or not code.isascii() or not code.isdigit():
        return False
    return rnokpp_check_digit(code[:9]) == int(code[9])


def rnokpp_for(*, birth_date: datetime.date, serial: int, male: bool) -> str:
    """A valid РНОКПП for a person born on ``birth_date``; ``serial`` (0-999) tells namesakes apart."""
    days = (birth_date - RNOKPP_EPOCH).days
    if not 0 < days < 100000:
        raise ValueError(f"no РНОКПП encodes the birth date {birth_date}")
    if not 0 <= serial < 1000:
        raise ValueError("the serial is three digits")
    sex_digit = (serial % 5) * 2 + (1 if male else 0)
    first_nine = f"{days:05d}{serial:03d}{sex_digit}"
    return first_nine + str(rnokpp_check_digit(first_nine))


def rnokpp_birth_date(code: str) -> datetime.date:
    """The date of birth a valid РНОКПП encodes."""
    return RNOKPP_EPOCH + datetime.timedelta(days=int(code[:5]))


def rnokpp_is_male(code: str) -> bool:
    return int(code[8]) % 2 == 1
