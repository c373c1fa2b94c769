from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from apps.privacy.masking import PIIKind, is_pii_token, normalize_pii, pii_token, pii_tokens


def test_a_token_is_stable_and_hides_the_value() -> None:
    token = pii_token("3012345678", PIIKind.TAX_NUMBER)

    assert token == pii_token("3012345678", PIIKind.TAX_NUMBER)
    assert "3012345678" not in token
    assert is_pii_token(token)
    assert token.startswith("PII-tax-")


def test_spacing_case_and_width_variants_link() -> None:
    assert pii_token("  ШЕВЧЕНКО   Тарас ", PIIKind.PERSON_NAME) == pii_token("Шевченко Тарас", PIIKind.PERSON_NAME)
    assert normalize_pii("３０１２") == "3012", "full-width digits fold to ASCII"


def test_different_values_kinds_and_peppers_give_different_tokens() -> None:
    tax = pii_token("3012345678", PIIKind.TAX_NUMBER)

    assert tax != pii_token("3012345679", PIIKind.TAX_NUMBER)
    assert tax != pii_token("3012345678", PIIKind.PHONE)
    with override_settings(PII_PEPPER="another-pepper"):
        assert tax != pii_token("3012345678", PIIKind.TAX_NUMBER)


def test_a_column_keeps_missing_values_missing() -> None:
    tokens = pii_tokens(["Іван Петренко", None, "  ", "Іван Петренко"], PIIKind.PERSON_NAME)

    assert tokens[1] is None
    assert tokens[2] is None
    assert tokens[0] == tokens[3] == pii_token("Іван Петренко", PIIKind.PERSON_NAME)


@override_settings(PII_PEPPER="")
def test_masking_without_a_pepper_refuses_rather_than_hashing_plainly() -> None:
    with pytest.raises(ImproperlyConfigured, match="PII_PEPPER"):
        pii_token("3012345678", PIIKind.TAX_NUMBER)
