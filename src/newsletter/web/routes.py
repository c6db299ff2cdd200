"""The review app's pages and actions.

GET never changes anything. Every POST carries the CSRF token (checked by the
middleware) and, for a change to a draft, the version of the edits its page
was built from (``version``): :func:`newsletter.pipeline.update_draft`
refuses a stale one with :class:`StaleEdit` and nothing is overwritten.
"""

from __future__ import annotations

import inspect
import re
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Callable

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from newsletter.errors import UserError
from newsletter.outbox import drafts as outbox
from newsletter.outbox.edits import (
    FEATURED,
    DraftEdits,
    EditRefused,
    StaleEdit,
    describe_changes,
    edits_at,
    item_urls,
    load_edits,
    removed_items,
    stale_error,
    validate_editorial,
    validate_social_text,
)
from newsletter.store import utcnow
from newsletter.web import auth, views

router = APIRouter()
DRAFT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ANCHOR = re.compile(r"^[a-z0-9-]{1,60}$")
MAX_COMMENT = 2000


# -- helpers ---------------------------------------------------------------------


def _settings(request: Request):
    return request.app.state.settings


def _store(request: Request):
    return request.app.state.store


def _user(request: Request) -> auth.User:
    user = getattr(request.state, "user", None)
    if user is None:  # RequireLogin lets no anonymous request through to a review route
        raise HTTPException(403)
    return user


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def flash(request: Request, level: str, message: str) -> None:
    flashes = list(request.session.get("flash") or [])
    flashes.append([level, message[:600]])
    request.session["flash"] = flashes[-4:]


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    flashes = request.session.pop("flash", []) if "session" in request.scope else []
    get_token = request.scope.get("csrftoken")
    base = {
        "request": request,
        "user": getattr(request.state, "user", None),
        "csrftoken": get_token() if get_token else "",
        "flashes": flashes,
        "error": None,
        "error_details": [],
        "refill": {},
        "proof_to": None,
    }
    base.update(context)
    return request.app.state.templates.TemplateResponse(request, name, base, status_code=status_code)


def _load(request: Request, draft_id: str) -> outbox.Draft:
    if not DRAFT_ID.match(draft_id or ""):
        raise HTTPException(404, f"Le brouillon « {draft_id[:80]} » n'existe pas.")
    try:
        return outbox.load_draft(_settings(request).outbox, draft_id, _store(request))
    except outbox.OutboxError:
        raise HTTPException(404, f"Le brouillon « {draft_id} » n'existe pas (ou plus).") from None


def _taxonomy(draft: outbox.Draft):
    """The draft's taxonomy, read again only when its files change (``pipeline.load_taxonomy``)."""
    from newsletter.collect.sources import load_sources
    from newsletter.pipeline import default_sources, load_taxonomy

    try:
        config = load_sources(draft.manifest.get("sources_file") or default_sources())
        return load_taxonomy(config.taxonomy_path)
    except UserError:
        return load_taxonomy()


def _page_context(request: Request, draft: outbox.Draft) -> dict[str, Any]:
    from newsletter.pipeline import draft_curated

    store = _store(request)
    edits = load_edits(store, draft.id)
    try:
        curated, _ = draft_curated(draft)
    except UserError:
        curated = None
    return views.draft_view(draft, store, edits, curated, _taxonomy(draft), now=request.app.state.clock())


async def _draft_page(request: Request, draft_id: str, status: int = 200, **extra: Any) -> HTMLResponse:
    draft = await run_in_threadpool(_load, request, draft_id)
    context = await run_in_threadpool(_page_context, request, draft)
    context.update(extra)
    user = getattr(request.state, "user", None)
    context.setdefault("proof_to", user.email if user else None)
    return _render(request, "draft.html", status_code=status, **context)


def _redirect(draft_id: str, anchor: str | None = None) -> RedirectResponse:
    target = f"/drafts/{draft_id}"
    if anchor and ANCHOR.match(anchor):
        target += "#" + anchor
    return RedirectResponse(target, status_code=303)


def _version(form) -> int:
    raw = form.get("version")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise HTTPException(400) from None


