"""Social media drafts for each item of an issue, and one "la lettre est parue" post.

Each platform counts differently; ``platform_length`` applies its rule:

- ``linkedin``: 3,000 characters, counted as UTF-16 code units (what the
  LinkedIn composer counts; never fewer than code points).
- ``x``: 280 *weighted* characters through twitter-text (each URL counts 23,
  emoji 2, CJK 2; text NFC-normalised).
- ``mastodon``: 500 characters, each http(s) URL counting 23; the rest is
  counted in code points (the server counts grapheme clusters, so this is never
  an under-estimate).
- ``bluesky``: 300 grapheme clusters, URLs counted in full.

Drafts are built from ``templates/social/*.j2`` and shortened until they fit:
first the summary (on a word boundary), then the hashtags, then the place line
(city only, then none), then the hour line (the date stays), and the title
last, never below its first 40 characters. Press items (other outlets'
stories) get no item post. Every post links with an https URL: an item whose
own link is not https links to the newsletter's web version instead. With
campaign parameters enabled in the branding, each platform's links carry its
own (source = the platform, medium = "social"). ``render.plan`` turns these
drafts into a dated posting plan. ``buffer_csv`` exports
the drafts in Buffer's bulk-upload CSV format (columns: Text, Image URL, Tags,
Posting Time).
"""

from __future__ import annotations

import csv
import hashlib
import io
import functools
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import grapheme
import jinja2
from twitter_text import extract_urls_with_indices, parse_tweet

from newsletter.curate.classify import HASHTAG
from newsletter.errors import UserError
from newsletter.render.branding import Branding
from newsletter.render.frformat import format_date_fr, format_event_when_fr, format_month_fr
from newsletter.models import Issue, Item
from newsletter.normalize import clean_text
from newsletter.home import template_dirs
from newsletter.render.newsletter import add_campaign, render_template  # shared error handling: TemplateError naming the template

PLATFORMS = ("linkedin", "x", "mastodon", "bluesky")
LIMITS = {"linkedin": 3000, "x": 280, "mastodon": 500, "bluesky": 300}
URL_WEIGHT = 23
# How many hashtags each platform's post carries at most.
MAX_HASHTAGS = {"linkedin": 4, "x": 2, "mastodon": 3, "bluesky": 2}
# Longest summary we start from (LinkedIn posts may be longer, they still read better short).
START_SUMMARY = {"linkedin": 700, "x": 280, "mastodon": 400, "bluesky": 300}
MIN_TITLE = 30
# A shortened title keeps at least its first 40 characters (all of it when shorter).
MIN_TITLE_KEPT = 40
BUFFER_COLUMNS = ("Text", "Image URL", "Tags", "Posting Time")
_HASHTAG = HASHTAG  # the taxonomy's rule (checked when the taxonomy is loaded)


class SocialError(UserError, ValueError):
    """Bad input for the social drafts (unknown platform, malformed hashtag)."""


# ---------------------------------------------------------------- counting


def _check_platform(platform: str) -> None:
    if platform not in LIMITS:
        raise SocialError(f"unknown platform {platform!r} (expected one of {', '.join(PLATFORMS)})")


@functools.lru_cache(maxsize=8192)
def platform_length(text: str, platform: str) -> int:
    """Length of ``text`` as ``platform`` counts it against its limit.

    Cached: shortening a post measures the same candidates again, and every
    edit on the review page re-renders the month's posts (twitter-text's
    parser is most of a render's time)."""
    _check_platform(platform)
    text = unicodedata.normalize("NFC", text)
    if platform == "x":
        return parse_tweet(text).weightedLength
    if platform == "mastodon":
        length, last = 0, 0
        for found in extract_urls_with_indices(text, extract_urls_without_protocol=False):
            start, end = found["indices"]
            length += len(text[last:start]) + URL_WEIGHT
            last = end
        return length + len(text[last:])
    if platform == "bluesky":
        return grapheme.length(text)
    return len(text.encode("utf-16-le")) // 2  # linkedin


def fits(text: str, platform: str) -> bool:
    """True when ``text`` is within ``platform``'s limit."""
    return platform_length(text, platform) <= LIMITS[platform]


