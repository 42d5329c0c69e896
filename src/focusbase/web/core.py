"""What every page needs: the signed-in key from the session cookie, CSRF checks, and rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from focusbase.query.service import page_secret
from focusbase.runtime import Runtime
from focusbase.tenancy.keys import principal_for_key_id
from focusbase.tenancy.principal import Principal
from focusbase.tenancy.providers import Provider, get_provider
from focusbase.web import session as sessions
from focusbase.web.charts import day_before, percent, signed_percent

STATIC_DIR = Path(__file__).resolve().parent / "static"
ENDED = sessions.EndedSessions()
# Pages load only this server's own files, are never framed (no clickjacking of a revoke button) and are
# never cached (a key shown once stays shown once).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class WebError(Exception):
    """A page-level refusal: rendered as an error page with this status and message."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class SignInRequired(Exception):
    """No signed-in key: a page redirects to the sign-in form, which comes back to `next`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(slots=True)
class Page:
    """One request's view of the session: the runtime, the session, its key and the cookie to set."""

    request: Request
    runtime: Runtime
    secret: bytes
    session: sessions.Session | None
    principal: Principal | None
    set_cookie: str | None = None
    clear_cookie: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def csrf(self) -> str:
        return sessions.csrf_token(self.secret, self.session) if self.session else ""

    def can(self, scope: str) -> bool:
        """Whether the key may act with this scope, by the API's own rule."""
        return self.principal is not None and self.principal.scope_refusal(scope) is None

    @property
    def can_history(self) -> bool:
        return self.principal is not None and self.principal.may_read_history()

    def require(self, scope: str) -> Principal:
        """The principal if it has `scope` (the API's rule), else a 403 page with the API's reason."""
        assert self.principal is not None
        refusal = self.principal.scope_refusal(scope)
        if refusal is not None:
            raise WebError(403, "Not allowed", refusal)
        return self.principal


def visible_provider(page: Page, provider_id: str) -> Provider:
    """A provider of the key's workspace that the key may use (the API's rule); a 404 page otherwise."""
    assert page.principal is not None
    provider = get_provider(page.runtime.catalog, page.principal.workspace_id, provider_id)
    if provider is None or not page.principal.can_access_provider(provider_id):
        raise WebError(404, "No such provider", f"no provider {provider_id} in this workspace")
    return provider


def base_url(page: Page) -> str:
    """Where clients reach this server: FOCUSBASE_PUBLIC_URL, else the URL this request came in on."""
    return page.runtime.settings.public_url or str(page.request.base_url)


def _secret(runtime: Runtime) -> bytes:
    return sessions.derive_secret(page_secret(runtime.settings))


def session_lifetime(runtime: Runtime) -> int:
    return runtime.settings.web_session_hours * 3600


def load_page(request: Request) -> Page:
    """The session of this request (None when absent, forged or expired) and its key, if still valid."""
    runtime: Runtime = request.app.state.runtime
    secret = _secret(runtime)
    found = sessions.decode(secret, request.cookies.get(sessions.COOKIE_NAME))
    if found is not None and ENDED.ended(found):
        found = None
    principal = None
    page = Page(request=request, runtime=runtime, secret=secret, session=found, principal=None)
    if found is not None and found.key_id is not None:
        principal = principal_for_key_id(runtime.catalog, found.key_id)
        if principal is None:  # the key was revoked: the session ends with it
            page.session = None
            page.clear_cookie = True
        page.principal = principal
    return page


def signed_in(request: Request) -> Page:
    """A page for a signed-in key; otherwise SignInRequired (a redirect to the sign-in form)."""
    page = load_page(request)
    if page.principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return page


def ensure_session(page: Page) -> None:
    """Give an anonymous visitor a session (no key) so that the sign-in form has a CSRF token."""
    if page.session is None:
        page.session = sessions.new_session(None, session_lifetime(page.runtime))
        page.set_cookie = sessions.encode(page.secret, page.session)


def start_session(page: Page, key_id: str | None) -> None:
    """A new session (new nonce, so a new CSRF token) for this key, or anonymous after sign-out."""
    if page.session is not None and page.session.key_id is not None:
        ENDED.end(page.session)  # the signed-in session this one replaces stops working here and now
    page.session = sessions.new_session(key_id, session_lifetime(page.runtime))
    page.set_cookie = sessions.encode(page.secret, page.session)


def check_csrf(page: Page, form_token: str | None = None) -> None:
    """Every unsafe request carries the session's CSRF token (form field or X-CSRF-Token); 403 otherwise."""
    presented = page.request.headers.get(sessions.CSRF_HEADER) or form_token
    if not sessions.csrf_valid(page.secret, page.session, presented):
        raise WebError(
            403,
            "Form expired",
            "this form's security token is missing or does not match your session: reload the page and "
            "submit it again",
        )


def _money(value: Any, currency: str | None = None) -> str:
    """Exact decimal text with thousands separators and at least 2 decimals, followed by its currency."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return f"{value} {currency or ''}".strip()
    text = format(number, "f")
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}.{fraction}" + (f" {currency}" if currency else "")


def _cents(value: Any, currency: str | None = None) -> str:
    """A computed figure (a projection, not a stored amount) rounded half-even to cents, with its currency."""
    try:
        number = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    except (InvalidOperation, ValueError):
        return _money(value, currency)
    return _money(number, currency)


def _when(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat(sep=" ", timespec="seconds") if hasattr(value, "isoformat") else str(value)
    return text.replace("T", " ").rstrip("Z").split(".")[0] + " UTC"


ENV = Environment(
    loader=PackageLoader("focusbase.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["money"] = _money
ENV.filters["when"] = _when
ENV.filters["cents"] = _cents
ENV.filters["percent"] = percent
ENV.filters["day_before"] = day_before
ENV.filters["signed_percent"] = signed_percent
ENV.filters["urlquote"] = lambda text: quote(str(text), safe="")


def _apply_cookie(page: Page, response: Response) -> Response:
    settings = page.runtime.settings
    secure = settings.base_url.lower().startswith("https://")
    if page.set_cookie is not None:
        response.set_cookie(
            sessions.COOKIE_NAME,
            page.set_cookie,
            max_age=session_lifetime(page.runtime),
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure,
        )
    elif page.clear_cookie:
        response.delete_cookie(sessions.COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=secure)
    response.headers.update(SECURITY_HEADERS)
    return response


def finish(page: Page, response: Response) -> Response:
    """A response of any kind with the session cookie and the security headers of every page."""
    return _apply_cookie(page, response)


def render(page: Page, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A full page (or, for htmx, the same page: htmx picks the fragment it targets)."""
    html = ENV.get_template(template).render(
        page=page,
        principal=page.principal,
        csrf=page.csrf,
        path=page.request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    _apply_cookie(page, response)
    return response


def redirect(page: Page, url: str) -> Response:
    """303 See Other after a successful form post."""
    return _apply_cookie(page, RedirectResponse(url, status_code=303))