def _field(form, name: str, max_len: int = MAX_COMMENT) -> str:
    value = form.get(name) or ""
    if not isinstance(value, str):
        raise HTTPException(400)
    if len(value) > max_len:
        raise EditRefused(f"Le champ « {name} » est trop long ({len(value)} caractères pour {max_len} au plus).")
    return value.strip()


async def _edit(
    request: Request,
    draft_id: str,
    build: Callable[[Any, outbox.Draft], tuple[Any, ...]],
    *,
    refill: Callable[[Any], dict[str, str]] | None = None,
) -> Response:
    """One change to a draft: build (change, note[, after]) from the form, apply it through
    update_draft; ``after(store, actor)``, when given, runs once the change is saved."""
    from newsletter.pipeline import update_draft

    user = _user(request)
    draft = await run_in_threadpool(_load, request, draft_id)
    form = await request.form()
    version = _version(form)
    anchor = form.get("anchor") if isinstance(form.get("anchor"), str) else None
    try:
        # A stale form is told so first: what it names may be gone since (a post removed by another editor).
        current = await run_in_threadpool(load_edits, _store(request), draft.id)
        if version != current.version:
            raise stale_error(_store(request), draft.id, version, current)
        change, note, *after = build(form, draft)
        await run_in_threadpool(
            update_draft, _settings(request), _store(request), draft.id, change,
            base_version=version, actor=user.name, note=note,
        )
        for then in after:
            await run_in_threadpool(then, _store(request), user.name)
    except StaleEdit as exc:
        return await _draft_page(request, draft_id, 409, error=str(exc), refill=refill(form) if refill else {})
    except UserError as exc:
        return await _draft_page(request, draft_id, 400, error=str(exc), refill=refill(form) if refill else {})
    flash(request, "success", f"Enregistré : {note}. Le brouillon a été régénéré.")
    return _redirect(draft_id, anchor)


Build = Callable[[Request, Any, outbox.Draft], tuple[Any, ...]]


def _edit_route(path: str, *, refill: Callable[[Any], dict[str, str]] | None = None) -> Callable[[Build], Build]:
    """Register ``build(request, form, draft) -> (change, note[, after])`` as the POST route
    ``path`` (with ``{draft_id}``): one change to a draft through :func:`_edit` (CSRF by the
    middleware, stale version refused, French message, redirect; ``refill``: the form's
    fields shown again when the change is refused)."""

    def register(build: Build) -> Build:
        async def endpoint(request: Request, draft_id: str) -> Response:
            return await _edit(request, draft_id, lambda form, draft: build(request, form, draft), refill=refill)

        endpoint.__name__ = endpoint.__qualname__ = build.__name__
        endpoint.__doc__ = build.__doc__
        router.post(path)(endpoint)
        return build

    return register


def _find_item(draft: outbox.Draft, url: str):
    issue = draft.issue()
    if issue is not None:
        for item in issue.all_items():
            if item.url == url:
                return item
    raise EditRefused(f"« {url[:200]} » n'est pas un élément de ce brouillon.")


def _short(title: str, n: int = 70) -> str:
    return title if len(title) <= n else title[: n - 1] + "…"


# -- login -------------------------------------------------------------------------


def _safe_next(value: Any) -> str:
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request):
    return _render(request, "login.html", next=_safe_next(request.query_params.get("next")), username="")


@router.post("/login")
async def login(request: Request):
    form = await request.form()
    username = form.get("username") if isinstance(form.get("username"), str) else ""
    password = form.get("password") if isinstance(form.get("password"), str) else ""
    target = _safe_next(form.get("next"))
    try:
        user = await run_in_threadpool(auth.authenticate, _store(request), username[:64], password[:1024],
                                       _client(request))
    except auth.LoginLocked as exc:
        return _render(request, "login.html", 429, next=target, username=username[:64], error=str(exc))
    if user is None:
        return _render(request, "login.html", 401, next=target, username=username[:64],
                       error="Nom d'utilisateur ou mot de passe incorrect.")
    request.session.clear()
    request.session["user"] = user.name
    return RedirectResponse(target, status_code=303)


@router.get("/login/link", response_class=HTMLResponse)
async def login_link_page(request: Request):
    # Showing the page uses nothing up: the link is spent by the POST of its button.
    token = request.query_params.get("token") or ""
    return _render(request, "login_link.html", token=token[:200])


