"""Personal data that reaches a log line or an error report is masked before anyone reads it."""

from __future__ import annotations

import logging
import sys

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from apps.datasets.synthetic.codes import rnokpp_for
from apps.privacy.log_masking import PIIExceptionReporterFilter, PIILogFilter, mask_pii_text

TAX_NUMBER = rnokpp_for(birth_date=__import__("datetime").date(1977, 7, 7), serial=707, male=True)
GOODS_CODE = "0803901000"


def test_personal_values_are_masked_and_codes_that_are_not_personal_stay() -> None:
    text = (
        f"search q={TAX_NUMBER} phone +380 97 707 07 07, 0977070707, mail olena.k@example.org, passport КВ123456, "
        f"iban UA213223130000026007233566001, goods {GOODS_CODE}, ЄДРПОУ 32855961"
    )
    masked = mask_pii_text(text)
    for personal in (TAX_NUMBER, "707 07 07", "0977070707", "olena.k@example.org", "КВ123456", "UA2132231300"):
        assert personal not in masked
    assert GOODS_CODE in masked
    assert "32855961" in masked
    assert "[masked tax]" in masked
    assert "[masked email]" in masked


def test_the_logging_configuration_masks_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, PIILogFilter) for f in h.filters))
    record = logging.LogRecord("apps.test", logging.ERROR, __file__, 1, "no person with РНОКПП %s", (TAX_NUMBER,), None)
    try:
        raise ValueError(f"bad row: {TAX_NUMBER}")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert handler.filter(record)
    assert TAX_NUMBER not in record.getMessage()
    assert TAX_NUMBER not in (record.exc_text or "")
    assert "[masked tax]" in (record.exc_text or "")


def test_error_reports_mask_post_data_and_hide_the_pepper() -> None:
    request = RequestFactory().post("/entities/", {"q": TAX_NUMBER, "note": "call +380977070707"})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
    assert isinstance(reporter.filter, PIIExceptionReporterFilter)
    text = reporter.get_traceback_text()
    assert TAX_NUMBER not in text
    assert "380977070707" not in text
    html = reporter.get_traceback_html()
    assert "PII_PEPPER" in html
    assert django_settings.PII_PEPPER not in html
