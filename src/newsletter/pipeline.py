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


def curate_step(results: list[SourceResult], cfg: RunConfig, history: list[Any]):
    from newsletter.curate.curation import curate

    items = [item for result in results for item in result.items]
    return curate(
        items,
        taxonomy=cfg.taxonomy,
        today=cfg.today,
        month=cfg.month,
        history=history,
        horizon_days=cfg.horizon_days,
    )


def render_step(issue: Issue, cfg: RunConfig, edits: Any = None) -> RenderOutput:
    """Render the issue: newsletter (HTML, text, MJML), social drafts (with the officer's texts), .ics."""
    from newsletter.outbox.drafts import ISSUE_FILE
    from newsletter.outbox.edits import apply_social_edits
    from newsletter.render import social
    from newsletter.render.newsletter import render_newsletter

    rendered = render_newsletter(issue, cfg.branding)
    hashtags = {slug: cfg.taxonomy.hashtags(slug) for slug in cfg.taxonomy.slugs}
    drafts = social.social_drafts(issue, cfg.branding, hashtags, web_url=rendered.web_url or None)
    if edits is not None:
        drafts = apply_social_edits(drafts, edits)
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


def curated_file(issue: Issue, report: dict[str, Any]) -> str:
    """``curated.json``: what the run curated, before the officer's edits."""
    return json.dumps({"issue": issue.to_dict(), "curation": report}, ensure_ascii=False, indent=2) + "\n"


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


# Statuses after which a month's draft may not be replaced by a new run.
LOCKED_STATUSES = ("approved", "sending", "sent", "failed")


def check_month_open(store: Store, month: date, *, new_draft: bool = False) -> str | None:
    """The pending draft of ``month`` a new run would update (None: a new draft is made).

    Raises MonthLocked when the month's draft is already approved, being sent
    or sent, unless ``new_draft``.
    """
    from newsletter.outbox.drafts import STATUS_LABELS_FR, MonthLocked

    if new_draft:
        return None
    existing = store.drafts_for_month(f"{month:%Y-%m}")
    for d in existing:
        if d["status"] in LOCKED_STATUSES:
            raise MonthLocked(
                f"le brouillon {d['id']} de {month:%Y-%m} est déjà « {STATUS_LABELS_FR.get(d['status'], d['status'])} » :"
                " rien n'a été fait (pour préparer un second numéro du même mois : --new-draft)"
            )
    pending = [d for d in existing if d["status"] == "pending"]
    return pending[-1]["id"] if pending else None


def queue_step(
    settings: Settings,
    store: Store,
    cfg: RunConfig,
    results: list[SourceResult],
    curation: Any,
    output: RenderOutput,
    *,
    new_draft: bool = False,
):
    """Queue the month's draft: a new one, or the month's pending draft updated in place.

    A pending draft of the same month keeps the officer's edits (editorial,
    featured, removed, order, categories, undone merges, post texts): they are
    applied to the new curation and the draft is re-rendered; its manifest's
    ``refreshed`` says what changed. An approved, sending or sent draft of the
    month makes the run refuse (MonthLocked), unless ``new_draft``.
    """
    from newsletter.outbox.drafts import CURATED_FILE, create_draft

    existing = check_month_open(store, cfg.month, new_draft=new_draft)
    if existing is not None:
        return refresh_draft(settings, store, existing, cfg, results, curation)
    issue: Issue = curation.issue
    manifest = _run_manifest(cfg, results, curation.report, issue, output)
    files = dict(output.files)
    files[CURATED_FILE] = curated_file(issue, curation.report)
    return create_draft(settings.outbox, store, month=cfg.month, files=files, manifest=manifest)


def _run_manifest(cfg: RunConfig, results: list[SourceResult], report: dict[str, Any], issue: Issue,
                  output: RenderOutput) -> dict[str, Any]:
    return {
        "subject": output.rendered.subject,
        "preheader": getattr(output.rendered, "preheader", ""),
        "editorial": issue.editorial,
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
        "curation": report,
        "render": {
            "size_bytes": output.rendered.size_bytes,
            "warnings": list(output.rendered.warnings),
        },
    }


