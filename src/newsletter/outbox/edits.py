"""The officer's edits of a draft, kept apart from what the pipeline curated.

A draft holds two things: what the monthly run curated (``curated.json``: the
issue and the curation report, rewritten only by a new run of the same month)
and what the communications officer changed (:class:`DraftEdits`: editorial,
featured items, removed items, order within a section, categories, undone
merges, edited social posts). The issue that is rendered and sent is always
``apply_edits(curated, edits)``; so a second run of the month refreshes the
curated part and keeps every edit, and the review page and the command line
make the same changes.

Edits are versioned in the database (table ``draft_edits``: one row per
version, primary key ``(draft_id, version)``). Saving version ``n + 1`` is an
INSERT: when two editors both start from version ``n``, the database lets
exactly one of them in, and the other gets :class:`StaleEdit`, which says what
the winner changed. Nothing is overwritten.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from newsletter.models import Issue, Item
from newsletter.outbox.drafts import OutboxError

# Sections of an issue, as named in edits (news sections are "news:<slug>").
FEATURED = "featured"
AGENDA = "agenda"
RESOURCES = "resources"
PRESS = "press"
SECTION_LABELS_FR = {
    FEATURED: "À la une",
    AGENDA: "Agenda",
    RESOURCES: "Ressources",
    PRESS: "Revue de presse",
}
MAX_EDITORIAL = 5000  # characters


class EditRefused(OutboxError):
    """An edit the officer made cannot be accepted as it is (the message says why, in French)."""


# What an editorial may not contain: it is text with links, never markup.
_HTML_TAG = re.compile(r"</?[a-zA-Z!?][^>]*>?")
_EVENT_HANDLER = re.compile(r"\bon[a-z]{3,}\s*=", re.IGNORECASE)
_BAD_SCHEME = re.compile(r"\b(?:javascript|vbscript|data|file)\s*:", re.IGNORECASE)
_MD_LINK = re.compile(r"\[[^\[\]\n]+\]\((?P<target>[^)\s]*)\)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_SOCIAL_TEXT = 5000  # characters (LinkedIn allows 3,000: room to see it is too long)


def validate_editorial(text: str | None) -> str:
    """The editorial as it will be stored, or :class:`EditRefused` saying in French what is wrong.

    Paragraphs (separated by a blank line) and links only: ``[texte](https://…)``
    or a bare ``https://…`` address. HTML tags, event handlers, and
    ``javascript:``/``data:`` addresses are refused, never silently cleaned:
    the officer sees exactly what will be sent.
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MAX_EDITORIAL:
        raise EditRefused(
            f"L'éditorial est trop long : {len(text)} caractères pour {MAX_EDITORIAL} au plus. Raccourcissez-le."
        )
    tag = _HTML_TAG.search(text)
    if tag:
        raise EditRefused(
            f"L'éditorial ne peut pas contenir de code HTML (« {tag.group(0)[:40]} ») : écrivez du texte,"
            " séparez les paragraphes par une ligne vide et écrivez les liens ainsi : [texte du lien](https://…)."
        )
    handler = _EVENT_HANDLER.search(text)
    if handler:
        raise EditRefused(
            f"L'éditorial contient « {handler.group(0)} », qui ressemble à du code : retirez-le."
        )
    scheme = _BAD_SCHEME.search(text)
    if scheme:
        raise EditRefused(
            f"L'éditorial contient une adresse « {scheme.group(0)} » : seuls les liens https://, http://"
            " et mailto: sont acceptés."
        )
    for link in _MD_LINK.finditer(text):
        if not link.group("target").startswith(("https://", "http://", "mailto:")):
            raise EditRefused(
                f"Le lien « {link.group(0)[:80]} » n'a pas d'adresse valable : écrivez [texte](https://…)."
            )
    if _CONTROL.search(text):
        raise EditRefused("L'éditorial contient des caractères invisibles non autorisés : retapez-le.")
    return text.strip()


def validate_social_text(text: str | None) -> str:
    """A social post's text as stored, or :class:`EditRefused` (empty, far too long, control characters)."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise EditRefused("Le texte du post est vide.")
    if len(text) > MAX_SOCIAL_TEXT:
        raise EditRefused(f"Le texte du post est trop long : {len(text)} caractères pour {MAX_SOCIAL_TEXT} au plus.")
    if _CONTROL.search(text):
        raise EditRefused("Le texte du post contient des caractères invisibles non autorisés.")
    return text


class StaleEdit(OutboxError):
    """The form was based on an older version of the draft: nothing was saved."""

    def __init__(self, message: str, *, current: "DraftEdits", changes: list[str]):
        super().__init__(message)
        self.current = current
        self.changes = changes


@dataclass
class DraftEdits:
    version: int = 0
    editorial: str | None = None
    featured: list[str] | None = None  # None: the pipeline's choice; else URLs in order
    removed: list[str] = field(default_factory=list)
    order: dict[str, list[str]] = field(default_factory=dict)  # section -> URLs in the officer's order
    categories: dict[str, str] = field(default_factory=dict)  # URL -> category slug
    unmerged: list[str] = field(default_factory=list)  # absorbed URLs brought back as items
    social: dict[str, str] = field(default_factory=dict)  # post key -> text
    extra: dict[str, Any] = field(default_factory=dict)  # feature data (posting plan, suggestions…)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "DraftEdits":
        data = dict(data or {})
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: copy.deepcopy(v) for k, v in data.items() if k in known})

    def copy(self) -> "DraftEdits":
        return DraftEdits.from_dict(self.to_dict())

    def is_empty(self) -> bool:
        blank = DraftEdits(version=self.version)
        return self.to_dict() == blank.to_dict()


# -- what changed, in French -------------------------------------------------


def describe_changes(old: DraftEdits, new: DraftEdits) -> list[str]:
    """The differences between two versions of the edits, as French sentences."""
    out: list[str] = []
    if (old.editorial or "") != (new.editorial or ""):
        out.append("l'éditorial a été modifié")
    if old.featured != new.featured:
        out.append("le choix « À la une » a changé")
    added = [u for u in new.removed if u not in old.removed]
    back = [u for u in old.removed if u not in new.removed]
    if added:
        out.append(f"{len(added)} élément(s) retiré(s) : " + ", ".join(added))
    if back:
        out.append(f"{len(back)} élément(s) remis : " + ", ".join(back))
    for section in sorted(set(old.order) | set(new.order)):
        if old.order.get(section) != new.order.get(section):
            out.append(f"l'ordre de la rubrique « {section_label(section)} » a changé")
    for url in sorted(set(old.categories) | set(new.categories)):
        if old.categories.get(url) != new.categories.get(url):
            out.append(f"la catégorie de {url} est passée à « {new.categories.get(url) or 'automatique'} »")
    for url in new.unmerged:
        if url not in old.unmerged:
            out.append(f"fusion annulée : {url}")
    for key in sorted(set(old.social) | set(new.social)):
        if old.social.get(key) != new.social.get(key):
            out.append(f"le post {key} a été modifié")
    for key in sorted(set(old.extra) | set(new.extra)):
        if old.extra.get(key) != new.extra.get(key):
            out.append(f"« {key} » a été modifié")
    return out


def section_label(section: str) -> str:
    if section.startswith("news:"):
        return "Actualités – " + section[5:]
    return SECTION_LABELS_FR.get(section, section)


# -- storage -------------------------------------------------------------------


def load_edits(store: Any, draft_id: str) -> DraftEdits:
    row = store.latest_draft_edits(draft_id)
    if row is None:
        return DraftEdits()
    edits = DraftEdits.from_dict(json.loads(row["edits_json"]))
    edits.version = row["version"]
    return edits


def edits_at(store: Any, draft_id: str, version: int) -> DraftEdits:
    if version <= 0:
        return DraftEdits()
    row = store.draft_edits_version(draft_id, version)
    if row is None:
        return DraftEdits()
    edits = DraftEdits.from_dict(json.loads(row["edits_json"]))
    edits.version = version
    return edits


def save_edits(
    store: Any,
    draft_id: str,
    change: Callable[[DraftEdits], None],
    *,
    base_version: int | None,
    actor: str,
    note: str,
) -> DraftEdits:
    """Apply ``change`` to the edits at ``base_version`` and store them as the next version.

    ``base_version`` is the version the officer's form was built from (None:
    the latest, for the command line). A stale base raises :class:`StaleEdit`
    naming what changed since; nothing is stored then.
    """
    current = load_edits(store, draft_id)
    if base_version is None:
        base_version = current.version
    if base_version != current.version:
        raise stale_error(store, draft_id, base_version, current)
    new = current.copy()
    change(new)
    new.version = current.version + 1
    payload = new.to_dict()
    payload.pop("version", None)
    if not store.insert_draft_edits(draft_id, new.version, json.dumps(payload, ensure_ascii=False), actor, note):
        raise stale_error(store, draft_id, base_version, load_edits(store, draft_id))
    return new


def stale_error(store: Any, draft_id: str, base_version: int, current: DraftEdits) -> StaleEdit:
    base = edits_at(store, draft_id, base_version)
    changes = describe_changes(base, current)
    who = [
        f"{row['actor']} ({_fmt_at(row['at'])})"
        for row in store.draft_edits_rows(draft_id)
        if row["version"] > base_version
    ]
    by = f" par {', '.join(dict.fromkeys(who))}" if who else ""
    detail = " ; ".join(changes) if changes else "le brouillon a été régénéré"
    return StaleEdit(
        "Ce brouillon a été modifié entre-temps" + by + f" : {detail}. "
        "Vos changements n'ont pas été enregistrés : rechargez la page pour repartir de la dernière version.",
        current=current,
        changes=changes,
    )


def _fmt_at(value: Any) -> str:
    if isinstance(value, datetime):
        from newsletter.normalize import PARIS

        return value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
    return str(value)


# -- applying edits to a curated issue -----------------------------------------


def section_items(issue: Issue) -> dict[str, list[Item]]:
    """The issue's sections by edit name, in display order."""
    out: dict[str, list[Item]] = {FEATURED: issue.featured, AGENDA: issue.agenda}
    for slug, items in issue.news.items():
        out[f"news:{slug}"] = items
    out[RESOURCES] = issue.resources
    out[PRESS] = issue.press
    return out


