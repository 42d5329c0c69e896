"""Where a webhook may be sent: URL checks and the SSRF rule, applied after DNS resolution.

Destinations that resolve to private, loopback, link-local, multicast, reserved or unspecified addresses
are refused unless Settings.webhook_allow_private_destinations is on. The check runs when an endpoint is
created or changed and again before every delivery, and the delivery connects to the address that was
checked, so a DNS answer that changes in between cannot redirect it.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_SECONDS = 5.0
# getaddrinfo has no timeout of its own: it runs here so a slow DNS server cannot hold a request.
_RESOLVER = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


class DestinationRefused(ValueError):
    """A webhook URL that is malformed or points where deliveries may not go."""

    def __init__(self, message: str, *, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.code = code
        self.field = "url"


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked URL: scheme, host, port, path and the address to connect to."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line
    address: str


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path?query) of an http(s) URL; DestinationRefused otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise DestinationRefused(f"url must be an http or https URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused("url must start with http:// or https://")
    if not parts.hostname:
        raise DestinationRefused("url has no host")
    if parts.username or parts.password:
        raise DestinationRefused("url must not carry a user name or password")
    if any(ch in url for ch in "\r\n\t "):
        raise DestinationRefused("url must not contain whitespace")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), target


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _forbidden(address.ipv4_mapped)
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private or address.is_reserved or not address.is_global:
        return "private"
    return None


def resolve(url: str, *, allow_private: bool) -> Destination:
    """Check a URL and resolve its host; every address it resolves to must be allowed."""
    scheme, host, port, target = parse_url(url)
    try:
        infos = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM).result(
            timeout=RESOLVE_TIMEOUT_SECONDS
        )
    except concurrent.futures.TimeoutError:
        raise DestinationRefused(
            f"url host {host!r} did not resolve within {RESOLVE_TIMEOUT_SECONDS:g} s",
            code="webhook_destination_unresolvable",
        ) from None
    except (OSError, UnicodeError) as exc:
        raise DestinationRefused(
            f"url host {host!r} does not resolve ({exc})", code="webhook_destination_unresolvable"
        ) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise DestinationRefused(
            f"url host {host!r} does not resolve", code="webhook_destination_unresolvable"
        )
    if not allow_private:
        for text in addresses:
            kind = _forbidden(ipaddress.ip_address(text.split("%", 1)[0]))
            if kind is not None:
                raise DestinationRefused(
                    f"url host {host!r} resolves to the {kind} address {text}; webhooks may not be sent "
                    "to private, loopback, link-local, multicast or unspecified addresses unless "
                    "FOCUSBASE_WEBHOOK_ALLOW_PRIVATE_DESTINATIONS is on",
                    code="webhook_destination_forbidden",
                )
    return Destination(scheme, host, port, target, addresses[0])
