"""A last line of defence: secrets that slip into a log record are masked before output."""

from __future__ import annotations

import logging
import re

_SECRETS = [
    (re.compile(r"ct_[A-Za-z0-9_-]{20,}"), "ct_[redacted]"),          # bearer tokens
    (re.compile(r"(?i)(bearer\s+)\S+"), r"\1[redacted]"),
    (re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), "[card number redacted]"),
    (re.compile(r'(?i)("?password"?\s*[:=]\s*)"[^"]*"'), r'\1"[redacted]"'),
    (re.compile(r"(?i)(password=)[^&\s\"]*"), r"\1[redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class RedactingFilter(logging.Filter):
    """Masks the message and each argument, keeping the record's shape (uvicorn's access
    formatter unpacks ``record.args``).

    A record meets the filter twice on its way out, on its logger and on the handler, and is
    masked only the first time: every request writes an access line, and each of its
    arguments goes through every pattern.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "redacted", False):
            return True
        record.redacted = True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redact_value(arg) for key, arg in record.args.items()}
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
