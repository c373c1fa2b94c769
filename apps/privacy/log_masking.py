"""Masking personal data in logs and error reports.

Records carry tokens, but a log line or a traceback can still hold what a user typed or a file contained: a
search for a tax number, a row that failed to parse, a form's POST data, a local variable. The log filter and the
exception reporter filter replace what looks like personal data — a РНОКПП with a valid check digit, a phone
number, an e-mail address, a passport number, an IBAN — with a fixed marker, and error reports also hide the
PII pepper and vault key.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

from apps.datasets.synthetic.codes import is_valid_rnokpp

MARKER = "[masked {kind}]"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("iban", re.compile(r"\bUA\d{2}(?:\s?\d){25}\b")),
    # +380 and any area, or a mobile operator's 0XX: a bare ten digits from 0 is as often a goods code.
    ("phone", re.compile(r"(?<![\w+])(?:\+?380\s?\(?\d{2}|\(?0(?:39|50|6[3678]|73|89|9[1-9]))\)?(?:[\s-]?\d){7}\b")),
    ("passport", re.compile(r"\b[А-ЯІЇЄҐ]{2}\s?\d{6}\b")),
]
_TEN_DIGITS = re.compile(r"(?<!\d)\d{10}(?!\d)")


def mask_pii_text(text: str) -> str:
    """``text`` with anything that looks like personal data replaced by a marker."""
    for kind, pattern in _PATTERNS:
        text = pattern.sub(MARKER.format(kind=kind), text)
    # Ten digits are also goods codes (УКТЗЕД); only a valid РНОКПП check digit marks a tax number.
    return _TEN_DIGITS.sub(
        lambda match: MARKER.format(kind="tax") if is_valid_rnokpp(match.group(0)) else match.group(0), text
    )


class PIILogFilter(logging.Filter):
    """Formats the record's message (and traceback) once and masks it; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a badly formatted record is logged as it is rather than lost
            return True
        record.msg = mask_pii_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pii_text(record.exc_text)
        return True


class PIIExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's error reports (debug page, admin e-mails) with personal data masked and the PII secrets hidden."""

    hidden_settings = re.compile("API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|PEPPER", flags=re.IGNORECASE)

    def get_post_parameters(self, request: Any) -> Any:
        parameters = super().get_post_parameters(request)
        if not parameters:
            return parameters
        masked: Any = parameters.copy()
        for key in list(masked):
            masked.setlist(key, [mask_pii_text(str(value)) for value in masked.getlist(key)])
        return masked

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [(name, self._masked(value)) for name, value in super().get_traceback_frame_variables(request, tb_frame)]

    @staticmethod
    def _masked(value: Any) -> Any:
        text = value if isinstance(value, str) else repr(value)
        masked = mask_pii_text(text)
        return value if masked == text else masked