@router.post("/login/link")
async def login_link(request: Request):
    form = await request.form()
    token = form.get("token") if isinstance(form.get("token"), str) else ""
    user = await run_in_threadpool(auth.consume_login_token, _store(request), token)
    if user is None:
        return _render(request, "login.html", 401, next="/", username="",
                       error="Ce lien de connexion n'est plus valable (déjà utilisé ou expiré)."
                             " Relancez « newsletter serve » pour en obtenir un nouveau.")
    request.session.clear()
    request.session["user"] = user.name
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request):
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# -- pages ----------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def drafts_list(request: Request):
    settings, store = _settings(request), _store(request)
    drafts = await run_in_threadpool(outbox.list_drafts, settings.outbox, store)
    rows = await run_in_threadpool(views.list_view, drafts, store)
    for row in rows:
        row["month_label"] = views.month_label(row["month"])
    return _render(request, "drafts.html", drafts=rows)


@router.get("/drafts/{draft_id}", response_class=HTMLResponse)
async def draft_page(request: Request, draft_id: str):
    return await _draft_page(request, draft_id)


PREVIEW_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src http: https: data:;"
    " style-src 'unsafe-inline'; font-src http: https: data:; frame-ancestors 'self'"
)


@router.get("/drafts/{draft_id}/preview.html")
async def draft_preview(request: Request, draft_id: str):
    draft = _load(request, draft_id)
    path = draft.file("newsletter.html")
    if not path.exists():
        raise HTTPException(404, "Ce brouillon n'a pas encore de version HTML.")
    html = path.read_text(encoding="utf-8")
    # Links open in a new tab, not inside the frame.
    html = re.sub(r"<head(\s[^>]*)?>", lambda m: m.group(0) + '<base target="_blank">', html, count=1)
    return HTMLResponse(html, headers={"Content-Security-Policy": PREVIEW_CSP, "X-Content-Type-Options": "nosniff",
                                       "Cache-Control": "no-store"})


@router.post("/api/social-length")
async def social_length(request: Request):
    """The authoritative count of a post as its platform counts it (the page's live counter asks it)."""
    from newsletter.render.social import LIMITS, platform_length

    try:
        data = await request.json()
        platform, text = data["platform"], data["text"]
    except (ValueError, KeyError, TypeError):
        raise HTTPException(400) from None
    if platform not in LIMITS or not isinstance(text, str):
        raise HTTPException(400)
    length = platform_length(text, platform)
    return JSONResponse({"platform": platform, "length": length, "limit": LIMITS[platform],
                         "fits": length <= LIMITS[platform]})


# -- edits --------------------------------------------------------------------------


@_edit_route("/drafts/{draft_id}/editorial", refill=lambda f: {"editorial": str(f.get("editorial") or "")})
def edit_editorial(request: Request, form, draft: outbox.Draft):
    text = validate_editorial(_field(form, "editorial", max_len=20_000))

    def change(e: DraftEdits) -> None:
        e.editorial = text

    return change, "éditorial modifié" if text else "éditorial retiré"


@_edit_route("/drafts/{draft_id}/items/remove")
def item_remove(request: Request, form, draft: outbox.Draft):
    item = _find_item(draft, _field(form, "url"))
    urls = item_urls(item)

    def change(e: DraftEdits) -> None:
        if item.url not in e.removed:
            e.removed.append(item.url)
        if e.featured is not None:
            e.featured = [u for u in e.featured if u not in urls]

    return change, f"élément retiré : « {_short(item.title)} »"


@_edit_route("/drafts/{draft_id}/items/restore")
def item_restore(request: Request, form, draft: outbox.Draft):
    from newsletter.pipeline import draft_curated

    url = _field(form, "url")
    curated, _ = draft_curated(draft)
    edits = load_edits(_store(request), draft.id)
    found = [i for i in removed_items(curated, edits) if i.url == url]
    if not found:
        raise EditRefused(f"« {url[:200]} » n'est pas un élément retiré de ce brouillon.")
    urls = item_urls(found[0])

    def change(e: DraftEdits) -> None:
        e.removed = [u for u in e.removed if u not in urls]

    return change, f"élément remis : « {_short(found[0].title)} »"