def item_urls(item: Item) -> set[str]:
    from newsletter.urls import strip_tracking

    urls = {item.url, strip_tracking(item.url)}
    if item.canonical_url:
        urls.add(item.canonical_url)
    return urls


def apply_edits(
    curated: Issue,
    report: dict[str, Any],
    edits: DraftEdits,
    *,
    taxonomy: Any,
    strict: bool = True,
) -> tuple[Issue, dict[str, Any], list[str]]:
    """The issue to render: ``curated`` with the officer's edits applied.

    Returns (issue, report with undone merges marked, notes). With
    ``strict`` an edit naming an URL that is not in the draft is an
    :class:`OutboxError`; without (a new run of the month, where an item may
    have gone) it is skipped and described in ``notes``.
    """
    issue = Issue.from_dict(curated.to_dict())
    report = copy.deepcopy(report or {})
    notes: list[str] = []

    def missing(url: str, what: str) -> None:
        if strict:
            raise OutboxError(f"« {url} » n'est pas un élément de ce brouillon")
        notes.append(f"{what} ignoré : « {url} » n'est plus dans la sélection du mois")

    for url in edits.unmerged:
        try:
            _undo_merge(issue, report, url, taxonomy)
        except OutboxError:
            if strict:
                raise
            notes.append(f"annulation de fusion ignorée : « {url} » n'est plus fusionné")

    answers = (edits.extra or {}).get("suggestions")
    if answers:
        from newsletter.curate.dedupe import SuggestionError, apply_suggestion_edits

        try:
            confirmed = apply_suggestion_edits(issue, answers)
        except SuggestionError as exc:
            if strict:
                raise OutboxError(str(exc)) from None
            notes.append(f"réponse à une suggestion ignorée : {exc}")
            confirmed = []
        report.setdefault("confirmed", []).extend(confirmed)
        answered = {tuple(pair) for key in ("confirmed", "dismissed") for pair in answers.get(key) or []}
        for entry in report.get("suggested") or []:
            if (entry.get("url"), entry.get("other_url")) in answered:
                entry["answered"] = "confirmed" if [entry["url"], entry["other_url"]] in (answers.get("confirmed") or []) else "dismissed"

    def find(url: str) -> Item | None:
        for item in issue.all_items():
            if url in item_urls(item):
                return item
        return None

    for url, slug in edits.categories.items():
        item = find(url)
        if item is None:
            missing(url, "changement de catégorie")
            continue
        if slug not in getattr(taxonomy, "slugs", [slug]) and slug != "autres":
            raise OutboxError(f"catégorie inconnue : « {slug} »")
        _set_category(issue, item, slug, taxonomy)

    removed: list[Item] = []
    for url in edits.removed:
        item = find(url)
        if item is None:
            missing(url, "retrait")
            continue
        removed.append(item)
    removed_ids = {id(i) for i in removed}
    for name, items in section_items(issue).items():
        items[:] = [i for i in items if id(i) not in removed_ids]
    for slug in [s for s, items in issue.news.items() if not items]:
        del issue.news[slug]

    if edits.featured is not None:
        chosen = []
        for url in edits.featured:
            item = find(url)
            if item is None:
                missing(url, "« À la une »")
                continue
            if item not in chosen:
                chosen.append(item)
        for item in issue.all_items():
            item.featured = False
        for item in chosen:
            item.featured = True
        issue.featured = chosen

    sections = section_items(issue)
    for section, urls in edits.order.items():
        items = sections.get(section)
        if items is None:
            continue
        rank = {u: n for n, u in enumerate(urls)}

        def position(pair: tuple[int, Item]) -> tuple[int, int]:
            n, item = pair
            ranks = [rank[u] for u in item_urls(item) if u in rank]
            return (min(ranks) if ranks else len(rank) + n, n)

        items[:] = [item for _, item in sorted(enumerate(items), key=position)]

    if edits.editorial is not None:
        issue.editorial = edits.editorial.strip() or None
    return issue, report, notes


