"""The web app: server-rendered pages (Jinja2 + htmx) over the same services as the API."""

from __future__ import annotations

import importlib
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from focusbase.web.core import STATIC_DIR, SignInRequired, WebError, load_page, redirect, render

PAGE_MODULES: tuple[str, ...] = (
    "focusbase.web.auth",
    "focusbase.web.cost",
    "focusbase.web.dashboard",
    "focusbase.web.explorer",
    "focusbase.web.savings",
    "focusbase.web.anomalies",
    "focusbase.web.forecasts",
    "focusbase.web.budgets",
    "focusbase.web.webhooks",
    "focusbase.web.integrations",
    "focusbase.web.history",
    "focusbase.web.importing",
    "focusbase.web.keys",
)


def install(app: FastAPI) -> None:
    """Serve the pages at / and their static files at /static; API routes and /docs stay as they are."""

    @app.exception_handler(WebError)
    async def _web_error(request: Request, exc: WebError) -> Response:
        page = load_page(request)
        response = render(page, "error.html", status=exc.status, title=exc.title, message=exc.message)
        if request.headers.get("hx-request"):
            # An htmx request targets part of a page the error page does not have: show it whole.
            response.headers.update(
                {"HX-Retarget": "#main", "HX-Reswap": "outerHTML", "HX-Reselect": "#main"}
            )
        return response

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        page = load_page(request)
        return redirect(page, "/sign-in?next=" + quote(exc.next_path, safe="/"))

    for name in PAGE_MODULES:
        app.include_router(importlib.import_module(name).router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
