"""The PII vault: clear values behind tokens, encrypted, bound to their token, noted only while recording."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from apps.privacy.masking import PIIKind, pii_token, pii_tokens
from apps.privacy.vault import current_ledger, decrypt, encrypt, recording_tokens

NAME = "Шевченко Тарас Григорович"


def test_a_value_round_trips_and_its_ciphertext_reveals_nothing() -> None:
    token = pii_token(NAME, PIIKind.PERSON_NAME)
    ciphertext = encrypt(token, NAME)
    assert NAME.encode() not in ciphertext
    assert encrypt(token, NAME) != ciphertext  # a fresh nonce every time
    assert decrypt(token, ciphertext) == NAME


def test_a_ciphertext_moved_to_another_token_or_read_with_another_key_does_not_decrypt() -> None:
    token = pii_token(NAME, PIIKind.PERSON_NAME)
    ciphertext = encrypt(token, NAME)
    with pytest.raises(InvalidTag):
        decrypt(pii_token("Інша Особа", PIIKind.PERSON_NAME), ciphertext)
    with override_settings(PII_VAULT_KEY="another-key"), pytest.raises(InvalidTag):
        decrypt(token, ciphertext)


@override_settings(PII_VAULT_KEY="")
def test_without_a_vault_key_nothing_is_encrypted() -> None:
    with pytest.raises(ImproperlyConfigured, match="PII_VAULT_KEY"):
        encrypt("PII-name-X", NAME)


def test_tokens_are_noted_once_with_their_first_spelling_only_while_recording() -> None:
    assert current_ledger() is None
    pii_token(NAME, PIIKind.PERSON_NAME)
    with recording_tokens() as ledger:
        name = pii_token(NAME, PIIKind.PERSON_NAME)
        again = pii_tokens([NAME.upper(), None, "  ", "3012345678"], PIIKind.PERSON_NAME)
        tax = pii_token("3012345678", PIIKind.TAX_NUMBER)
        assert again[0] == name
        assert ledger.drain() == [
            (name, "name", NAME),
            (again[3], "name", "3012345678"),
            (tax, "tax", "3012345678"),
        ]
        pii_token(NAME, PIIKind.PERSON_NAME)
        assert ledger.drain() == []
    assert current_ledger() is None