def _set_category(issue: Issue, item: Item, slug: str, taxonomy: Any) -> None:
    item.category = slug
    item.extra["category_by"] = "officer"
    label = getattr(taxonomy, "label", None)
    if callable(label) and slug not in issue.category_labels:
        try:
            issue.category_labels[slug] = label(slug)
        except Exception:  # a taxonomy without that label: the slug shows
            issue.category_labels[slug] = slug
    if item.kind != "article":
        return
    for other_slug, items in list(issue.news.items()):
        for candidate in list(items):
            if candidate.url == item.url and other_slug != slug:
                items.remove(candidate)
                issue.news.setdefault(slug, []).append(candidate)
    for other_slug in [s for s, items in issue.news.items() if not items]:
        del issue.news[other_slug]


def _undo_merge(issue: Issue, report: dict[str, Any], url: str, taxonomy: Any) -> None:
    """Bring an absorbed copy back as an item of its own (the officer undoes a wrong merge)."""
    from newsletter.curate.classify import classify
    from newsletter.urls import strip_tracking

    entries = [
        e for e in report.get("merged") or []
        if url in (e.get("absorbed_url"), strip_tracking(e.get("absorbed_url") or "")) and not e.get("undone")
    ]
    if not entries or "absorbed_item" not in entries[0]:
        raise OutboxError(f"« {url} » n'a pas été fusionné avec un autre élément dans ce brouillon")
    entry = entries[0]
    item = Item.from_dict(entry["absorbed_item"])
    item.url = strip_tracking(item.url)
    kept_urls = {entry.get("kept_url"), strip_tracking(entry.get("kept_url") or "")}
    for kept in issue.all_items():
        if kept.url in kept_urls:
            kept.merged = [u for u in kept.merged if u != entry["absorbed_url"]]
            if item.outlet in kept.outlets:
                kept.outlets.remove(item.outlet)
    classify([item], taxonomy)
    if item.kind == "press":
        section = issue.press
    elif item.kind == "event":
        section = issue.agenda
    elif item.kind == "resource":
        section = issue.resources
    else:
        section = issue.news.setdefault(item.category or "autres", [])
    section.append(item)
    if item.kind == "event":
        section.sort(key=lambda i: (i.start is None, i.start or datetime.min))
    else:
        section.sort(key=lambda i: (i.published is None, -(i.published.timestamp() if i.published else 0)))
    entry["undone"] = True


