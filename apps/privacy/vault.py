"""The clear values behind masking tokens, encrypted with AES-256-GCM under a key derived from ``PII_VAULT_KEY``.

While a loader records (``recording_tokens``), every token ``apps.privacy.masking`` makes is noted with its clear
value; the loader drains the notes chunk by chunk (``TokenLedger.drain``), encrypts them (``encrypt``) and writes
them to ``PIIVaultEntry`` in the transaction that loads the records. ``vault_reveal`` reads values back for one
organisation; only the audited unlock and in-product matching may call it.

The token is the GCM associated data: a ciphertext copied onto another token's row does not decrypt.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12


@dataclass
class TokenLedger:
    """Tokens made since the last drain, with their clear values; each token is handed over once per ledger."""

    pending: dict[str, tuple[str, str]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)

    def note(self, token: str, kind: str, value: str) -> None:
        if token not in self.seen:
            self.seen.add(token)
            self.pending[token] = (kind, value)

    def drain(self) -> list[tuple[str, str, str]]:
        """``(token, kind, clear value)`` noted since the last drain."""
        entries = [(token, kind, value) for token, (kind, value) in self.pending.items()]
        self.pending = {}
        return entries


_ledger: ContextVar[TokenLedger | None] = ContextVar("pii_token_ledger", default=None)


@contextmanager
def recording_tokens() -> Iterator[TokenLedger]:
    """Note every token made in this context (this thread) with its clear value."""
    ledger = TokenLedger()
    reset = _ledger.set(ledger)
    try:
        yield ledger
    finally:
        _ledger.reset(reset)


def current_ledger() -> TokenLedger | None:
    return _ledger.get()


@cache
def _cipher(secret: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"nexus-core pii vault v1").derive(secret.encode())
    return AESGCM(key)


def _vault_cipher() -> AESGCM:
    secret = settings.PII_VAULT_KEY
    if not secret:
        raise ImproperlyConfigured("PII_VAULT_KEY is not set; personal data cannot be stored")
    return _cipher(str(secret))


def encrypt(token: str, value: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _vault_cipher().encrypt(nonce, value.encode(), token.encode())


def decrypt(token: str, ciphertext: bytes) -> str:
    """The clear value; ``cryptography.exceptions.InvalidTag`` when the key or the token does not match."""
    return _vault_cipher().decrypt(ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], token.encode()).decode()


def vault_reveal(*, organization_id: int, tokens: Iterable[str]) -> dict[str, str]:
    """``{token: clear value}`` of the tokens the organisation's data holds; unknown tokens are left out."""
    from apps.privacy.models import PIIVaultEntry

    wanted = set(tokens)
    entries = PIIVaultEntry.objects.filter(organization_id=organization_id, token__in=wanted)
    return {
        token: decrypt(token, bytes(ciphertext)) for token, ciphertext in entries.values_list("token", "ciphertext")
    }