def refresh_draft(settings: Settings, store: Store, draft_id: str, cfg: RunConfig, results: list[SourceResult],
                  curation: Any):
    """A new run of the month: new curation, the officer's edits kept, the draft re-rendered in place."""
    from newsletter.outbox.drafts import CURATED_FILE, edit_draft, load_draft
    from newsletter.outbox.edits import apply_edits, load_edits, save_edits

    draft = load_draft(settings.outbox, draft_id, store)
    old_curated, _ = draft_curated(draft)
    edits = load_edits(store, draft_id)
    issue, report, notes = apply_edits(curation.issue, curation.report, edits, taxonomy=cfg.taxonomy, strict=False)
    output = render_step(issue, cfg, edits)
    old_urls = {i.url for i in old_curated.all_items()}
    new_urls = {i.url for i in curation.issue.all_items()}
    added = sorted(new_urls - old_urls)
    gone = sorted(old_urls - new_urls)
    summary = f"mis à jour par une nouvelle collecte : {len(added)} nouvel(s) élément(s), {len(gone)} disparu(s)"
    if not edits.is_empty():
        summary += ", modifications de la chargée de communication conservées"
    manifest = _run_manifest(cfg, results, report, issue, output)
    manifest["refreshed"] = {"added": added, "gone": gone, "notes": notes, "summary": summary}
    files = dict(output.files)
    files[CURATED_FILE] = curated_file(curation.issue, curation.report)
    # A new version of the edits (same content): forms built on the old draft become stale.
    saved = save_edits(store, draft_id, lambda e: None, base_version=None, actor="pipeline", note=summary)
    manifest["edits_version"] = saved.version
    stale = [name for name in (draft.manifest.get("files") or {}) if name.startswith("ics/") and name not in files]
    return edit_draft(settings.outbox, store, draft_id, files, manifest, actor="pipeline", note=summary,
                      drop_files=stale)


def draft_curated(draft) -> tuple[Issue, dict[str, Any]]:
    """What the run curated for a draft (``curated.json``; drafts made before it: ``issue.json``)."""
    from newsletter.outbox.drafts import CURATED_FILE, OutboxError

    path = draft.file(CURATED_FILE)
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Issue.from_dict(data["issue"]), data.get("curation") or {}
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            raise OutboxError(f"{path} : fichier illisible ({exc})") from None
    return _draft_issue(draft), json.loads(json.dumps(draft.manifest.get("curation") or {}))


