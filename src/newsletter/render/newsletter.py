"""Render a curated ``Issue`` into the e-mail (HTML + plain text).

Pipeline: Jinja2 (StrictUndefined, autoescape) builds MJML from
``templates/newsletter.mjml.j2``; mjml-python (MRML) turns it into e-mail HTML;
css-inline inlines ``templates/newsletter.css.j2`` (MRML does not inline
``mj-style inline``). The HTML is then validated: a leftover ``mj-`` tag
(MRML passes unknown tags through), unbalanced markup, an image without
``alt`` or an empty link raises ``TemplateError`` naming the template.

The size budget (Gmail clips HTML past ~102 KB) is checked on every render;
``RenderedNewsletter.warnings`` (French, for the communications officer) says
when an issue is close to or over it, and what to trim.
"""

from __future__ import annotations

from newsletter.errors import UserError

import functools
import re
import textwrap
import traceback
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import css_inline
import jinja2
import markupsafe
import mjml

from newsletter.render.branding import Branding
from newsletter.render.frformat import (
    format_date_fr,
    format_event_when_fr,
    format_month_fr,
    format_short_date_fr,
)
from newsletter.render.ics import ics_filename, event_ics
from newsletter.home import packaged_templates, template_dirs
from newsletter.models import Item, Issue
from newsletter.normalize import clean_text, truncate

# The packaged templates. At run time templates are looked up in the home's
# templates/ first, then here (newsletter.home.template_dirs).
TEMPLATES_DIR = packaged_templates()
MJML_TEMPLATE = "newsletter.mjml.j2"
TEXT_TEMPLATE = "newsletter.txt.j2"
CSS_TEMPLATE = "newsletter.css.j2"
MODES = ("email", "web")
PLAIN_SUFFIXES = (".txt.j2", ".css.j2")

SUMMARY_CHARS = 280
FEATURED_SUMMARY_CHARS = 420
NEAR_BUDGET = 0.9
SECTION_LABELS = {
    "editorial": "Édito",
    "featured": "À la une",
    "agenda": "Agenda",
    "news": "Actualités",
    "resources": "Ressources",
    "press": "Revue de presse",
}


class TemplateError(UserError):
    """A template is broken. The message names the template (and line when known)."""


@dataclass
class RenderedNewsletter:
    html: str
    text: str
    mjml: str
    subject: str
    preheader: str
    warnings: list[str] = field(default_factory=list)
    size_bytes: int = 0
    web_url: str = ""
    mode: str = "email"
    # Events linked with "Ajouter à mon agenda": file name -> item (see ics_files()).
    events: dict[str, Item] = field(default_factory=dict, repr=False)

    def ics_files(self) -> dict[str, bytes]:
        """Calendar files to publish under ``ics/`` next to the online version."""
        return {name: event_ics(item) for name, item in self.events.items()}


# ---------------------------------------------------------------- helpers


