"""The monthly job as plain functions: collect → curate → render → queue.

``flows/monthly.py`` wraps these in Prefect tasks (retries on I/O only);
:func:`run_monthly` chains them without Prefect for tests and tools.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from newsletter.models import Issue, SourceResult
from newsletter.settings import Settings
from newsletter.collect.sources import SourcesConfig, load_sources
from newsletter.store import Store

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SOURCES = REPO_ROOT / "sources" / "sources.yaml"


def today_paris() -> date:
    from newsletter.normalize import PARIS

    return datetime.now(PARIS).date()


def resolve_dates(month: str | None, today: str | None) -> tuple[date, date]:
    """Parse ``--month YYYY-MM`` and ``--today YYYY-MM-DD``; return (month's first day, today).

    Without --today: the real day, or the first day of --month when that month
    is not the current one. Without --month: today's month.
    """
    real_today = today_paris()
    day: date | None = None
    if today:
        try:
            day = date.fromisoformat(today)
        except ValueError:
            raise ValueError(f"--today {today!r}: expected a date as YYYY-MM-DD") from None
    first: date | None = None
    if month:
        try:
            year, mon = month.split("-")
            first = date(int(year), int(mon), 1)
        except ValueError:
            raise ValueError(f"--month {month!r}: expected a month as YYYY-MM") from None
    if first is None:
        base = day or real_today
        first = base.replace(day=1)
    if day is None:
        day = real_today if (real_today.year, real_today.month) == (first.year, first.month) else first
    return first, day


@dataclass
class RunConfig:
    sources: SourcesConfig
    taxonomy: Any
    branding: Any
    month: date
    today: date
    horizon_days: int = 90


def load_run_config(sources_path: str | Path, *, month: date, today: date) -> RunConfig:
    from newsletter.render.branding import load_branding
    from newsletter.curate.classify import Taxonomy

    config = load_sources(sources_path)
    taxonomy = Taxonomy.load(config.taxonomy_path) if config.taxonomy_path else Taxonomy.default()
    branding = load_branding(config.branding_path)
    return RunConfig(sources=config, taxonomy=taxonomy, branding=branding, month=month, today=today)


@dataclass
class RenderOutput:
    rendered: Any
    social: list[dict[str, Any]]
    files: dict[str, bytes | str] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)  # plan.json: period, rules, left-out candidates


def curate_step(results: list[SourceResult], cfg: RunConfig, history: list[Any],
                corrections: list[dict[str, Any]] | None = None):
    """``corrections``: the officer's category corrections (``Store.corrections()``)."""
    from newsletter.curate.curation import curate

    items = [item for result in results for item in result.items]
    return curate(
        items,
        taxonomy=cfg.taxonomy,
        today=cfg.today,
        month=cfg.month,
        history=history,
        horizon_days=cfg.horizon_days,
        corrections=corrections or (),
    )


def render_step(issue: Issue, cfg: RunConfig) -> RenderOutput:
    from newsletter.render import plan as posting_plan
    from newsletter.render import social
    from newsletter.outbox.drafts import ISSUE_FILE
    from newsletter.render.newsletter import render_newsletter

    rendered = render_newsletter(issue, cfg.branding)
    hashtags = {slug: cfg.taxonomy.hashtags(slug) for slug in cfg.taxonomy.slugs}
    platforms = tuple(c.platform for c in cfg.branding.posting.channels)
    drafts = social.social_drafts(issue, cfg.branding, hashtags, web_url=rendered.web_url or None,
                                  platforms=platforms, reminders=True)
    # The posting plan: social.json holds the planned posts only (each with its scheduled_at);
    # plan.json the period, the rules and the candidates left out.
    plan = posting_plan.plan_posts(drafts, cfg.branding.posting, send_date=max(cfg.today, cfg.month))
    summary = plan.summary(cfg.branding.posting)
    files: dict[str, bytes | str] = {
        "newsletter.html": rendered.html,
        "newsletter.txt": rendered.text,
        "newsletter.mjml": rendered.mjml,
        "social.json": json.dumps(plan.posts, ensure_ascii=False, indent=2) + "\n",
        "plan.json": json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
        ISSUE_FILE: json.dumps(issue.to_dict(), ensure_ascii=False, indent=2) + "\n",
    }
    for platform in platforms:
        files[f"buffer/{platform}.csv"] = social.buffer_csv(plan.posts, platform)
    for name, data in rendered.ics_files().items():
        files[f"ics/{name}"] = data
    return RenderOutput(rendered=rendered, social=plan.posts, files=files, plan=summary)


def source_report(results: list[SourceResult]) -> dict[str, Any]:
    failing = [
        {
            "source": r.source,
            "category": r.error.category,
            "message": r.error.message,
            "consecutive_failures": max(r.consecutive_failures, 1),
            "needs_attention": r.needs_attention,
        }
        for r in results
        if r.error is not None
    ]
    return {
        "read": len(results),
        "ok": sum(1 for r in results if r.ok),
        "not_modified": sum(1 for r in results if r.not_modified),
        "items": sum(len(r.items) for r in results),
        "failed": failing,
        "warnings": {r.source: r.warnings for r in results if r.warnings},
    }


def queue_step(
    settings: Settings,
    store: Store,
    cfg: RunConfig,
    results: list[SourceResult],
    curation: Any,
    output: RenderOutput,
):
    from newsletter.outbox.drafts import create_draft

    issue: Issue = curation.issue
    manifest = {
        "subject": output.rendered.subject,
        "preheader": getattr(output.rendered, "preheader", ""),
        "today": cfg.today.isoformat(),
        "centre": cfg.branding.name,
        "unsubscribe": getattr(cfg.branding, "unsubscribe_url", None),
        "web_url": getattr(output.rendered, "web_url", ""),
        "sources_file": str(Path(cfg.sources.path).resolve()),
        "branding_file": str(cfg.branding.path) if getattr(cfg.branding, "path", None) else None,
        "counts": {
            **issue.counts(),
            "items": len(issue.all_items()),
            "social_drafts": len(output.social),
            "news_by_category": {k: len(v) for k, v in issue.news.items()},
        },
        "sources": source_report(results),
        "curation": curation.report,
        "render": {
            "size_bytes": output.rendered.size_bytes,
            "warnings": list(output.rendered.warnings),
        },
    }
    return create_draft(settings.outbox, store, month=cfg.month, files=output.files, manifest=manifest)


def run_summary(draft) -> str:
    """What the run made, in French, for whoever launched it."""
    m = draft.manifest
    counts = m.get("counts", {})
    src = m.get("sources", {})
    cur = m.get("curation", {}) or {}
    merged = cur.get("merged", []) or []
    dropped = cur.get("dropped", []) or []
    lines = [
        f"Brouillon {draft.id} créé ({m.get('status')}) : {draft.path}",
        f"  Objet : {m.get('subject', '')}",
        "  Contenu :",
        f"    À la une     {counts.get('featured', 0)}",
        f"    Agenda       {counts.get('agenda', 0)}",
        f"    Actualités   {counts.get('news', 0)}",
        f"    Ressources   {counts.get('resources', 0)}",
        f"    Revue de presse {counts.get('press', 0)}",
        f"    Posts réseaux sociaux {counts.get('social_drafts', 0)}",
        f"  Sources lues : {src.get('read', 0)} ({src.get('ok', 0)} sans erreur,"
        f" {src.get('not_modified', 0)} inchangées), {src.get('items', 0)} éléments collectés",
        f"  Doublons fusionnés : {len(merged)} ; écartés : {len(dropped)}",
    ]
    for entry in merged[:10]:
        why = entry.get("explanation") or entry.get("reason", "")
        lines.append(f"    = « {entry.get('absorbed_title', '')} » fusionné dans « {entry.get('kept_title', '')} » ({why})")
    for entry in dropped[:10]:
        lines.append(f"    - « {entry.get('title', '')} » écarté : {entry.get('reason', '')}")
    if len(merged) > 10 or len(dropped) > 10:
        lines.append(f"    … le détail complet : newsletter outbox show {draft.id}")
    failed = src.get("failed", [])
    if failed:
        lines.append(f"  Sources en échec : {len(failed)}")
        for f in failed:
            flag = "  ⚠ à vérifier (échec répété)" if f.get("needs_attention") else ""
            lines.append(f"    - {f['source']} : {f['category']} – {f['message']}{flag}")
    else:
        lines.append("  Sources en échec : aucune")
    for warning in (m.get("render", {}) or {}).get("warnings", []):
        lines.append(f"  Attention : {warning}")
    lines += [
        "",
        "Et maintenant :",
        f"  relire    newsletter outbox show {draft.id}   (ouvrir {draft.path / 'newsletter.html'})",
        f"  modifier  newsletter outbox edit {draft.id} --editorial-file edito.txt",
        f"  valider   newsletter outbox approve {draft.id}",
        f"  refuser   newsletter outbox reject {draft.id} --note \"raison\"",
        f"  envoyer   newsletter outbox send {draft.id}   (une fois validé)",
    ]
    return "\n".join(lines)


def rerender_draft(
    settings: Settings,
    store: Store,
    draft_id: str,
    *,
    editorial: str | None = None,
    featured: list[str] | None = None,
    unmerge: list[str] | None = None,
    actor: str = "cli",
):
    """Re-render a pending draft with the officer's editorial, chosen featured items, undone merges.

    ``featured``: URLs of items of the issue to put "À la une" (in that order);
    ``unmerge``: URLs the dedupe step absorbed into another item, to bring back
    as items of their own. An URL that does not fit is an error naming it.
    """
    from newsletter.outbox.drafts import edit_draft, load_draft, OutboxError

    draft = load_draft(settings.outbox, draft_id, store)
    issue = _draft_issue(draft)
    sources_file = draft.manifest.get("sources_file") or DEFAULT_SOURCES
    cfg = load_run_config(sources_file, month=issue.month, today=issue.today)
    curation_report = json.loads(json.dumps(draft.manifest.get("curation") or {}))
    for url in unmerge or []:
        _undo_merge(issue, curation_report, url, cfg.taxonomy)
    if editorial is not None:
        issue.editorial = editorial.strip() or None
    if featured is not None:
        by_url = {}
        for item in issue.all_items():
            by_url.setdefault(item.url, item)
            if item.canonical_url:
                by_url.setdefault(item.canonical_url, item)
        chosen = []
        for url in featured:
            if url not in by_url:
                raise OutboxError(f"« {url} » n'est pas un élément de ce brouillon")
            chosen.append(by_url[url])
        for item in issue.all_items():
            item.featured = False
        for item in chosen:
            item.featured = True
        issue.featured = chosen
    output = render_step(issue, cfg)
    updates = {
        "subject": output.rendered.subject,
        "preheader": getattr(output.rendered, "preheader", ""),
        "editorial": issue.editorial,
        "counts": {
            **(draft.manifest.get("counts") or {}),
            **issue.counts(),
            "social_drafts": len(output.social),
        },
        "render": {"size_bytes": output.rendered.size_bytes, "warnings": list(output.rendered.warnings)},
        "curation": curation_report,
    }
    note = "modifié" + (f" (fusion annulée : {', '.join(unmerge)})" if unmerge else "")
    return edit_draft(settings.outbox, store, draft_id, output.files, updates, actor=actor, note=note)


def _undo_merge(issue: Issue, report: dict[str, Any], url: str, taxonomy: Any) -> None:
    """Bring an absorbed copy back as an item of its own (the officer undoes a wrong merge)."""
    from newsletter.curate.classify import classify
    from newsletter.models import Item
    from newsletter.outbox.drafts import OutboxError
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


def _draft_issue(draft) -> Issue:
    from newsletter.outbox.drafts import ISSUE_FILE, OutboxError

    issue = draft.issue()
    if issue is None:
        raise OutboxError(f"brouillon {draft.id} : {ISSUE_FILE} manquant")
    return issue


def publish_draft_web(draft, archive_dir: Path) -> Path:
    """Publish a sent draft's issue in the web archive (page, index, RSS feed)."""
    from newsletter.render.archive import publish_web
    from newsletter.render.branding import load_branding
    from newsletter.render.newsletter import render_newsletter

    issue = _draft_issue(draft)
    branding_file = draft.manifest.get("branding_file")
    branding = load_branding(Path(branding_file) if branding_file else None)
    rendered = render_newsletter(issue, branding)
    return publish_web(rendered, issue, branding, Path(archive_dir))


def run_monthly(sources_path: str | Path, *, month: date, today: date, settings: Settings | None = None):
    """The whole monthly job without Prefect. Returns the draft."""
    from newsletter.collect.collector import collect_all
    from newsletter.collect.fetch import Fetcher

    settings = settings or Settings.from_env()
    store = Store(settings.database_url)
    cfg = load_run_config(sources_path, month=month, today=today)
    results = collect_all(
        cfg.sources.enabled,
        fetcher=Fetcher(),
        state=store,
        max_workers=settings.max_workers,
        today=today,
        attention_threshold=settings.failure_threshold,
    )
    curation = curate_step(results, cfg, store.history(), store.corrections())
    output = render_step(curation.issue, cfg)
    return queue_step(settings, store, cfg, results, curation, output)
