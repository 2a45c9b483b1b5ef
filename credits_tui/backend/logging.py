"""A last line of defence: secrets that slip into a log record are masked before output."""

from __future__ import annotations

import logging
import re

_SECRETS = [
    (re.compile(r"ct_[A-Za-z0-9_-]{20,}"), "ct_[redacted]"),          # bearer tokens
    (re.compile(r"(?i)(bearer\s+)\S+"), r"\1[redacted]"),
    (re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), "[card number redacted]"),
    (re.compile(r'(?i)("?password"?\s*[:=]\s*)"[^"]*"'), r'\1"[redacted]"'),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_redaction() -> None:
    """Attach the filter to the handlers of the loggers this server writes to."""
    for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error", "credits_tui"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