@_edit_route("/drafts/{draft_id}/items/move")
def item_move(request: Request, form, draft: outbox.Draft):
    url, section, direction = _field(form, "url"), _field(form, "section"), _field(form, "direction")
    if direction not in ("up", "down"):
        raise HTTPException(400)
    order = views.section_urls(draft, section)
    if order is None or url not in order:
        raise EditRefused("Cet élément n'est pas dans cette rubrique : rechargez la page.")
    i = order.index(url)
    j = i - 1 if direction == "up" else i + 1
    if not 0 <= j < len(order):
        raise EditRefused("Cet élément est déjà " + ("en tête" if direction == "up" else "en bas") + " de sa rubrique.")
    order[i], order[j] = order[j], order[i]
    item = _find_item(draft, url)

    def change(e: DraftEdits) -> None:
        if section == FEATURED:
            e.featured = list(order)
        else:
            e.order[section] = list(order)

    verb = "monté" if direction == "up" else "descendu"
    return change, f"« {_short(item.title)} » {verb} dans « {views.section_label(section)} »"


@_edit_route("/drafts/{draft_id}/items/feature")
def item_feature(request: Request, form, draft: outbox.Draft):
    item = _find_item(draft, _field(form, "url"))
    on = _field(form, "featured") == "1"
    current = views.featured_urls(draft)
    urls = item_urls(item)
    chosen = [u for u in current if u not in urls] + ([item.url] if on else [])

    def change(e: DraftEdits) -> None:
        e.featured = list(chosen)

    what = "mis « À la une »" if on else "retiré de « À la une »"
    return change, f"« {_short(item.title)} » {what}"


@_edit_route("/drafts/{draft_id}/items/category")
def item_category(request: Request, form, draft: outbox.Draft):
    item = _find_item(draft, _field(form, "url"))
    slug = _field(form, "category")
    taxonomy = _taxonomy(draft)
    if slug not in taxonomy.slugs:
        raise EditRefused(f"Catégorie inconnue : « {slug[:60]} ».")

    def change(e: DraftEdits) -> None:
        e.categories[item.url] = slug

    def remember(store, actor: str) -> None:
        # The correction is kept in the home: later runs file the same URL, and the
        # same source's series, under this category (and learn from it).
        from newsletter.curate.classify import record_correction

        record_correction(store, item, slug, actor)

    return change, f"catégorie de « {_short(item.title)} » : {taxonomy.label(slug)}", remember


@_edit_route("/drafts/{draft_id}/suggestions")
def answer_suggestion(request: Request, form, draft: outbox.Draft):
    """The officer confirms (same story: one press item "également dans …") or dismisses a likely copy."""
    url, other = _field(form, "url"), _field(form, "other_url")
    answer = _field(form, "answer")
    if answer not in ("confirm", "dismiss"):
        raise EditRefused("Réponse inconnue : choisissez « Même information » ou « Informations différentes ».")
    entries = [e for e in (draft.manifest.get("curation") or {}).get("suggested") or []
               if e.get("url") == url and e.get("other_url") == other]
    if not entries:
        raise EditRefused("Cette suggestion n'existe pas (ou plus) : rechargez la page.")
    entry = entries[0]
    if entry.get("answered"):
        raise EditRefused("Cette suggestion a déjà reçu une réponse : rechargez la page.")
    key = "confirmed" if answer == "confirm" else "dismissed"

    def change(e: DraftEdits) -> None:
        answers = e.extra.setdefault("suggestions", {})
        pair = [url, other]
        if pair not in answers.setdefault(key, []):
            answers[key].append(pair)

    what = "regroupées (même information)" if key == "confirmed" else "gardées séparées"
    return change, f"« {_short(entry.get('title') or url)} » et « {_short(entry.get('other_title') or other)} » {what}"


@_edit_route("/drafts/{draft_id}/unmerge")
def unmerge(request: Request, form, draft: outbox.Draft):
    url = _field(form, "url")
    entries = [e for e in (draft.manifest.get("curation") or {}).get("merged") or []
               if e.get("absorbed_url") == url and not e.get("undone")]
    if not entries:
        raise EditRefused("Cette fusion n'existe pas ou a déjà été annulée : rechargez la page.")

    def change(e: DraftEdits) -> None:
        if url not in e.unmerged:
            e.unmerged.append(url)

    return change, f"fusion annulée : « {_short(entries[0].get('absorbed_title') or url)} »"