# ---------------------------------------------------------------- text helpers


def _cut(text: str, graphemes: int) -> str:
    """At most ``graphemes`` grapheme clusters, on a word boundary, with an ellipsis."""
    if grapheme.length(text) <= graphemes:
        return text
    if graphemes <= 1:
        return ""
    head = grapheme.slice(text, 0, graphemes - 1)
    space = head.rfind(" ")
    if space > len(head) // 2:
        head = head[:space]
    return head.rstrip(" ,;:.-–—") + "…"


def normalise_hashtags(tags: list[str] | None) -> list[str]:
    """"#PolitiqueDeLaVille" form; raises SocialError naming a malformed tag."""
    out: list[str] = []
    for tag in tags or []:
        tag = str(tag).strip()
        match = _HASHTAG.match(tag)
        if not match:
            raise SocialError(f"hashtag {tag!r} is not a single word (letters, digits, _)")
        value = "#" + match.group(1)
        if value.lower() not in {t.lower() for t in out}:
            out.append(value)
    return out


def _environment(templates_dir: Path | None) -> jinja2.Environment:
    dirs = [Path(templates_dir)] if templates_dir is not None else template_dirs()
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text
        keep_trailing_newline=False,
    )


def _render(env: jinja2.Environment, name: str, ctx: dict[str, Any]) -> str:
    text = render_template(env, name, ctx)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return unicodedata.normalize("NFC", text)


def _fit(env: jinja2.Environment, name: str, ctx: dict[str, Any], platform: str, tags: list[str]) -> str:
    """Render, shortening the summary, then hashtags, then the title until it fits."""
    limit = LIMITS[platform]
    summary_full = ctx.get("summary", "")
    title_full = ctx.get("title", "")
    tags = tags[: MAX_HASHTAGS[platform]]

    def attempt(summary_len: int, n_tags: int, title_len: int | None) -> str:
        local = dict(ctx, hashtags=" ".join(tags[:n_tags]))
        if "summary" in ctx:
            local["summary"] = _cut(summary_full, summary_len)
        if "title" in ctx and title_len is not None:
            local["title"] = _cut(title_full, title_len)
        return _render(env, name, local)

    start = min(grapheme.length(summary_full), START_SUMMARY[platform]) if summary_full else 0
    text = attempt(start, len(tags), None)
    if platform_length(text, platform) <= limit:
        return text
    # Longest summary that fits (binary search on its length); keep it only if useful.
    lo, hi = 0, start
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if platform_length(attempt(mid, len(tags), None), platform) <= limit:
            lo = mid
        else:
            hi = mid - 1
    if lo >= 40:
        return attempt(lo, len(tags), None)
    for n_tags in range(len(tags), -1, -1):
        text = attempt(0, n_tags, None)
        if platform_length(text, platform) <= limit:
            return text
    # Then the place line: the city only, then no place; then the places label;
    # then the hour line (the date stays).
    for changes in ({"location": _city(ctx.get("location", ""))}, {"location": ""},
                    {"location": "", "places_label": ""},
                    {"location": "", "places_label": "", "when": ctx.get("when_date", ctx.get("when", ""))}):
        ctx = dict(ctx, **changes)
        text = attempt(0, 0, None)
        if platform_length(text, platform) <= limit:
            return text
    # The title goes last, never below its first MIN_TITLE_KEPT characters.
    floor = min(grapheme.length(title_full), MIN_TITLE_KEPT + 1)
    lo, hi = floor, grapheme.length(title_full)
    best = attempt(0, 0, floor)
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = attempt(0, 0, mid)
        if platform_length(candidate, platform) <= limit:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best


def _city(location: str) -> str:
    """"Salle Jean Moulin, 12 rue des Arts, 59000 Lille" -> "Lille"."""
    if not location:
        return ""
    last = location.rstrip("…").split(",")[-1].strip()
    return re.sub(r"^\d{5}\s*", "", last) or last


# ---------------------------------------------------------------- drafts


