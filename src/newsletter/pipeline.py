"""The monthly job as plain functions: collect → curate → render → queue.

``flows/monthly.py`` wraps these in Prefect tasks (retries on I/O only);
:func:`run_monthly` chains them without Prefect for tests and tools.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from newsletter.models import Issue, SourceResult
from newsletter.settings import Settings
from newsletter.collect.sources import SourcesConfig, load_sources
from newsletter.store import Store

log = logging.getLogger(__name__)

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
    """What one run reads, and, as it goes, how long each stage took
    (``timings``, seconds) and the items curation or rendering had to drop
    (``dropped``: the collect stage's drops are in each ``SourceResult``)."""

    sources: SourcesConfig
    taxonomy: Any
    branding: Any
    month: date
    today: date
    horizon_days: int = 90
    timings: dict[str, float] = field(default_factory=dict)
    dropped: list[dict[str, Any]] = field(default_factory=list)


STAGES = ("collect", "curate", "render", "queue")
COLLECT_RETRIES = 3  # retries of a transient fetch failure (timeouts, 429, 5xx), per source


def collect_step(
    cfg: RunConfig,
    settings: Settings,
    store: Store,
    *,
    on_result=None,
    retries: int = COLLECT_RETRIES,
    retry_delays=None,
    fetcher=None,
) -> list[SourceResult]:
    """Collect every enabled source: one scheduler (``collect_all``) with the
    global bound ``settings.max_workers`` (NEWSLETTER_MAX_WORKERS), the
    fetcher's per-host bound, retries of transient failures only, each result
    recorded in ``store`` and passed to ``on_result`` as soon as it is known."""
    from newsletter.collect.collector import DEFAULT_RETRY_DELAYS, collect_all
    from newsletter.collect.fetch import Fetcher

    start = time.monotonic()
    own = fetcher is None
    fetcher = fetcher or Fetcher()
    try:
        results = collect_all(
            cfg.sources.enabled,
            fetcher=fetcher,
            state=store,
            max_workers=settings.max_workers,
            today=cfg.today,
            attention_threshold=settings.failure_threshold,
            retries=retries,
            retry_delays=DEFAULT_RETRY_DELAYS if retry_delays is None else retry_delays,
            on_result=on_result,
        )
    finally:
        if own:
            fetcher.close()
    cfg.timings["collect"] = round(time.monotonic() - start, 3)
    return results


def source_table(results: list[SourceResult]) -> list[dict[str, Any]]:
    """One row per source: what it gave this run (for a table in the Prefect UI)."""
    rows = []
    for r in results:
        if r.error is not None:
            outcome = f"error: {r.error.category}"
        elif r.not_modified:
            outcome = "not modified (304)"
        else:
            outcome = "ok"
        rows.append({
            "source": r.source,
            "outcome": outcome,
            "items": len(r.items),
            "retries": r.retries,
            "dropped": len(r.dropped),
            "seconds": round(r.elapsed, 2),
            "message": str(r.error.message) if r.error else "; ".join(r.warnings)[:300],
        })
    return rows


def _without(issue: Issue, culprits: set[int]) -> Issue:
    """A copy of ``issue`` without the items whose ``id()`` is in ``culprits``."""
    def keep(items):
        return [i for i in items if id(i) not in culprits]

    return dataclasses.replace(
        issue,
        featured=keep(issue.featured),
        agenda=keep(issue.agenda),
        news={k: keep(v) for k, v in issue.news.items() if keep(v)},
        resources=keep(issue.resources),
        press=keep(issue.press),
    )


def _drop_entry(item, stage: str, exc: BaseException) -> dict[str, Any]:
    from newsletter.collect.collector import dropped_entry

    reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    return dropped_entry(item, item.source or "?", stage, reason)


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


def curate_step(results: list[SourceResult], cfg: RunConfig, history: list[Any]):
    """Curate the collected items. An item that makes curation fail (say, the
    classifier) is found by curating each item alone, dropped (``cfg.dropped``)
    and the rest curated; a failure no single item causes is raised."""
    from newsletter.curate.curation import curate

    start = time.monotonic()
    items = [item for result in results for item in result.items]

    def run(chosen):
        return curate(
            chosen,
            taxonomy=cfg.taxonomy,
            today=cfg.today,
            month=cfg.month,
            history=history,
            horizon_days=cfg.horizon_days,
        )

    try:
        curation = run(list(items))
    except Exception as exc:
        def alone(chosen):  # on copies: curation edits items in place
            return run([dataclasses.replace(i, extra=dict(i.extra), merged=list(i.merged)) for i in chosen])

        culprits = _culprits(items, alone, "curate", exc, cfg)
        curation = run([i for i in items if id(i) not in culprits])
    cfg.timings["curate"] = round(time.monotonic() - start, 3)
    return curation


def _culprits(items: list, attempt, stage: str, exc: BaseException, cfg: RunConfig) -> set[int]:
    """The ``id()`` of the items for which ``attempt([item])`` alone raises;
    each is logged and reported in ``cfg.dropped``. Re-raises ``exc`` when no
    single item is to blame."""
    found = []
    for item in items:
        try:
            attempt([item])
        except Exception as item_exc:  # noqa: BLE001 - this is what we are looking for
            found.append((item, item_exc))
    if not found or len(found) == len(items):  # not one item's fault
        raise exc
    for item, item_exc in found:
        entry = _drop_entry(item, stage, item_exc)
        log.warning("item %r of %r dropped at %s: %s", entry["title"], entry["source"], stage, entry["reason"])
        cfg.dropped.append(entry)
    return {id(item) for item, _ in found}


def render_step(issue: Issue, cfg: RunConfig) -> RenderOutput:
    """Render the newsletter, social drafts, Buffer CSVs and calendar files.

    When rendering fails, the items to blame are found by rendering each item
    alone; they are removed from ``issue`` (in place) and reported in
    ``cfg.dropped``, and the rest is rendered. A failure no single item causes
    (a broken template or branding) is raised."""
    start = time.monotonic()
    try:
        output = _render(issue, cfg)
    except Exception as exc:
        items = issue.all_items()
        culprits = _culprits(items, lambda chosen: _render(_only(issue, chosen), cfg), "render", exc, cfg)
        for name in ("featured", "agenda", "resources", "press"):
            setattr(issue, name, [i for i in getattr(issue, name) if id(i) not in culprits])
        issue.news = {k: kept for k, v in issue.news.items() if (kept := [i for i in v if id(i) not in culprits])}
        output = _render(issue, cfg)
    cfg.timings["render"] = round(time.monotonic() - start, 3)
    return output


def _only(issue: Issue, chosen: list) -> Issue:
    ids = {id(i) for i in chosen}
    return _without(issue, {id(i) for i in issue.all_items() if id(i) not in ids})


def _render(issue: Issue, cfg: RunConfig) -> RenderOutput:
    from newsletter.render import social
    from newsletter.outbox.drafts import ISSUE_FILE
    from newsletter.render.newsletter import render_newsletter

    rendered = render_newsletter(issue, cfg.branding)
    hashtags = {slug: cfg.taxonomy.hashtags(slug) for slug in cfg.taxonomy.slugs}
    drafts = social.social_drafts(issue, cfg.branding, hashtags, web_url=rendered.web_url or None)
    files: dict[str, bytes | str] = {
        "newsletter.html": rendered.html,
        "newsletter.txt": rendered.text,
        "newsletter.mjml": rendered.mjml,
        "social.json": json.dumps(drafts, ensure_ascii=False, indent=2) + "\n",
        ISSUE_FILE: json.dumps(issue.to_dict(), ensure_ascii=False, indent=2) + "\n",
    }
    for platform, csv_text in social.buffer_csvs(drafts).items():
        files[f"buffer/{platform}.csv"] = csv_text
    for name, data in rendered.ics_files().items():
        files[f"ics/{name}"] = data
    return RenderOutput(rendered=rendered, social=drafts, files=files)


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
    from newsletter.files import atomic_write
    from newsletter.outbox.drafts import MANIFEST, create_draft

    start = time.monotonic()
    issue: Issue = curation.issue
    dropped = [d for r in results for d in r.dropped] + list(cfg.dropped)
    _forget_validators(store, results, cfg.dropped)
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
        "dropped_items": dropped,
        "timings": {stage: cfg.timings[stage] for stage in STAGES if stage in cfg.timings},
    }
    draft = create_draft(settings.outbox, store, month=cfg.month, files=output.files, manifest=manifest)
    cfg.timings["queue"] = round(time.monotonic() - start, 3)
    draft.manifest["timings"]["queue"] = cfg.timings["queue"]
    atomic_write(draft.path / MANIFEST, json.dumps(draft.manifest, ensure_ascii=False, indent=2, default=str) + "\n")
    return draft