def run_summary(draft) -> str:
    """What the run made, in French, for whoever launched it."""
    m = draft.manifest
    counts = m.get("counts", {})
    src = m.get("sources", {})
    cur = m.get("curation", {}) or {}
    merged = cur.get("merged", []) or []
    dropped = cur.get("dropped", []) or []
    refreshed = m.get("refreshed")
    head = f"Brouillon {draft.id} {refreshed['summary']}" if refreshed else f"Brouillon {draft.id} créé"
    lines = [
        f"{head} ({m.get('status')}) : {draft.path}",
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
    for note in (refreshed or {}).get("notes", []):
        lines.append(f"  Attention : {note}")
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


def update_draft(
    settings: Settings,
    store: Store,
    draft_id: str,
    change: Any,
    *,
    base_version: int | None = None,
    actor: str = "cli",
    note: str = "modifié",
):
    """Change the officer's edits of a draft and re-render it (HTML, text, social, .ics).

    ``change(edits)`` mutates a copy of the current :class:`DraftEdits` (it
    must be a pure function of them: it runs twice, once to render, once to
    store). ``base_version`` is the version the form was built from (None:
    the latest): a stale one raises :class:`StaleEdit` and nothing changes.
    The new edits are applied and rendered before anything is stored, so an
    edit that cannot be rendered leaves the draft as it was. An approved or
    rejected draft goes back to pending: what is approved is exactly what is
    sent. A draft being sent or sent cannot be edited.
    """
    from newsletter.outbox.drafts import (
        APPROVED, CURATED_FILE, PENDING, REJECTED, STATUS_LABELS_FR, TransitionError, edit_draft, load_draft,
        transition,
    )
    from newsletter.outbox.edits import apply_edits, load_edits, save_edits, stale_error

    draft = load_draft(settings.outbox, draft_id, store)
    if draft.status not in (PENDING, APPROVED, REJECTED):
        raise TransitionError(
            f"brouillon {draft_id} : un brouillon « {STATUS_LABELS_FR.get(draft.status, draft.status)} »"
            " ne peut plus être modifié"
        )
    current = load_edits(store, draft_id)
    if base_version is not None and base_version != current.version:
        raise stale_error(store, draft_id, base_version, current)
    proposed = current.copy()
    change(proposed)
    curated, report = draft_curated(draft)
    sources_file = draft.manifest.get("sources_file") or DEFAULT_SOURCES
    cfg = load_run_config(sources_file, month=curated.month, today=curated.today)
    issue, report, _ = apply_edits(curated, report, proposed, taxonomy=cfg.taxonomy, strict=True)
    output = render_step(issue, cfg, proposed)
    saved = save_edits(store, draft_id, change, base_version=current.version, actor=actor, note=note)
    if draft.status != PENDING:
        transition(settings.outbox, store, draft_id, PENDING, actor=actor,
                   note=f"repassé en attente de validation après modification ({note})")
    updates = {
        "subject": output.rendered.subject,
        "preheader": getattr(output.rendered, "preheader", ""),
        "editorial": issue.editorial,
        "counts": {
            **(draft.manifest.get("counts") or {}),
            **issue.counts(),
            "items": len(issue.all_items()),
            "social_drafts": len(output.social),
            "news_by_category": {k: len(v) for k, v in issue.news.items()},
        },
        "render": {"size_bytes": output.rendered.size_bytes, "warnings": list(output.rendered.warnings)},
        "curation": report,
        "edits_version": saved.version,
    }
    files = dict(output.files)
    if not draft.file(CURATED_FILE).exists():  # a draft made before curated.json: keep the run's curation
        files[CURATED_FILE] = curated_file(curated, json.loads(json.dumps(draft.manifest.get("curation") or {})))
    stale = [name for name in (draft.manifest.get("files") or {}) if name.startswith("ics/") and name not in files]
    return edit_draft(settings.outbox, store, draft_id, files, updates, actor=actor, note=note, drop_files=stale)


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
    """The command line's edit: editorial, featured items (URLs, in order), undone merges (absorbed URLs)."""
    from newsletter.outbox.drafts import OutboxError
    from newsletter.outbox.edits import validate_editorial

    if editorial is not None:
        editorial = validate_editorial(editorial)

    def change(edits) -> None:
        if editorial is not None:
            edits.editorial = editorial
        if featured is not None:
            edits.featured = list(featured)
        for url in unmerge or []:
            if url in edits.unmerged:
                raise OutboxError(f"la fusion de « {url} » est déjà annulée")
            edits.unmerged.append(url)

    parts = []
    if editorial is not None:
        parts.append("éditorial")
    if featured is not None:
        parts.append("« À la une »")
    if unmerge:
        parts.append(f"fusion annulée : {', '.join(unmerge)}")
    note = "modifié" + (f" ({' ; '.join(parts)})" if parts else "")
    return update_draft(settings, store, draft_id, change, actor=actor, note=note)


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


def run_monthly(
    sources_path: str | Path,
    *,
    month: date,
    today: date,
    settings: Settings | None = None,
    new_draft: bool = False,
):
    """The whole monthly job without Prefect. Returns the draft."""
    from newsletter.collect.collector import collect_all
    from newsletter.collect.fetch import Fetcher

    settings = settings or Settings.from_env()
    store = Store(settings.database_url)
    check_month_open(store, month, new_draft=new_draft)  # refuse before collecting anything
    cfg = load_run_config(sources_path, month=month, today=today)
    results = collect_all(
        cfg.sources.enabled,
        fetcher=Fetcher(),
        state=store,
        max_workers=settings.max_workers,
        today=today,
        attention_threshold=settings.failure_threshold,
    )
    curation = curate_step(results, cfg, store.history())
    output = render_step(curation.issue, cfg)
    return queue_step(settings, store, cfg, results, curation, output, new_draft=new_draft)
