"""Showing URLs without the credentials they may carry (http://user:password@host)."""

from __future__ import annotations

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