def add_campaign(url: str | None, params: dict[str, str] | None) -> str | None:
    """Append campaign parameters to an http(s) URL, keeping existing ones (never overriding)."""
    if not url or not params or not url.startswith(("http://", "https://")):
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in query}
    query += [(k, v) for k, v in params.items() if k not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _wrap(text: str, width: int = 72, indent: str = "", first: str | None = None) -> str:
    """Filter for the plain-text part: wrap without breaking URLs or long words."""
    lines = textwrap.wrap(
        text or "",
        width=width,
        initial_indent=indent if first is None else first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(lines)


def template_environment(templates_dir: str | Path | None = None) -> jinja2.Environment:
    """The Jinja environment of the letter's templates.

    ``templates_dir``: one folder holding every template; default: the home's
    ``templates/`` (overrides) then the packaged templates.
    """
    if templates_dir is not None:
        dirs: tuple[str, ...] = (str(Path(templates_dir).resolve()),)
    else:
        # (In the repository the home's templates/ is the packaged folder itself: listed once.)
        dirs = tuple(dict.fromkeys(str(d.resolve()) for d in template_dirs()))
    return _cached_environment(dirs)


@functools.lru_cache(maxsize=8)
def _cached_environment(dirs: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        # A list of folders: the first that has a template wins (home overrides first).
        loader=jinja2.FileSystemLoader(list(dirs)),
        undefined=jinja2.StrictUndefined,
        # HTML-escape everything except the plain-text part and the CSS.
        autoescape=lambda name: name is None or not name.endswith(PLAIN_SUFFIXES),
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = _wrap
    return env


def _template_line(exc: BaseException, name: str) -> str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename and frame.filename.endswith((".j2", ".mjml", ".txt", ".html", ".xml")):
            return f"{Path(frame.filename).name}, line {frame.lineno}"
    return name


def render_template(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render one template; any Jinja problem becomes a TemplateError naming it."""
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template {exc.name!r} not found in {env.loader.searchpath}") from None  # type: ignore[union-attr]
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.name or name}, line {exc.lineno}: syntax error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{_template_line(exc, name)}: undefined variable: {exc.message}") from None


# ---------------------------------------------------------------- validation

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
_MJ_TAG = re.compile(r"<\/?mj-[a-z-]+", re.IGNORECASE)


class _Checker(HTMLParser):
    """Balance of tags, alt on images, links with a target and a text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, int]] = []
        self.problems: list[str] = []
        self.link: list[Any] | None = None  # [line, href, text parts, has title/aria]
        self.lang: str | None = None
        self.title_text: list[str] | None = None
        self.title = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        line = self.getpos()[0]
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "title":
            self.title_text = []
        if tag == "img" and not (a.get("alt") or "").strip():
            self.problems.append(f"line {line}: <img src={a.get('src')!r}> has no alt text")
        if tag == "a":
            if not (a.get("href") or "").strip():
                self.problems.append(f"line {line}: <a> without href")
            self.link = [line, a.get("href"), [], bool(a.get("aria-label") or a.get("title"))]
        if self.link is not None and tag == "img" and (a.get("alt") or "").strip():
            self.link[2].append(a["alt"])
        if tag not in VOID:
            self.stack.append((tag, line))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        line = self.getpos()[0]
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            opened = f"<{self.stack[-1][0]}> opened on line {self.stack[-1][1]}" if self.stack else "nothing open"
            self.problems.append(f"line {line}: </{tag}> does not close anything ({opened})")
            # Recover: pop to the matching tag if there is one.
            for i in range(len(self.stack) - 1, -1, -1):
                if self.stack[i][0] == tag:
                    del self.stack[i:]
                    break
            return
        self.stack.pop()
        if tag == "a" and self.link is not None:
            if not "".join(self.link[2]).strip() and not self.link[3]:
                self.problems.append(f"line {self.link[0]}: link to {self.link[1]!r} has no text")
            self.link = None
        if tag == "title" and self.title_text is not None:
            self.title = "".join(self.title_text).strip()
            self.title_text = None

    def handle_data(self, data):
        if self.link is not None:
            self.link[2].append(data)
        if self.title_text is not None:
            self.title_text.append(data)


def validate_html(html: str, template: str) -> None:
    """Raise TemplateError naming ``template`` if the rendered e-mail HTML is broken."""
    leftover = sorted(set(m.group(0).lstrip("</") for m in _MJ_TAG.finditer(html)))
    if leftover:
        raise TemplateError(
            f"{template}: unknown MJML tag(s) left in the HTML: {', '.join('<' + t + '>' for t in leftover)}"
            " (misspelt or unsupported by mjml-python)"
        )
    checker = _Checker()
    checker.feed(html)
    checker.close()
    problems = list(checker.problems)
    for tag, line in checker.stack:
        problems.append(f"line {line}: <{tag}> is never closed")
    if checker.lang != "fr":
        problems.append(f'<html> has lang={checker.lang!r}, expected "fr"')
    if not checker.title:
        problems.append("<title> is empty")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise TemplateError(f"{template}: broken HTML: {'; '.join(problems[:5])}{more}")


# ---------------------------------------------------------------- view model


def _also_in(outlets: list[str]) -> str:
    """"également dans Le Monde, Libération et La Voix du Nord" ("" when none)."""
    outlets = list(dict.fromkeys(outlets))
    if not outlets:
        return ""
    names = outlets[0] if len(outlets) == 1 else ", ".join(outlets[:-1]) + " et " + outlets[-1]
    return f"également dans {names}"


def _month_key(issue: Issue) -> str:
    return f"{issue.month:%Y-%m}"


# The editorial's links: markdown-style ``[texte](https://…)`` and bare http(s) URLs.
_EDITORIAL_LINK = re.compile(
    r"\[(?P<label>[^\[\]\n]+)\]\((?P<target>(?:https?://|mailto:)[^\s()<>]+)\)"
    r"|(?P<bare>https?://[^\s<>\"'()\[\]]+)"
)
_TRAILING_PUNCT = ".,;:!?»"


def _paragraphs(text: str | None, track: Any = None) -> list[dict[str, Any]]:
    """The editorial as paragraphs, each ``{"html": Markup, "text": str}``.

    Everything is escaped; only the links become markup (``[texte](url)`` and
    bare http(s) URLs, see ``outbox.edits.validate_editorial``). The plain-text
    part shows a link as ``texte (url)``.
    """
    if not text:
        return []
    track = track or (lambda url: url)
    out = []
    for raw in re.split(r"\n\s*\n", text):
        para = clean_text(raw)
        if not para:
            continue
        html_parts: list[str] = []
        text_parts: list[str] = []
        last = 0
        for match in _EDITORIAL_LINK.finditer(para):
            start, end = match.span()
            if match.group("bare"):
                url = match.group("bare")
                stripped = url.rstrip(_TRAILING_PUNCT)
                end -= len(url) - len(stripped)
                url = label = stripped
                shown = url
            else:
                url, label = match.group("target"), match.group("label").strip()
                shown = f"{label} ({url})"
            html_parts.append(str(markupsafe.escape(para[last:start])))
            html_parts.append(
                f'<a href="{markupsafe.escape(track(url))}">{markupsafe.escape(label)}</a>'
            )
            text_parts.append(para[last:start] + shown)
            last = end
        html_parts.append(str(markupsafe.escape(para[last:])))
        text_parts.append(para[last:])
        out.append({"html": markupsafe.Markup("".join(html_parts)), "text": "".join(text_parts)})
    return out


def _places_label(item: Item) -> str:
    if item.places:
        return f"Places limitées ({item.places})" if item.places_limited else f"{item.places} places"
    return "Places limitées" if item.places_limited else ""


class _View:
    """Turns items into the plain dicts the templates read (all keys always present)."""

    def __init__(self, issue: Issue, branding: Branding, campaign: dict[str, str], ics_base: str):
        self.issue = issue
        self.branding = branding
        self.campaign = campaign
        self.ics_base = ics_base
        self.events: dict[str, Item] = {}

    def track(self, url: str | None) -> str | None:
        return add_campaign(url, self.campaign)

    def item(self, it: Item, summary_chars: int = SUMMARY_CHARS) -> dict[str, Any]:
        title = clean_text(it.title) or it.url
        meta = []
        if it.kind == "resource":
            meta.append("Ressource")
        if it.published is not None and it.kind in ("article", "resource"):
            meta.append(f"Publié le {format_date_fr(it.published, weekday=False)}")
        view = {
            "title": title,
            "url": self.track(it.url),
            "summary": truncate(clean_text(it.summary), summary_chars),
            "meta": " · ".join(meta),
            "image": it.image if it.image and it.image.startswith(("http://", "https://")) else None,
            "image_alt": clean_text(it.image_alt) or title,
            "outlet": clean_text(it.outlet) or clean_text(it.source) or "Presse",
            # A press story other outlets ran too (merged copies, or a suggestion the officer confirmed).
            "also_in": _also_in([clean_text(o) for o in it.outlets if clean_text(o)]),
            "date_label": format_short_date_fr(it.published) if it.published else "",
            "event": None,
        }
        if it.kind == "event" and it.start is not None:
            view["event"] = self.event(it, summary_chars)
        return view

    def event(self, it: Item, summary_chars: int = SUMMARY_CHARS) -> dict[str, Any]:
        name = ics_filename(it)
        self.events[name] = it
        deadline = ""
        if it.registration_deadline is not None:
            deadline = f"Inscription avant le {format_date_fr(it.registration_deadline, weekday=False)}"
        return {
            "title": clean_text(it.title) or it.url,
            "url": self.track(it.url),
            "when": format_event_when_fr(it.start, it.end),
            "location": clean_text(it.location),
            "registration_url": self.track(it.registration_url),
            "places_label": _places_label(it),
            "deadline_label": deadline,
            "summary": truncate(clean_text(it.summary), summary_chars),
            "ics_url": self.ics_base + name,
        }


def _context(
    issue: Issue,
    branding: Branding,
    *,
    campaign: dict[str, str],
    web_url: str,
    mode: str,
    omit: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], dict[str, Item]]:
    month_key = _month_key(issue)
    archive_index = branding.archive_url.rstrip("/") + "/"
    ics_base = "ics/" if mode == "web" else web_url.rstrip("/") + "/ics/"
    view = _View(issue, branding, campaign, ics_base)

    # An item shown "À la une" is not repeated further down.
    featured_keys = {it.key for it in issue.featured}

    def rest(items: list[Item]) -> list[Item]:
        return [it for it in items if it.key not in featured_keys]

    featured = [view.item(it, FEATURED_SUMMARY_CHARS) for it in issue.featured]
    agenda = [view.event(it) for it in rest(issue.agenda) if it.start is not None]
    news = []
    for slug, items in issue.news.items():
        kept = rest(items)
        if kept:
            label = issue.category_labels.get(slug) or slug.replace("-", " ").capitalize()
            news.append({"slug": slug, "label": label, "items": [view.item(it) for it in kept]})
    resources = [view.item(it) for it in rest(issue.resources)]
    press = [view.item(it) for it in rest(issue.press)]

    month_label = format_month_fr(issue.month)
    subject = f"{branding.newsletter_name} – {month_label}"
    ctx: dict[str, Any] = {
        "b": branding,
        "c": branding.colors,
        "mode": mode,
        "title": subject,
        "subject": subject,
        "month_key": month_key,
        "month_label": month_label,
        "month_label_cap": month_label[:1].upper() + month_label[1:],
        "editorial": [] if "editorial" in omit else _paragraphs(issue.editorial, view.track),
        "featured": [] if "featured" in omit else featured,
        "agenda": [] if "agenda" in omit else agenda,
        "news": [] if "news" in omit else news,
        "resources": [] if "resources" in omit else resources,
        "press": [] if "press" in omit else press,
        "web_url": web_url,
        "archive_index_url": archive_index,
        "feed_url": archive_index + "feed.xml",
        "site_url": view.track(branding.site_url),
        "site_label": re.sub(r"^https?://", "", branding.site_url).rstrip("/"),
        "social": [{"name": s.name, "url": view.track(s.url)} for s in branding.social],
        "unsubscribe_url": branding.unsubscribe_url,
    }
    ctx["preheader"] = _preheader(ctx)
    return ctx, view.events


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _preheader(ctx: dict[str, Any]) -> str:
    parts = []
    if ctx["featured"]:
        parts.append(ctx["featured"][0]["title"])
    if ctx["agenda"]:
        parts.append(_plural(len(ctx["agenda"]), "rendez-vous à l'agenda", "rendez-vous à l'agenda"))
    n_news = sum(len(g["items"]) for g in ctx["news"])
    if n_news:
        parts.append(_plural(n_news, "actualité", "actualités"))
    if ctx["resources"]:
        parts.append(_plural(len(ctx["resources"]), "ressource", "ressources"))
    if not parts:
        return f"{ctx['b'].newsletter_name} de {ctx['month_label']}"
    return truncate(" · ".join(parts), 150)


# ---------------------------------------------------------------- rendering


def _html(env: jinja2.Environment, ctx: dict[str, Any]) -> tuple[str, str]:
    source = render_template(env, MJML_TEMPLATE, ctx)
    try:
        html = mjml.mjml2html(source, disable_comments=True)
    except Exception as exc:  # MRML raises a plain exception on invalid MJML
        raise TemplateError(f"{MJML_TEMPLATE}: MJML error: {exc}{_excerpt(source, str(exc))}") from None
    css = render_template(env, CSS_TEMPLATE, ctx)
    try:
        html = css_inline.inline(
            html,
            inline_style_tags=False,  # leave MRML's own styles (and media queries) in <head>
            keep_style_tags=True,
            load_remote_stylesheets=False,
            extra_css=css,
        )
    except css_inline.InlineError as exc:
        raise TemplateError(f"{CSS_TEMPLATE}: CSS could not be inlined: {exc}") from None
    return source, html


def _excerpt(source: str, message: str) -> str:
    """The generated MJML around the position MRML reports, to find the template line."""
    m = re.search(r"position (\d+)(?::(\d+))?", message)
    if not m:
        return ""
    # MRML reports byte offsets in the UTF-8 source.
    pos = len(source.encode("utf-8")[: int(m.group(1))].decode("utf-8", errors="ignore"))
    line = source.count("\n", 0, pos) + 1
    snippet = source[max(0, pos - 60) : pos + 60].replace("\n", " ")
    return f" (generated MJML line {line}: ...{snippet}...)"


def _kb(n: int) -> str:
    return f"{n / 1000:.0f} Ko"


def _budget_warnings(
    env: jinja2.Environment, ctx: dict[str, Any], size: int, budget: int, build
) -> list[str]:
    if size <= budget * NEAR_BUDGET:
        return []
    if size <= budget:
        return [
            f"La lettre pèse {_kb(size)} de HTML, proche de la limite de {_kb(budget)} au-delà de"
            " laquelle Gmail la tronque : évitez d'ajouter du contenu."
        ]
    # Over budget: weigh each section by rendering the issue without it.
    weights = []
    for section in ("featured", "agenda", "news", "resources", "press", "editorial"):
        if not ctx[section]:
            continue
        _, html_without = _html(env, build(frozenset({section})))
        count = len(ctx[section]) if section != "news" else sum(len(g["items"]) for g in ctx["news"])
        weights.append((size - len(html_without.encode("utf-8")), section, count))
    weights.sort(reverse=True)
    over = size - budget
    advice = ", ".join(
        f"{SECTION_LABELS[s]} ({_plural(n, 'élément', 'éléments')}, {_kb(w)})" for w, s, n in weights[:3]
    )
    return [
        f"La lettre pèse {_kb(size)} de HTML : Gmail tronque les messages au-delà de {_kb(budget)}"
        f" et masquera la fin (dont le lien de désinscription). Retirez environ {_kb(over)}."
        f" Sections les plus lourdes : {advice}."
    ]


def render_newsletter(
    issue: Issue,
    branding: Branding,
    *,
    templates_dir: Path | None = None,
    campaign: dict | None = None,
    web_url: str | None = None,
    mode: str = "email",
) -> RenderedNewsletter:
    """Render ``issue`` to HTML and plain text.

    ``campaign``: query parameters added to outgoing links (e.g. ``{"utm_source":
    "newsletter", ...}``); ``None`` uses the branding's campaign settings (off by
    default); ``{}`` adds none. ``web_url``: the online version of this issue
    (default ``<branding.archive_url>/<YYYY-MM>/``). ``mode="web"`` renders the
    standalone archive page (no unsubscribe link, relative .ics links).
    Raises TemplateError naming the template when a template is broken.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    env = template_environment(templates_dir)
    month_key = _month_key(issue)
    params = campaign if campaign is not None else branding.campaign.params(month_key)
    params = {str(k): str(v) for k, v in params.items()}
    web_url = web_url or branding.issue_url(month_key)

    def build(omit: frozenset[str] = frozenset()) -> dict[str, Any]:
        return _context(issue, branding, campaign=params, web_url=web_url, mode=mode, omit=omit)[0]

    ctx, events = _context(issue, branding, campaign=params, web_url=web_url, mode=mode)
    source, html = _html(env, ctx)
    validate_html(html, MJML_TEMPLATE)
    text = render_template(env, TEXT_TEMPLATE, ctx)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    size = len(html.encode("utf-8"))
    warnings = _budget_warnings(env, ctx, size, branding.size_budget_bytes, build)
    if not issue.all_items():
        warnings.append("La lettre ne contient aucun élément : rien à la une, ni agenda, ni actualité.")
    return RenderedNewsletter(
        html=html,
        text=text,
        mjml=source,
        subject=ctx["subject"],
        preheader=ctx["preheader"],
        warnings=warnings,
        size_bytes=size,
        web_url=web_url,
        mode=mode,
        events=events,
    )