@_edit_route("/drafts/{draft_id}/social",
             refill=lambda f: {"social_key": str(f.get("key") or ""), "social_text": str(f.get("text") or "")})
def edit_social(request: Request, form, draft: outbox.Draft):
    key = _field(form, "key", max_len=3000)
    posts = {p["key"]: p for p in views.social_posts(draft)}
    if key not in posts:
        raise EditRefused("Ce post n'existe pas dans ce brouillon : rechargez la page.")
    post = posts[key]
    reset = _field(form, "action") == "reset"
    text = None if reset else validate_social_text(_field(form, "text", max_len=20_000))

    def change(e: DraftEdits) -> None:
        if text is None:
            e.social.pop(key, None)
        else:
            e.social[key] = text

    label = views.PLATFORM_LABELS.get(post["platform"], post["platform"])
    what = "texte proposé rétabli" if reset else "modifié"
    return change, f"post {label} « {_short(post['title'], 50)} » : {what}"


# -- the posting plan: move, edit, remove, put back, add ------------------------------------------

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")


def _planned(draft: outbox.Draft) -> dict[str, dict[str, Any]]:
    """The draft's planned posts (``social.json``) by id."""
    return {p["id"]: p for p in views.social_posts(draft) if p.get("id") and p.get("scheduled_at")}


def _named_post(draft: outbox.Draft, form) -> dict[str, Any]:
    post = _planned(draft).get(_field(form, "post_id", max_len=200))
    if post is None:
        raise EditRefused("Ce post n'est pas (ou plus) dans le plan : rechargez la page.")
    return post


def _when(form, what: str, draft: outbox.Draft, request: Request) -> str:
    """``date`` and ``time`` of a form as "2026-12-02T10:00" (the plan's time zone is added by the
    domain); refused when already past (Buffer would post it at once, not at the time shown)."""
    day, hour = _field(form, "date", max_len=20), _field(form, "time", max_len=20)
    if not DATE.match(day) or not TIME.match(hour):
        raise EditRefused(f"{what} : indiquez une date (jj/mm/aaaa) et une heure (hh:mm).")
    _refuse_past(f"{day}T{hour}", what, draft, request)
    return f"{day}T{hour}"


def _refuse_past(when: str, what: str, draft: outbox.Draft, request: Request) -> None:
    from newsletter.render.plan import is_past

    zone = (views.plan_file(draft) or {}).get("timezone") or "Europe/Paris"
    try:
        past = is_past(when, zone, request.app.state.clock())
    except ValueError:
        raise EditRefused(f"{what} : la date ou l'heure n'existe pas ({when.replace('T', ' à ')}).") from None
    if past:
        raise EditRefused(f"{what} : le {_when_label(when)} est déjà passé ; choisissez un moment à venir.")


def _post_label(post: dict[str, Any]) -> str:
    from newsletter.render.plan import PLATFORM_LABELS

    channel = post.get("channel") or post.get("platform") or ""
    return f"post {PLATFORM_LABELS.get(channel, channel)} « {_short(post.get('title') or post.get('text') or '', 50)} »"


def _when_label(value: str) -> str:
    from datetime import datetime

    from newsletter.render.plan import when_label

    return when_label(datetime.fromisoformat(value))


def _plan_change(update: Callable[[dict[str, Any] | None], dict[str, Any]]) -> Callable[[DraftEdits], None]:
    def change(e: DraftEdits) -> None:
        e.extra["plan"] = update(e.extra.get("plan"))

    return change


@_edit_route("/drafts/{draft_id}/plan/move")
def plan_move(request: Request, form, draft: outbox.Draft):
    from newsletter.render.plan import move_post

    post = _named_post(draft, form)
    when = _when(form, f"Déplacer le {_post_label(post)}", draft, request)
    return (_plan_change(lambda data: move_post(data, post["id"], when)),
            f"{_post_label(post)} déplacé au {_when_label(when)}")


@_edit_route("/drafts/{draft_id}/plan/edit",
             refill=lambda f: {"plan_post": str(f.get("post_id") or ""), "plan_text": str(f.get("text") or "")})
