"""The communications officer's review app: one FastAPI application.

``create_app(settings, store)`` builds it; ``newsletter serve`` runs it with
uvicorn. Layers, outermost first:

1. :class:`BodyLimit`: a request body over :data:`MAX_BODY` bytes gets 413
   (French page) before anything reads it;
2. asgi-csrf (Datasette's CSRF middleware): every POST must carry the signed
   ``csrftoken`` of its cookie, as a form field or an ``x-csrftoken``
   header; otherwise 403 and the app never sees the request. Every path is
   protected, even without cookies (a forged login is refused too), except the
   public unsubscribe routes, which mail clients POST to without a page
   (RFC 8058 one-click);
3. Starlette's SessionMiddleware: the session in a cookie signed with
   itsdangerous, HttpOnly, SameSite=Lax, Secure when ``NEWSLETTER_PUBLIC_URL``
   is https;
4. :class:`RequireLogin`: every path except the login pages, ``/static`` and
   the public unsubscribe routes redirects an anonymous visitor to ``/login``.

The app's state holds ``settings`` and ``store`` (``request.app.state``), which
the delivery issue's ``newsletter.web.unsubscribe`` router reads; that router
is included when the module exists.
"""

from __future__ import annotations

from newsletter.errors import UserError

import importlib
import importlib.util
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import jinja2
from asgi_csrf import asgi_csrf
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Match
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from newsletter.settings import Settings
from newsletter.store import Store

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
MAX_BODY = 256 * 1024  # bytes: the largest form (an editorial of 5,000 characters) is far below
SESSION_COOKIE = "newsletter_session"
SESSION_MAX_AGE = 12 * 3600  # seconds: a working day
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = ("/login", "/login/link", "/favicon.ico")
UNSUBSCRIBE_MODULE = "newsletter.web.unsubscribe"


def make_templates() -> Jinja2Templates:
    from newsletter.web import views

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = views.format_when
    env.globals["status_label"] = views.status_label
    env.filters["event_note"] = views.event_note
    return Jinja2Templates(env=env)


def error_page(templates: Jinja2Templates, status: int, title: str, message: str) -> HTMLResponse:
    html = templates.get_template("error.html").render(
        title=title, message=message, status=status, user=None, csrftoken="", flashes=[]
    )
    return HTMLResponse(html, status_code=status)


ERRORS_FR = {
    400: ("Requête incorrecte", "Le formulaire envoyé est incomplet ou mal formé. Rechargez la page et recommencez."),
    403: ("Action refusée", "Ce formulaire n'est plus valable (jeton de sécurité absent ou modifié) : rien n'a été"
                            " modifié. Rechargez la page et recommencez."),
    404: ("Page introuvable", "Cette page n'existe pas, ou ce brouillon n'existe plus."),
    405: ("Action impossible", "Cette adresse ne s'utilise pas de cette façon : revenez à la liste des brouillons."),
    413: ("Envoi trop volumineux", "Ce que vous avez envoyé est trop long : rien n'a été enregistré."
                                   " Raccourcissez le texte et recommencez."),
}


class _TooLarge(UserError):
    """A request body over the limit (answered 413 by BodyLimit)."""


class BodyLimit:
    """Refuse a request body over ``max_bytes`` with 413, by its Content-Length or while it streams."""

    def __init__(self, app, max_bytes: int, templates: Jinja2Templates):
        self.app, self.max_bytes, self.templates = app, max_bytes, templates

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = True
            if too_big:
                return await self._refuse(scope, receive, send)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send):
        title, message = ERRORS_FR[413]
        await error_page(self.templates, 413, title, message)(scope, receive, send)


class RequireLogin:
    """Anonymous visitors of any non-public path are sent to ``/login?next=…``."""

    def __init__(self, app, store: Store, public_routes: list[Any]):
        self.app, self.store, self.public_routes = app, store, public_routes

    def is_public(self, scope) -> bool:
        path = scope.get("path", "")
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return True
        return any(route.matches(scope)[0] != Match.NONE for route in self.public_routes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from newsletter.web.auth import get_user

        session = scope.get("session") or {}
        user = None
        if session.get("user"):
            user = get_user(self.store, session["user"])
            if user is None:  # account removed: the session ends
                session.clear()
        scope.setdefault("state", {})["user"] = user
        if user is None and not self.is_public(scope):
            target = scope.get("path", "/")
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            response = RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


def iter_routes(routes: list[Any], prefix: str = ""):
    """Every endpoint route of an app or router as (path, methods), routers included (tests enumerate them)."""
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI >= 0.150 keeps included routers lazily
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from iter_routes(list(included.routes), prefix + (getattr(context, "prefix", "") or ""))
        elif getattr(route, "methods", None) is not None and hasattr(route, "path"):
            yield prefix + route.path, set(route.methods)


class _Everywhere:
    """asgi-csrf's ``always_protect``: every path, even for a request without cookies."""

    def __contains__(self, path: object) -> bool:
        return True


def _unsubscribe_router():
    if importlib.util.find_spec(UNSUBSCRIBE_MODULE) is None:
        return None
    return importlib.import_module(UNSUBSCRIBE_MODULE).router


def create_app(settings: Settings, store: Store | None = None,
               clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The review app. ``clock`` (aware "now"; tests pin it) dates what depends on the time of
    day: the slots the posting calendar proposes, and refusing a post planned in the past."""
    from newsletter.web import auth, routes

    store = store or Store(settings.database_url)
    templates = make_templates()
    app = FastAPI(title="Relecture de la lettre", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.store = store
    app.state.templates = templates
    app.state.clock = clock or (lambda: datetime.now(timezone.utc))
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(routes.router)
    public_routes: list[Any] = []
    unsubscribe = _unsubscribe_router()
    if unsubscribe is not None:
        app.include_router(unsubscribe)
        public_routes = list(unsubscribe.routes)

    def is_public_route(scope) -> bool:
        return any(route.matches(scope)[0] != Match.NONE for route in public_routes)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title, message = ERRORS_FR.get(exc.status_code, ("Erreur", "Une erreur est survenue."))
        if exc.status_code == 404 and isinstance(exc.detail, str) and exc.detail not in ("Not Found", ""):
            message = exc.detail
        return error_page(templates, exc.status_code, title, message)

    secure = (settings.public_url or "").lower().startswith("https://")
    key = auth.secret_key(store, settings.secret_key)

    async def csrf_failed(scope, send, message_id):
        title, message = ERRORS_FR[403]
        page = error_page(templates, 403, title, message)
        await send({"type": "http.response.start", "status": 403, "headers": page.raw_headers})
        await send({"type": "http.response.body", "body": page.body})

    # add_middleware: the last added is the outermost.
    app.add_middleware(RequireLogin, store=store, public_routes=public_routes)
    app.add_middleware(
        SessionMiddleware,
        secret_key=key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=secure,
    )
    app.add_middleware(
        asgi_csrf,
        signing_secret=key,
        always_protect=_Everywhere(),
        skip_if_scope=is_public_route,
        cookie_secure=secure,
        cookie_samesite="Lax",
        send_csrf_failed=csrf_failed,
    )
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY, templates=templates)
    return app
