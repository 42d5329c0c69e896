"""Connection URLs of the scale-out stores, shown in logs and output without their passwords."""

from __future__ import annotations

import re
from urllib.parse import unquote

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SECRET_PARAM = re.compile(r"(?i)([?&](?:password|passwd|pwd|secret|sslpassword)=)[^&#]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def redact(url: str) -> str:
    """The URL without its password, failing closed: the user information is everything up to the last "@"
    (a password may hold unescaped "/", "?", "#", "%" or "@" that a URL parser would not find), and after its
    first ":" it is replaced by ***; so is the value of a `password=` query parameter."""
    scheme = _SCHEME.match(url)
    at = url.rfind("@")
    if scheme is not None and at > scheme.end():
        user, colon, _ = url[scheme.end() : at].partition(":")
        if colon:
            url = f"{url[: scheme.end()]}{user}:***{url[at:]}"
    return _SECRET_PARAM.sub(r"\1***", url)


def badly_escaped(url: str) -> bool:
    """Whether the URL's user information holds a "%" that is not a %XX escape (drivers reject it and may
    log the password while saying so)."""
    scheme = _SCHEME.match(url)
    at = url.rfind("@")
    return scheme is not None and at > scheme.end() and _BAD_ESCAPE.search(url[scheme.end() : at]) is not None


def scrub(text: str, url: str) -> str:
    """`text` (a driver's error message about `url`) with the URL's password replaced by ***, as written and
    percent-decoded."""
    scheme = _SCHEME.match(url)
    at = url.rfind("@")
    if scheme is None or at <= scheme.end():
        return text
    _, colon, password = url[scheme.end() : at].partition(":")
    if not colon or not password:
        return text
    for secret in {password, unquote(password)}:
        text = text.replace(secret, "***")
    return text