def plan_edit(request: Request, form, draft: outbox.Draft):
    from newsletter.render.plan import edit_post, reset_text

    post = _named_post(draft, form)
    if _field(form, "action") == "reset":
        return _plan_change(lambda data: reset_text(data, post["id"])), f"{_post_label(post)} : texte proposé rétabli"
    text = validate_social_text(_field(form, "text", max_len=20_000))
    return _plan_change(lambda data: edit_post(data, post["id"], text)), f"{_post_label(post)} : texte modifié"


@_edit_route("/drafts/{draft_id}/plan/remove")
def plan_remove(request: Request, form, draft: outbox.Draft):
    from newsletter.render.plan import remove_post

    post = _named_post(draft, form)
    return _plan_change(lambda data: remove_post(data, post["id"])), f"{_post_label(post)} retiré du plan"


@_edit_route("/drafts/{draft_id}/plan/restore")
def plan_restore(request: Request, form, draft: outbox.Draft):
    from newsletter.render.plan import restore_post

    post_id = _field(form, "post_id", max_len=200)
    found = [p for p in views.plan_file(draft).get("removed") or [] if p.get("id") == post_id]
    if not found:
        raise EditRefused("Ce post n'est pas parmi les posts retirés : rechargez la page.")
    post = found[0]
    when = post["scheduled_at"]
    _refuse_past(when, f"Remettre le {_post_label(post)}", draft, request)
    return (_plan_change(lambda data: restore_post(data, post_id, when)),
            f"{_post_label(post)} remis au {_when_label(when)}")


@_edit_route("/drafts/{draft_id}/plan/add",
             refill=lambda f: {"add_text": str(f.get("text") or ""), "add_channel": str(f.get("channel") or ""),
                               "add_item": str(f.get("item") or ""), "add_date": str(f.get("date") or ""),
                               "add_time": str(f.get("time") or "")})
def plan_add(request: Request, form, draft: outbox.Draft):
    """A post added to the plan: a left-out candidate ("Programmer": ``from_id``), or the officer's
    choice of channel and item (the letter's announcement, or none), day, time and text."""
    from newsletter.render.plan import PLATFORM_LABELS, add_post

    summary = views.plan_file(draft)
    channel = _field(form, "channel", max_len=40)
    from_id = _field(form, "from_id", max_len=200)
    key = _field(form, "item", max_len=3000)
    text = _field(form, "text", max_len=20_000)
    when = _when(form, "Ajouter un post", draft, request)
    left_out = {p["id"]: p for p in summary.get("left_out") or []}
    if not from_id and key:
        # the item's draft on that channel, when the plan left it out
        from_id = next((i for i, p in left_out.items() if views.item_key(p) == key
                        and p.get("platform") == channel and p.get("kind") != "reminder"), "")
    if from_id:
        if from_id not in left_out:
            raise EditRefused("Ce post n'est pas (ou plus) parmi les posts laissés de côté : rechargez la page.")
        candidate = left_out[from_id]
        channel = candidate.get("platform") or channel
        kept = validate_social_text(text) if text else None

        def update(data):
            return add_post(data, channel=channel, scheduled_at=when, from_id=from_id, text=kept)

        return _plan_change(update), f"{_post_label(candidate)} programmé le {_when_label(when)}"
    if channel not in PLATFORM_LABELS:
        raise EditRefused("Choisissez le réseau du post.")
    # An item already planned on that channel (or the announcement): one more post, its text prefilled.
    source = None
    if key:
        pool = views.social_posts(draft) + list(summary.get("removed") or [])
        source = next((p for p in pool if views.item_key(p) == key and p.get("kind") != "reminder"), None)
        if source is None:
            raise EditRefused("Cet élément n'est pas dans ce brouillon : rechargez la page.")
        if not text:
            same = next((p for p in pool if views.item_key(p) == key and p.get("platform") == channel
                         and p.get("kind") != "reminder"), source)
            text = same.get("text") or ""
    kept = validate_social_text(text)
    title = (source or {}).get("title") or None
    item_url = (source or {}).get("item_url") or None
    url = (source or {}).get("url") or None

    def custom(data):
        return add_post(data, channel=channel, scheduled_at=when, text=kept, url=url, title=title,
                        item_url=item_url)

    what = f"« {_short(title, 50)} »" if title else f"« {_short(kept, 50)} »"
    return _plan_change(custom), f"post {PLATFORM_LABELS[channel]} {what} ajouté le {_when_label(when)}"