def removed_items(curated: Issue, edits: DraftEdits) -> list[Item]:
    """Items of the curated issue the officer removed (the review page offers them back)."""
    out = []
    seen: set[str] = set()
    for item in curated.all_items():
        if item.url in seen:
            continue
        if item_urls(item) & set(edits.removed):
            seen.add(item.url)
            out.append(item)
    return out


def social_key(post: dict[str, Any]) -> str:
    """A social post's stable key for edits: its id when it has one, else platform, kind and link."""
    if post.get("id"):
        return str(post["id"])
    return f"{post.get('platform')}|{post.get('kind')}|{post.get('url')}"


def apply_social_edits(posts: Iterable[dict[str, Any]], edits: DraftEdits) -> list[dict[str, Any]]:
    """The social drafts with the officer's texts; lengths counted again as each platform counts."""
    from newsletter.render.social import LIMITS, platform_length

    out = []
    for post in posts:
        post = dict(post)
        key = social_key(post)
        if key in edits.social:
            post["text"] = edits.social[key]
            post["edited"] = True
            if post.get("platform") in LIMITS:
                post["length"] = platform_length(post["text"], post["platform"])
                post["limit"] = LIMITS[post["platform"]]
                post["fits"] = post["length"] <= post["limit"]
        out.append(post)
    return out