def post_id(platform: str, kind: str, key: str) -> str:
    """Stable id of a post: platform, kind and a short hash of its item's key (or the month)."""
    return f"{platform}:{kind}:{hashlib.sha1(key.encode('utf-8')).hexdigest()[:12]}"


def social_campaign(branding: Branding, month_key: str, platform: str) -> dict[str, str]:
    """Campaign parameters for ``platform``'s links; {} when campaigns are disabled."""
    params = branding.campaign.params(month_key)
    if not params:
        return {}
    prefix = "utm" if branding.campaign.style == "utm" else "mtm"
    params[f"{prefix}_source"] = platform
    params[f"{prefix}_medium"] = "social"
    return params


def _https(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith("https://")


def _places(item: Item) -> str:
    if item.places_limited:
        return f"places limitées ({item.places})" if item.places else "places limitées"
    return ""


def social_drafts(
    issue: Issue,
    branding: Branding,
    hashtags: dict[str, list[str]],
    *,
    web_url: str | None = None,
    platforms: tuple[str, ...] = PLATFORMS,
    templates_dir: Path | None = None,
    reminders: bool = False,
) -> list[dict[str, Any]]:
    """Drafts for every item (press excepted) and one announcement, per platform.

    ``reminders``: also a "reminder" draft for each event with a registration
    deadline and limited places (the posting plan schedules it a few days
    before the deadline).

    ``hashtags``: category slug -> hashtags (e.g. from ``Taxonomy.hashtags``);
    the key ``"*"`` (optional) adds hashtags to every post. Each draft is a dict
    with ``platform``, ``kind`` ("item" or "announcement"), ``item_kind``,
    ``text``, ``url``, ``item_url``, ``image``, ``category``, ``tags``,
    ``length``, ``limit`` and ``fits``; plus ``id`` (stable:
    ``post_id``), ``before`` (ISO datetime the post must precede: the event's
    start, or the registration deadline for a reminder; None otherwise) and
    ``featured``.
    """
    for platform in platforms:
        _check_platform(platform)
    if not isinstance(hashtags, dict):
        raise SocialError("hashtags must be a mapping of category slug -> list of hashtags")
    tags_by_cat = {slug: normalise_hashtags(tags) for slug, tags in hashtags.items()}
    common = tags_by_cat.get("*", [])
    env = _environment(templates_dir)
    month_key = f"{issue.month:%Y-%m}"
    web_url = web_url or branding.issue_url(month_key)
    month_label = format_month_fr(issue.month)
    drafts: list[dict[str, Any]] = []

    def add(platform: str, kind: str, text: str, url: str, item: Item | None, category: str | None) -> None:
        length = platform_length(text, platform)
        before = None
        if item is not None and kind == "reminder":
            before = item.registration_deadline
        elif item is not None and item.kind == "event":
            before = item.start
        drafts.append(
            {
                "id": post_id(platform, kind, item.key if item else month_key),
                "platform": platform,
                "kind": kind,
                "item_kind": item.kind if item else None,
                "title": clean_text(item.title) if item else f"{branding.newsletter_name} – {month_label}",
                "text": text,
                "url": url,
                "item_url": item.url if item else None,
                "image": item.image if item and item.image else (branding.logo_url if not item else None),
                "category": category,
                "tags": [f"lettre-{month_key}"] + ([category] if category else []),
                "length": length,
                "limit": LIMITS[platform],
                "fits": length <= LIMITS[platform],
                "before": before.isoformat() if before else None,
                "featured": bool(item and item.featured),
            }
        )

    seen: set[str] = set()
    for item in issue.all_items():
        if item.kind == "press" or item.key in seen:
            continue
        seen.add(item.key)
        item_tags = tags_by_cat.get(item.category or "", []) + common
        item_tags = normalise_hashtags(item_tags)
        # An https link: the item's own, else the newsletter's web version.
        url = item.url if _https(item.url) or not _https(web_url) else web_url
        ctx = {
            "b": branding,
            "kind": item.kind,
            "title": clean_text(item.title),
            "summary": clean_text(item.summary),
            "when": format_event_when_fr(item.start, item.end) if item.kind == "event" and item.start else "",
            "when_date": _date_only(item) if item.kind == "event" and item.start else "",
            "location": _cut(clean_text(item.location), 80),
            "places_label": _places(item),
            "url": url,
        }
        for platform in platforms:
            link = add_campaign(url, social_campaign(branding, month_key, platform)) or url
            text = _fit(env, "social/item.j2", dict(ctx, platform=platform, url=link), platform, item_tags)
            add(platform, "item", text, link, item, item.category)
        if reminders and item.kind == "event" and item.registration_deadline and item.places_limited:
            deadline = item.registration_deadline
            rctx = dict(ctx, summary="", deadline=format_date_fr(deadline),
                        registration=item.registration_url if _https(item.registration_url) else "")
            for platform in platforms:
                link = add_campaign(rctx["registration"] or url, social_campaign(branding, month_key, platform))
                text = _fit(env, "social/reminder.j2", dict(rctx, platform=platform, url=link), platform, item_tags)
                add(platform, "reminder", text, link, item, item.category)

    highlights = [clean_text(it.title) for it in issue.featured[:3]]
    counts = issue.counts()
    if counts["agenda"]:
        highlights.append(f"{counts['agenda']} rendez-vous à l'agenda")
    if counts["news"]:
        highlights.append(f"{counts['news']} actualité{'s' if counts['news'] > 1 else ''}")
    cats: list[str] = [slug for slug, items in issue.news.items() if items]
    ann_tags = normalise_hashtags(common + [t for slug in cats for t in tags_by_cat.get(slug, [])])
    for platform in platforms:
        # Fewer highlights on short platforms: drop them from the end until it fits.
        for n in range(len(highlights), -1, -1):
            ctx = {
                "b": branding,
                "platform": platform,
                "month_label": month_label,
                "highlights": [_cut(h, 90 if platform != "linkedin" else 200) for h in highlights[:n]],
                "url": add_campaign(web_url, social_campaign(branding, month_key, platform)) or web_url,
            }
            text = _fit(env, "social/announcement.j2", ctx, platform, ann_tags)
            if fits(text, platform):
                break
        add(platform, "announcement", text, ctx["url"], None, None)
    return drafts


def _date_only(item: Item) -> str:
    start, end = item.start, item.end
    if end is not None and end.date() > start.date():
        return format_event_when_fr(start.date(), end.date())
    return format_date_fr(start)


def _posting_time(value: Any) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    try:  # ISO 8601 with its offset (a plan's scheduled_at): Buffer reads local "YYYY-MM-DD HH:MM"
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(value)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value: str) -> str:
    """A cell a spreadsheet never runs as a formula: one starting with = + - @
    (or a tab / carriage return) gets a leading apostrophe (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def buffer_csv(drafts: list[dict[str, Any]], platform: str | None = None) -> str:
    """Buffer bulk-upload CSV: ``Text,Image URL,Tags,Posting Time``, one post per row.

    Buffer imports one CSV per channel, so pass ``platform`` to keep that
    platform's drafts only (``buffer_csvs`` gives one CSV per platform).
    "Posting Time" (YYYY-MM-DD HH:MM) comes from a draft's optional
    ``posting_time``; left empty, Buffer queues the post in the next free slot.
    """
    if platform is not None:
        _check_platform(platform)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BUFFER_COLUMNS)
    for draft in drafts:
        if platform is not None and draft.get("platform") != platform:
            continue
        if "text" not in draft:
            raise SocialError(f"draft {draft.get('title') or draft!r} has no 'text'")
        writer.writerow(
            [
                _csv_safe(draft["text"]),
                _csv_safe(draft.get("image") or ""),
                _csv_safe(",".join(draft.get("tags") or [])),
                _posting_time(draft.get("posting_time") or draft.get("scheduled_at")),
            ]
        )
    return out.getvalue()


def buffer_csvs(drafts: list[dict[str, Any]]) -> dict[str, str]:
    """One Buffer CSV per platform present in ``drafts``: {"x": "...", ...}."""
    platforms = [p for p in PLATFORMS if any(d.get("platform") == p for d in drafts)]
    return {p: buffer_csv(drafts, p) for p in platforms}
