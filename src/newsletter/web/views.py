"""What the review pages show, read from a draft: plain dicts for the templates (no web framework here)."""

from __future__ import annotations

import importlib
import importlib.util
import json
from datetime import datetime
from typing import Any

from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from newsletter.normalize import PARIS
from newsletter.outbox.drafts import STATUS_LABELS_FR, Draft
from newsletter.render.frformat import format_time_fr
from newsletter.outbox.edits import (
    FEATURED,
    DraftEdits,
    removed_items,
    section_items,
    section_label,
    social_key,
)

CHECKS_MODULE = "newsletter.outbox.checks"
PLATFORM_LABELS = {"x": "X (Twitter)", "bluesky": "Bluesky", "mastodon": "Mastodon", "linkedin": "LinkedIn"}
KIND_LABELS = {"article": "Actualité", "event": "Événement", "resource": "Ressource", "press": "Presse"}


def status_label(status: str) -> str:
    return STATUS_LABELS_FR.get(status, status)


# Notes the pipeline writes in English in the draft's history, as the officer reads them.
EVENT_NOTES_FR = {"created": "brouillon préparé par la collecte"}


def event_note(note: str | None) -> str:
    return EVENT_NOTES_FR.get(note or "", note or "")


def format_when(value: Any) -> str:
    """A stored time as the officer reads it: « 23 nov. 2026 à 14:05 » (Paris time)."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        from datetime import timezone

        value = value.replace(tzinfo=timezone.utc)
    return format_datetime(value.astimezone(PARIS), "d MMM y 'à' HH:mm", locale="fr_FR")


def checks_module():
    if importlib.util.find_spec(CHECKS_MODULE) is None:
        return None
    return importlib.import_module(CHECKS_MODULE)


def _report_view(report: Any, checked_at: Any = None) -> dict[str, Any] | None:
    """A checks report (ChecksReport or its dict) as {ok, checked_at, results: [...]}."""
    if report is None:
        return None
    if hasattr(report, "to_dict"):
        report = report.to_dict()
    if not isinstance(report, dict):
        return None
    results = []
    for r in report.get("results") or []:
        if hasattr(r, "to_dict"):
            r = r.to_dict()
        results.append(
            {
                "name": r.get("name", ""),
                "ok": bool(r.get("ok")),
                "label": r.get("label") or r.get("name", ""),
                "details": list(r.get("details") or []),
                "skipped_reason": r.get("skipped_reason"),
            }
        )
    ok = report.get("ok")
    if ok is None:
        ok = all(r["ok"] for r in results)
    return {"ok": bool(ok), "checked_at": report.get("checked_at") or checked_at, "results": results,
            "failed": [r for r in results if not r["ok"]]}


def last_checks(store: Any, draft: Draft) -> dict[str, Any] | None:
    """The last pre-send checks of a draft: the checks module's record, else the manifest's ``checks``."""
    module = checks_module()
    if module is not None and hasattr(module, "last_checks"):
        try:
            found = module.last_checks(store, draft.id)
        except Exception:  # a database without the checks table yet: fall back on the manifest
            found = None
        if found:
            report = found[1] if isinstance(found, tuple) else found
            return _report_view(report)
    return _report_view(draft.manifest.get("checks"))


def report_view(report: Any) -> dict[str, Any] | None:
    return _report_view(report)


def _item_view(item: Any, labels: dict[str, str], featured_urls: set[str]) -> dict[str, Any]:
    return {
        "url": item.url,
        "title": item.title or item.url,
        "kind": item.kind,
        "kind_label": KIND_LABELS.get(item.kind, item.kind),
        "category": item.category or "",
        "category_label": labels.get(item.category or "", item.category or "—"),
        "category_by_officer": (item.extra or {}).get("category_by") == "officer",
        "source": item.source or "",
        "outlet": item.outlet or "",
        "featured": item.url in featured_urls,
        "when": item.start or item.published,
    }


def draft_view(draft: Draft, store: Any, edits: DraftEdits, curated: Any, taxonomy: Any,
               now: datetime | None = None) -> dict[str, Any]:
    """Everything the draft page shows (``now``: the app's clock, for the calendar's proposed slots)."""
    issue = draft.issue()
    labels = dict(getattr(taxonomy, "labels", lambda: {})())
    if issue is not None:
        labels.update(issue.category_labels or {})
    featured_urls = {i.url for i in issue.featured} if issue else set()
    sections = []
    if issue is not None:
        for name, items in section_items(issue).items():
            views = [_item_view(i, labels, featured_urls) for i in items]
            for n, v in enumerate(views):
                v["first"], v["last"] = n == 0, n == len(views) - 1
            sections.append({"name": name, "label": section_label(name) if not name.startswith("news:")
                             else "Actualités – " + labels.get(name[5:], name[5:]), "entries": views,
                             "anchor": "rubrique-" + name.replace(":", "-")})
    removed = [_item_view(i, labels, set()) for i in removed_items(curated, edits)] if curated else []
    merged = []
    for entry in (draft.manifest.get("curation") or {}).get("merged") or []:
        merged.append(
            {
                "absorbed_url": entry.get("absorbed_url", ""),
                "absorbed_title": entry.get("absorbed_title", ""),
                "absorbed_source": entry.get("absorbed_source") or entry.get("absorbed_outlet") or "",
                "kept_title": entry.get("kept_title", ""),
                "kept_url": entry.get("kept_url", ""),
                "reason": entry.get("explanation") or entry.get("reason", ""),
                "similarity": entry.get("similarity"),
                "undone": bool(entry.get("undone")),
                "can_undo": "absorbed_item" in entry and not entry.get("undone"),
            }
        )
    posts = social_posts(draft)
    announcements = [p for p in posts if p["kind"] == "announcement"]
    by_item: dict[str, dict[str, Any]] = {}
    for p in posts:
        if p["kind"] == "announcement":
            continue
        group = by_item.setdefault(p["item_url"] or p["url"], {"title": p["title"], "posts": [], "problem": False})
        group["posts"].append(p)
        group["problem"] = group["problem"] or not p["fits"]
    text_path = draft.file("newsletter.txt")
    events = list(reversed(store.draft_events(draft.id)))
    return {
        "draft": draft,
        "manifest": draft.manifest,
        "status": draft.status,
        "subject": draft.manifest.get("subject", ""),
        "version": edits.version,
        "editorial": edits.editorial if edits.editorial is not None else (issue.editorial if issue else "") or "",
        "sections": sections,
        "removed": removed,
        "merged": merged,
        "suggested": suggestion_groups((draft.manifest.get("curation") or {}).get("suggested") or []),
        "categories": [{"slug": s, "label": labels.get(s, s), "description": _description(taxonomy, s)}
                       for s in getattr(taxonomy, "slugs", [])],
        "announcements": announcements,
        "item_posts": list(by_item.values()),
        "posts_over_limit": [p for p in posts if not p["fits"]],
        "plan": plan_view(draft, now),
        "limits": _limits(),
        "text": text_path.read_text(encoding="utf-8") if text_path.exists() else "",
        "events": events,
        "checks": last_checks(store, draft),
        "checks_available": checks_module() is not None,
        "counts": draft.manifest.get("counts") or {},
        "failed_sources": (draft.manifest.get("sources") or {}).get("failed") or [],
        "warnings": (draft.manifest.get("render") or {}).get("warnings") or [],
        "delivery": _delivery(store, draft),
    }


def _description(taxonomy: Any, slug: str) -> str:
    """What a rubric covers (the taxonomy's ``description:``, French), "" when it has none."""
    try:
        return taxonomy.category(slug).description or ""
    except (AttributeError, KeyError):
        return ""


def suggestion_groups(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dedupe's suggestions (pairs of kept items, the most similar first) grouped by item,
    so that the officer reads each article once with the few that may be the same
    information: each pair goes to the group of whichever of its two items already has
    one (else it starts one), and shows the other item. The answer forms still name the
    pair as dedupe wrote it (``url``, ``other_url``)."""
    groups: list[dict[str, Any]] = []
    by_url: dict[str, dict[str, Any]] = {}
    for entry in entries:
        url, other = entry.get("url", ""), entry.get("other_url", "")
        flipped = url not in by_url and other in by_url
        head, shown = (other, url) if flipped else (url, other)
        group = by_url.get(head)
        if group is None:
            prefix = "other_" if flipped else ""
            group = by_url[head] = {"url": head, "title": entry.get(prefix + "title", ""),
                                    "outlet": entry.get(prefix + "outlet"), "links": [], "pending": 0}
            groups.append(group)
        prefix = "" if flipped else "other_"
        group["links"].append({**entry, "shown_url": shown, "shown_title": entry.get(prefix + "title", ""),
                               "shown_outlet": entry.get(prefix + "outlet")})
        group["pending"] += not entry.get("answered")
    return groups


def _delivery(store: Any, draft: Draft) -> dict[str, int] | None:
    """The send log's counts of a draft being or having been sent (None before any send)."""
    from newsletter.deliver.engine import delivery_counts

    if draft.status not in ("sending", "sent", "failed"):
        return None
    counts = delivery_counts(store, draft.id)
    return counts if counts.get("total") else None


def _post_fields(post: dict[str, Any], platform: str) -> dict[str, Any]:
    """What every view of a post shows: its text counted again as its platform counts (authoritative)."""
    from newsletter.render.social import LIMITS, platform_length

    text = post.get("text") or ""
    length = platform_length(text, platform) if platform in LIMITS else len(text)
    limit = LIMITS.get(platform, 0)
    return {
        "id": str(post.get("id") or ""),
        "platform": platform,
        "kind": post.get("kind") or "",
        "title": post.get("title") or "",
        "text": text,
        "url": post.get("url") or "",
        "item_url": post.get("item_url"),
        "length": length,
        "limit": limit,
        "fits": not limit or length <= limit,
        "edited": bool(post.get("edited")),
        "added": bool(post.get("added")),
    }


def social_posts(draft: Draft) -> list[dict[str, Any]]:
    """The draft's social posts with their key and their lengths."""
    path = draft.file("social.json")
    if not path.exists():
        return []
    out = []
    for post in json.loads(path.read_text(encoding="utf-8")):
        platform = post.get("platform", "")
        out.append(
            {
                **_post_fields(post, platform),
                "key": social_key(post),
                "platform_label": PLATFORM_LABELS.get(platform, platform),
                "channel": post.get("channel") or platform,
                "item_kind": post.get("item_kind"),
                "featured": bool(post.get("featured")),
                "before": post.get("before"),
                "scheduled_at": post.get("scheduled_at"),
            }
        )
    return out


def _limits() -> dict[str, int]:
    from newsletter.render.social import LIMITS

    return dict(LIMITS)


def plan_file(draft: Draft) -> dict[str, Any]:
    """``plan.json`` of a draft ({} when the draft has none)."""
    path = draft.file("plan.json")
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def post_anchor(post_id: str) -> str:
    """The page anchor of a planned post ("post-linkedin-item-0123abcd…")."""
    import re

    return ("post-" + re.sub(r"[^a-z0-9]+", "-", str(post_id).lower())).strip("-")[:60]


def _post_view(post: dict[str, Any], tz: str) -> dict[str, Any]:
    from newsletter.render import plan as posting_plan

    platform = post.get("platform") or post.get("channel") or ""
    view = {
        **_post_fields(post, platform),
        "anchor": post_anchor(post.get("id") or ""),
        "channel_label": posting_plan.PLATFORM_LABELS.get(platform, platform),
        "kind_label": posting_plan.kind_label(post),
        "reason_label": post.get("reason_label") or "",
        "reason": post.get("reason") or "",
        "before_label": "", "scheduled_at": "", "date": "", "time": "", "when_label": "", "time_label": "",
        "slot_date": "", "slot_time": "", "slot_label": "",
    }
    when = post.get("scheduled_at")
    if when:
        at = datetime.fromisoformat(when).astimezone(ZoneInfo(tz))
        view.update(scheduled_at=at.isoformat(), date=f"{at:%Y-%m-%d}", time=f"{at:%H:%M}",
                    when_label=posting_plan.when_label(at), time_label=format_time_fr(at))
    if post.get("before"):
        before = datetime.fromisoformat(post["before"]).astimezone(ZoneInfo(tz))
        what = "date limite d'inscription" if post.get("kind") == "reminder" else "événement"
        view["before_label"] = f"{what} : {posting_plan.when_label(before)}"
    return view


def item_key(post: dict[str, Any]) -> str:
    """What a post promotes, for the add form: the item's URL, or "announcement" for the letter's."""
    return "announcement" if post.get("kind") == "announcement" else str(post.get("item_url") or "")


def plan_view(draft: Draft, now: datetime | None = None) -> dict[str, Any] | None:
    """The posting plan as the review page shows it: a calendar list (one entry per day, French
    label, posts in time order), the candidates left out (each with the slot "Programmer" would
    take), the posts the officer removed, and what the add form offers. None without a plan."""
    from datetime import date

    from newsletter.render import plan as posting_plan

    summary = plan_file(draft)
    if not summary:
        return None
    tz = summary.get("timezone") or "Europe/Paris"
    raw = []
    path = draft.file("social.json")
    if path.exists():
        raw = [p for p in json.loads(path.read_text(encoding="utf-8")) if p.get("scheduled_at")]
    days = []
    for day in posting_plan.calendar(raw, tz):
        days.append({"day": day["day"], "label": day["label"],
                     "posts": [_post_view(p, tz) for p in day["posts"]]})
    posting = _posting(draft)
    start = date.fromisoformat(summary["send_date"]) if summary.get("send_date") else None
    end = date.fromisoformat(summary["horizon"]) if summary.get("horizon") else None
    left_out = []
    for candidate in summary.get("left_out") or []:
        view = _post_view(candidate, tz)
        slot = None
        if posting is not None and start and end:
            slot = posting_plan.free_slot(raw, candidate, posting, start=start, end=end, now=now)
        if slot is not None:
            view.update(slot_date=f"{slot:%Y-%m-%d}", slot_time=f"{slot:%H:%M}",
                        slot_label=posting_plan.when_label(slot))
        left_out.append(view)
    # "Plus de place" first: what the officer most likely wants back; news not planned, last.
    order = {"no_room": 0, "too_late": 1, "next_letter": 2, "too_long": 3, "not_candidate": 4}
    left_out.sort(key=lambda v: (order.get(v["reason"], 5), v["title"], v["platform"]))
    removed = [_post_view(p, tz) for p in summary.get("removed") or []]
    # The add form: every channel, every item with the text its draft proposes on that channel.
    everything = raw + list(summary.get("left_out") or []) + list(summary.get("removed") or [])
    items: dict[str, str] = {}
    texts: dict[str, dict[str, str]] = {}
    for post in everything:
        if post.get("kind") == "custom":
            continue
        key = item_key(post)
        if not key:
            continue
        if post.get("kind") == "announcement":
            items.setdefault(key, "Annonce de la lettre")
        elif post.get("kind") == "item":
            items.setdefault(key, post.get("title") or key)
        if post.get("kind") in ("announcement", "item"):
            texts.setdefault(key, {}).setdefault(post.get("platform") or "", post.get("text") or "")
    channels = [{"platform": c["channel"], "label": posting_plan.PLATFORM_LABELS.get(c["channel"], c["channel"]),
                 "per_day": c.get("per_day"), "per_week": c.get("per_week"), "planned": c.get("planned", 0)}
                for c in summary.get("channels") or []]
    first_day = days[0]["day"] if days else (summary.get("send_date") or "")
    return {
        "days": days,
        "count": len(raw),
        "channels": channels,
        "office_hours": summary.get("office_hours") or ["09:00", "18:00"],
        "send_date_label": posting_plan.day_label(start) if start else "",
        "horizon_label": posting_plan.day_label(end) if end else "",
        "left_out": [v for v in left_out if v["reason"] != "not_candidate"],
        "not_planned": [v for v in left_out if v["reason"] == "not_candidate"],
        "removed": removed,
        "add_items": [{"key": k, "label": v} for k, v in sorted(items.items(), key=lambda kv: (kv[0] != "announcement", kv[1]))],
        "add_texts": texts,
        "add_date": first_day,
    }


def _posting(draft: Draft):
    """The posting rules the draft was planned with (its sources' branding), or None."""
    from newsletter.errors import UserError

    from newsletter.collect.sources import load_sources
    from newsletter.pipeline import default_sources
    from newsletter.render.branding import load_branding

    try:
        config = load_sources(draft.manifest.get("sources_file") or default_sources())
        return load_branding(config.branding_path).posting
    except (UserError, OSError):
        return None


def list_view(drafts: list[Draft], store: Any) -> list[dict[str, Any]]:
    out = []
    for d in drafts:
        events = store.draft_events(d.id)
        last = events[-1] if events else None
        out.append(
            {
                "id": d.id,
                "month": d.manifest.get("month", ""),
                "subject": d.manifest.get("subject", ""),
                "status": d.status,
                "counts": d.manifest.get("counts") or {},
                "failed_sources": (d.manifest.get("sources") or {}).get("failed") or [],
                "checks": last_checks(store, d),
                "last": last,
            }
        )
    return out


def month_label(month: str) -> str:
    from datetime import date

    from newsletter.render.frformat import format_month_fr

    try:
        year, mon = month.split("-")
        return format_month_fr(date(int(year), int(mon), 1))
    except (ValueError, AttributeError):
        return month


def featured_urls(draft: Draft) -> list[str]:
    issue = draft.issue()
    return [i.url for i in issue.featured] if issue else []


def section_urls(draft: Draft, section: str) -> list[str] | None:
    issue = draft.issue()
    if issue is None:
        return None
    items = section_items(issue).get(section)
    return None if items is None else [i.url for i in items]


__all__ = ["FEATURED", "draft_view", "list_view", "social_posts", "format_when", "status_label"]
