"""PII masking: a keyed hash turns a personal value into a stable token.

The same value always gives the same token (within one ``PII_PEPPER``), so
records still link on a masked tax number or name while nobody can read it.
Values are normalised first, so ``" 3012345678 "`` and ``"3012345678"`` or
``"ШЕВЧЕНКО  Тарас"`` and ``"Шевченко Тарас"`` link too. The keyed hash
(HMAC-SHA256) cannot be reversed or brute-forced without the pepper, which
plain SHA-256 of a 10-digit tax number could.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.privacy.vault import current_ledger

MASK_PREFIX = "PII"
# 64 bits of the HMAC: a collision stays below one in a million up to about six million distinct values of a kind.
TOKEN_BYTES = 8
_SPACES = re.compile(r"\s+")


class PIIKind(StrEnum):
    """What a personal value is; tokens of different kinds never collide."""

    PERSON_NAME = "name"
    TAX_NUMBER = "tax"
    IDENTITY_DOCUMENT = "doc"
    BIRTH_DATE = "dob"
    ADDRESS = "addr"
    PHONE = "tel"
    EMAIL = "mail"
    ACCOUNT = "acct"
    # Keys entity resolution blocks people on (parts of a normalised name); never stored in the vault.
    MATCH_KEY = "key"


def normalize_pii(value: str) -> str:
    """Case, width and spacing differences must not change the token."""
    value = unicodedata.normalize("NFKC", value).casefold()
    return _SPACES.sub(" ", value).strip()


def _pepper() -> bytes:
    pepper = settings.PII_PEPPER
    if not pepper:
        raise ImproperlyConfigured("PII_PEPPER is not set; personal data cannot be masked")
    return str(pepper).encode()


def _token(key: bytes, kind: PIIKind, value: str) -> str:
    digest = hmac.new(key, f"{kind}\x1f{normalize_pii(value)}".encode(), hashlib.sha256).digest()[:TOKEN_BYTES]
    return f"{MASK_PREFIX}-{kind}-{base64.b32encode(digest).decode().rstrip('=')}"


def pii_token(value: str, kind: PIIKind) -> str:
    token = _token(_pepper(), kind, value)
    ledger = current_ledger()
    if ledger is not None:
        ledger.note(token, kind, value)
    return token


def match_key_token(key: str) -> str:
    """A keyed hash of a matching key built from personal data: equal keys link, nothing can be read back.

    Unlike ``pii_token`` it is never noted for the vault: the key is derived, not a value anyone may unlock.
    """
    return _match_key_token(_pepper(), key)


@functools.lru_cache(maxsize=1 << 18)
def _match_key_token(pepper: bytes, key: str) -> str:
    # Entity resolution derives the same few keys (surname and initial, date of birth…) for many people.
    return _token(pepper, PIIKind.MATCH_KEY, key)


def pii_tokens(values: Iterable[str | None], kind: PIIKind) -> list[str | None]:
    """Tokens for a column of values; empty and missing values stay missing. Repeated values are hashed once."""
    key = _pepper()
    ledger = current_ledger()
    cache: dict[str, str] = {}
    tokens: list[str | None] = []
    for value in values:
        if value is None or not value.strip():
            tokens.append(None)
            continue
        token = cache.get(value)
        if token is None:
            token = cache[value] = _token(key, kind, value)
            if ledger is not None:
                ledger.note(token, kind, value)
        tokens.append(token)
    return tokens


def is_pii_token(value: str) -> bool:
    return value.startswith(f"{MASK_PREFIX}-")