def _forget_validators(store: Store, results: list[SourceResult], dropped: list[dict[str, Any]]) -> None:
    """A source with items dropped at curation or rendering is recorded without
    its ETag/Last-Modified, so that next month reads it in full instead of
    replaying a 304 over the item that failed."""
    names = {d["source"] for d in dropped}
    for result in results:
        if result.source in names and result.ok:
            try:
                store.record(result.source, dataclasses.replace(
                    result, not_modified=False, etag=None, last_modified=None))
            except Exception:  # noqa: BLE001 - losing state must not lose the draft
                log.exception("source %r: cannot record state", result.source)


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
    unusable = m.get("dropped_items") or []
    if unusable:
        lines.append(f"  Éléments inutilisables écartés : {len(unusable)}")
        stages = {"collect": "collecte", "curate": "tri", "render": "mise en page"}
        for entry in unusable[:10]:
            lines.append(
                f"    - {entry.get('source', '')} : « {entry.get('title', '')} » ({entry.get('url', '')}),"
                f" {stages.get(entry.get('stage'), entry.get('stage'))} : {entry.get('reason', '')}"
            )
    if len(merged) > 10 or len(dropped) > 10 or len(unusable) > 10:
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
    settings = settings or Settings.from_env()
    store = Store(settings.database_url)
    cfg = load_run_config(sources_path, month=month, today=today)
    results = collect_step(cfg, settings, store)
    curation = curate_step(results, cfg, store.history())
    output = render_step(curation.issue, cfg)
    return queue_step(settings, store, cfg, results, curation, output)
