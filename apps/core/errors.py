class DomainError(Exception):
    """A business rule refused an operation. Mapped to HTTP 400 in one place (apps.core.api.exceptions)."""