# -- status: approve, reject, reopen; proof; checks --------------------------------------------


def _changed_since(store, draft_id: str, base: int) -> str | None:
    current = load_edits(store, draft_id)
    if base == current.version:
        return None
    changes = describe_changes(edits_at(store, draft_id, base), current)
    who = sorted({row["actor"] for row in store.draft_edits_rows(draft_id) if row["version"] > base and row["actor"]})
    by = f" par {', '.join(who)}" if who else ""
    detail = " ; ".join(changes) if changes else "le brouillon a été régénéré"
    return (f"Ce brouillon a été modifié depuis que vous l'avez ouvert{by} : {detail}. Rien n'a été fait :"
            " relisez la nouvelle version, puis recommencez.")


def _transition(settings, store, draft_id: str, to: str, *, actor: str, note: str | None,
                override_reason: str | None = None):
    kwargs: dict[str, Any] = {}
    if override_reason:
        if "override_reason" in inspect.signature(outbox.transition).parameters:
            kwargs["override_reason"] = override_reason
        else:  # an approval layer without overrides: the reason is kept in the note
            note = f"{note + ' — ' if note else ''}dérogation : {override_reason}"
    return outbox.transition(settings.outbox, store, draft_id, to, actor=actor, note=note or None, **kwargs)


@router.post("/drafts/{draft_id}/approve")
async def approve(request: Request, draft_id: str):
    from newsletter.outbox.hooks import after_approval

    user = _user(request)
    settings, store = _settings(request), _store(request)
    draft = await run_in_threadpool(_load, request, draft_id)
    form = await request.form()
    version = _version(form)
    refill = {"comment": str(form.get("comment") or ""), "override_reason": str(form.get("override_reason") or "")}
    try:
        comment = _field(form, "comment")
        override = _field(form, "override_reason")
    except UserError as exc:
        return await _draft_page(request, draft_id, 400, error=str(exc), refill=refill)
    stale = await run_in_threadpool(_changed_since, store, draft.id, version)
    if stale:
        return await _draft_page(request, draft_id, 409, error=stale, refill=refill)
    too_long = [p for p in views.social_posts(draft) if not p["fits"]]
    if too_long:
        details = [f"{p['platform_label']} – « {_short(p['title'], 60)} » : {p['length']} caractères pour {p['limit']}"
                   for p in too_long]
        return await _draft_page(
            request, draft_id, 409, refill=refill, error_details=details,
            error="Validation impossible : un post dépasse la limite de sa plateforme, il serait refusé à la"
                  " publication. Raccourcissez-le, puis validez.",
        )
    try:
        approved = await run_in_threadpool(_transition, settings, store, draft.id, outbox.APPROVED,
                                           actor=user.name, note=comment, override_reason=override)
    except outbox.TransitionError as exc:
        report = views.report_view(getattr(exc, "report", None))
        details = [f"{r['label']} : {d}" for r in (report or {}).get("failed", []) for d in (r["details"] or [""])]
        hint = " Pour valider malgré tout, indiquez la raison de la dérogation." if report and not override else ""
        return await _draft_page(request, draft_id, 409, error=str(exc) + hint, error_details=details[:30],
                                 refill=refill, checks=report or views.last_checks(store, draft))
    try:
        run_id = await run_in_threadpool(lambda: after_approval(settings, store, approved, actor=user.name))
    except UserError as exc:  # approved all the same: say what did not start
        flash(request, "error", f"Lettre validée, mais l'envoi n'a pas pu être lancé : {exc}")
        return _redirect(draft_id, "validation")
    if run_id:
        flash(request, "success", f"Lettre validée. Envoi lancé (exécution Prefect {run_id}).")
    else:
        flash(request, "success", "Lettre validée. Elle partira à l'envoi programmé"
                                  f" (ou avec « newsletter outbox send {draft.id} »).")
    return _redirect(draft_id, "validation")


