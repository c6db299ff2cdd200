"""Public unsubscribe pages (RFC 8058 one-click), mounted by ``newsletter serve``.

``GET /desabonnement/{token}`` shows a French confirmation page with a
button; ``POST`` on the same URL unsubscribes at once: it is what mailbox
providers send for ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
(no cookie, no CSRF token, no redirect) and what the page's button sends.
It answers 200 whether or not the address was still subscribed. A forged,
altered or expired token gets 400 and changes nothing.

The app provides ``app.state.settings`` (:class:`newsletter.settings.Settings`)
and ``app.state.store`` (:class:`newsletter.store.Store`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastapi
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from newsletter.deliver import subscribers as subs
from newsletter.deliver.tokens import UNSUBSCRIBE_PATH, ExpiredToken, TokenError, matches, read_token

router = fastapi.APIRouter()

_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
)


@dataclass
class UnsubscribeContext:
    settings: Any
    store: Any


def unsubscribe_context(request: Request) -> UnsubscribeContext:
    """FastAPI dependency: the settings and store the app put in ``app.state``."""
    return UnsubscribeContext(settings=request.app.state.settings, store=request.app.state.store)


def _page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


def _centre(ctx: UnsubscribeContext) -> dict[str, Any]:
    from email.utils import parseaddr

    s = ctx.settings
    name = parseaddr(s.mail_from)[0] or "la lettre d'information"
    contact = parseaddr(getattr(s, "unsubscribe_mailto", None) or s.mail_from)[1]
    return {"centre": name, "contact": contact}


def _subscriber(ctx: UnsubscribeContext, token: str):
    """The subscriber the token names, or an error page (400) to return."""
    s = ctx.settings
    max_age = (getattr(s, "unsubscribe_max_age_days", 730) or 0) * 86400 or None
    try:
        subscriber_id, address_hash = read_token(s.secret_key or "", token, max_age_seconds=max_age)
    except TokenError as exc:
        expired = isinstance(exc, ExpiredToken)
        return None, _page("unsubscribe_invalid.html", 400, expired=expired, **_centre(ctx))
    sub = subs.get_by_id(ctx.store, subscriber_id)
    if sub is None or not matches(address_hash, sub.email):
        return None, _page("unsubscribe_invalid.html", 400, expired=False, **_centre(ctx))
    return sub, None


@router.get(UNSUBSCRIBE_PATH + "{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, ctx: UnsubscribeContext = Depends(unsubscribe_context)):
    sub, error = _subscriber(ctx, token)
    if error is not None:
        return error
    return _page(
        "unsubscribe_confirm.html",
        email=sub.email,
        already=sub.status != subs.ACTIVE,
        action=UNSUBSCRIBE_PATH + token,
        **_centre(ctx),
    )


@router.post(UNSUBSCRIBE_PATH + "{token}", response_class=HTMLResponse)
async def unsubscribe_post(token: str, request: Request, ctx: UnsubscribeContext = Depends(unsubscribe_context)):
    sub, error = _subscriber(ctx, token)
    if error is not None:
        return error
    body = (await request.body())[:2048]
    one_click = b"List-Unsubscribe=One-Click" in body
    subs.change_status(
        ctx.store, sub.id, subs.UNSUBSCRIBED, actor="lien de désabonnement",
        note="un clic (RFC 8058)" if one_click else "page de désabonnement",
    )
    return _page("unsubscribe_done.html", email=sub.email, **_centre(ctx))
