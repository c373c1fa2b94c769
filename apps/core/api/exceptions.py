"""The one place a domain error becomes an HTTP response."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from apps.accounts.tiers import QuotaExceeded
from apps.core.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DomainError and a model's ``full_clean()`` failure (raised in services) are the client's 400, not a 500."""
    if isinstance(exc, QuotaExceeded):
        # The tier's quota: 429 with Retry-After (DRF sets the header from ``wait``), not the 400 of a domain error.
        exc = exceptions.Throttled(wait=exc.retry_after, detail=str(exc))
    elif isinstance(exc, DomainError):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    return drf_exception_handler(exc, context)