@router.post("/drafts/{draft_id}/reject")
async def reject(request: Request, draft_id: str):
    user = _user(request)
    settings, store = _settings(request), _store(request)
    draft = await run_in_threadpool(_load, request, draft_id)
    form = await request.form()
    try:
        comment = _field(form, "comment")
        if not comment:
            raise EditRefused("Indiquez la raison du refus : elle est gardée dans l'historique.")
        await run_in_threadpool(_transition, settings, store, draft.id, outbox.REJECTED, actor=user.name,
                                note=comment)
    except UserError as exc:
        return await _draft_page(request, draft_id, 409 if isinstance(exc, outbox.TransitionError) else 400,
                                 error=str(exc), refill={"reject_comment": str(form.get("comment") or "")})
    flash(request, "success", "Lettre refusée. Le commentaire est dans l'historique.")
    return _redirect(draft_id, "validation")


@router.post("/drafts/{draft_id}/reopen")
async def reopen(request: Request, draft_id: str):
    user = _user(request)
    settings, store = _settings(request), _store(request)
    draft = await run_in_threadpool(_load, request, draft_id)
    form = await request.form()
    try:
        await run_in_threadpool(_transition, settings, store, draft.id, outbox.PENDING, actor=user.name,
                                note=_field(form, "comment") or "remis en attente de validation")
    except UserError as exc:
        return await _draft_page(request, draft_id, 409, error=str(exc))
    flash(request, "success", "Brouillon remis en attente de validation.")
    return _redirect(draft_id, "validation")


def proof_message(draft: outbox.Draft, *, sender: str, to: str) -> EmailMessage:
    """The proof ("bon à tirer") of a draft: the email as subscribers get it, subject prefixed ``[BAT]``."""
    msg = EmailMessage()
    msg["Subject"] = "[BAT] " + (draft.manifest.get("subject") or f"Lettre {draft.manifest.get('month', '')}")
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = format_datetime(utcnow())
    domain = sender.rsplit("@", 1)[-1].strip(">") if "@" in sender else None
    msg["Message-ID"] = make_msgid(idstring=f"bat-{draft.id}", domain=domain)
    msg.set_content(draft.file("newsletter.txt").read_text(encoding="utf-8"))
    msg.add_alternative(draft.file("newsletter.html").read_text(encoding="utf-8"), subtype="html")
    return msg


@router.post("/drafts/{draft_id}/proof")
async def send_proof(request: Request, draft_id: str):
    from newsletter.deliver.messenger import messenger_from_settings

    user = _user(request)
    settings, store = _settings(request), _store(request)
    draft = await run_in_threadpool(_load, request, draft_id)
    await request.form()
    if not user.email:
        return await _draft_page(
            request, draft_id, 400,
            error=f"Votre compte « {user.name} » n'a pas d'adresse e-mail : demandez qu'on la renseigne"
                  f" (newsletter users add {user.name} --email …) pour recevoir un BAT.")

    def deliver() -> str:
        message = proof_message(draft, sender=settings.mail_from, to=user.email)
        where = messenger_from_settings(settings).send(message)
        store.add_draft_event(draft.id, actor=user.name, note=f"BAT envoyé à {user.email} ({where})")
        return where

    try:
        await run_in_threadpool(deliver)
    except UserError as exc:
        return await _draft_page(request, draft_id, 502, error=f"Le BAT n'a pas pu être envoyé : {exc}")
    flash(request, "success", f"BAT envoyé à {user.email}. Il est noté dans l'historique.")
    return _redirect(draft_id, "validation")


@router.post("/drafts/{draft_id}/checks")
async def run_checks(request: Request, draft_id: str):
    settings, store = _settings(request), _store(request)
    draft = await run_in_threadpool(_load, request, draft_id)
    await request.form()
    module = views.checks_module()
    if module is None:
        return await _draft_page(request, draft_id, 503,
                                 error="Les vérifications avant envoi ne sont pas encore installées sur ce serveur.")
    report = await run_in_threadpool(lambda: module.run_checks(draft, settings, store=store))
    view = views.report_view(report)
    if view and view["ok"]:
        flash(request, "success", "Vérifications passées.")
    else:
        flash(request, "error", "Des vérifications ont échoué : voyez le détail ci-dessous.")
    return _redirect(draft_id, "verifications")
