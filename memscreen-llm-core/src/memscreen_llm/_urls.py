"""Showing URLs without the credentials they may carry (http://user:password@host)."""

from __future__ import annotations

import logging
import re

REDACTED = "***"


def redact_url(url: str) -> str:
    """`url` with its userinfo (user name and password) replaced: safe to show or log."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    _userinfo, _, host = rest.partition("@")
    return f"{scheme}://{REDACTED}@{host}"


def redact_urls_in(text: str, url: str) -> str:
    """`text` (e.g. a transport's error) with `url`'s credentials redacted wherever it
    repeats them."""
    _scheme, sep, rest = url.partition("://")
    userinfo = rest.split("/", 1)[0].rpartition("@")[0] if sep else ""
    return text.replace(userinfo, REDACTED) if userinfo else text


_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s'\"]+@")


def redact_all_urls(text: str) -> str:
    """Every URL's userinfo in `text` redacted (for log lines of unknown content)."""
    return _USERINFO.sub(rf"\g<scheme>{REDACTED}@", text)


# The HTTP libraries and SDKs log request URLs (at INFO and DEBUG): a password in a
# base_url would appear there. A filter on each of their loggers redacts it.
HTTP_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "openai", "openai._base_client",
                "ollama", "ollama._client")


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "@" in message:
            record.msg, record.args = redact_all_urls(message), None
        return True


_FILTER = _RedactingFilter()


def guard_http_logs() -> None:
    """Install the redacting filter on the HTTP libraries' loggers (once)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
