"""The monthly job as plain functions: collect → curate → render → queue.

``flows/monthly.py`` wraps these in Prefect tasks (retries on I/O only);
:func:`run_monthly` chains them without Prefect for tests and tools.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from newsletter.models import Issue, SourceResult
from newsletter.settings import Settings
from newsletter.collect.sources import SourcesConfig, load_sources
from newsletter.store import Store



def default_sources() -> Path:
    """The sources file used when none is given: NEWSLETTER_SOURCES, else the home's, else IREV's (packaged)."""
    return Settings.from_env().sources


log = logging.getLogger(__name__)


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

    from newsletter.curate.classify import correction_examples
    from newsletter.curate.model import train_ahead

    start = time.monotonic()
    # the classifier's model (importing scikit-learn, training) gets ready while
    # the sources are fetched: curate_step's classify then finds it trained
    train_ahead(cfg.taxonomy, correction_examples(store.corrections()))
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


_TAXONOMIES: dict[Path, tuple[Any, tuple[Any, ...], Any]] = {}  # path -> (training name, signature, Taxonomy)
_TAXONOMIES_LOCK = threading.Lock()


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _training_signature(path: Path, training: Any) -> tuple[Any, ...]:
    """The training file a taxonomy names (resolved as ``Taxonomy.load`` does) and its signature."""
    from newsletter.curate.classify import training_path

    if not isinstance(training, str) or not training.strip():
        return ()
    pages = training_path(training, path)
    return pages, _file_signature(pages)


def load_taxonomy(path: str | Path | None = None):
    """The taxonomy of ``path`` (None: the home's) as ``Taxonomy.load`` reads it, read
    once per process while its files (the YAML and the training file it names) are
    unchanged: the review app shows and edits drafts with it at each request, and the
    same object keeps its trained text model (``curate/model.py`` caches by taxonomy).
    An edit of either file (modification time, size or inode) is read at the next call;
    a broken file raises its ``TaxonomyError`` and nothing is cached."""
    from newsletter.curate.classify import Taxonomy, TaxonomyError
    from newsletter.home import TAXONOMY_FILE, config_path
    from newsletter.yamlfile import load_yaml

    path = Path(path) if path else config_path(TAXONOMY_FILE)
    with _TAXONOMIES_LOCK:
        cached = _TAXONOMIES.get(path)
        if cached is not None:
            training, signature, taxonomy = cached
            if signature == (_file_signature(path), *_training_signature(path, training)):
                return taxonomy
        before = _file_signature(path)  # taken before reading: a write while reading is seen next time
        data = load_yaml(path, TaxonomyError, "taxonomy file")
        training = data.get("training") if isinstance(data, dict) else None
        signature = (before, *_training_signature(path, training))
        taxonomy = Taxonomy.from_dict(data, path=path)
        if len(_TAXONOMIES) >= 8:
            _TAXONOMIES.clear()
        _TAXONOMIES[path] = (training, signature, taxonomy)
        return taxonomy


def load_run_config(sources_path: str | Path | None, *, month: date, today: date,
                    cached_taxonomy: bool = False) -> RunConfig:
    """Read and validate the sources, taxonomy (hashtags included) and branding files (``None``: :func:`default_sources`).

    Raises the UserError of the first broken file, naming it: ``newsletter run``
    calls this before Prefect starts, so a bad file fails fast. ``cached_taxonomy``:
    the taxonomy through :func:`load_taxonomy` (read again only when its files
    changed), for a draft's edits; a run reads it afresh.
    """
    from newsletter.render.branding import load_branding
    from newsletter.curate.classify import Taxonomy

    config = load_sources(sources_path if sources_path is not None else default_sources())
    if cached_taxonomy:
        taxonomy = load_taxonomy(config.taxonomy_path)
    else:
        taxonomy = Taxonomy.load(config.taxonomy_path) if config.taxonomy_path else Taxonomy.default()
    branding = load_branding(config.branding_path)
    return RunConfig(sources=config, taxonomy=taxonomy, branding=branding, month=month, today=today)


@dataclass
class RenderOutput:
    rendered: Any
    social: list[dict[str, Any]]
    files: dict[str, bytes | str] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)  # plan.json: period, rules, left-out candidates


def curate_step(results: list[SourceResult], cfg: RunConfig, store: Store):
    """Curate the collected items against the store's history (items already
    sent) and the officer's category corrections. An item that makes curation fail
    (say, the classifier) is found by curating each item alone, dropped
    (``cfg.dropped``) and the rest curated; a failure no single item causes is raised."""
    from newsletter.curate.curation import curate

    start = time.monotonic()
    items = [item for result in results for item in result.items]
    history, corrections = store.history(), store.corrections()

    def run(chosen):
        return curate(
            chosen,
            taxonomy=cfg.taxonomy,
            today=cfg.today,
            month=cfg.month,
            history=history,
            horizon_days=cfg.horizon_days,
            corrections=corrections or (),
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


def render_step(issue: Issue, cfg: RunConfig, edits: Any = None) -> RenderOutput:
    """Render the newsletter, social drafts, Buffer CSVs and calendar files.

    When rendering fails, the items to blame are found by rendering each item
    alone; they are removed from ``issue`` (in place) and reported in
    ``cfg.dropped``, and the rest is rendered. A failure no single item causes
    (a broken template or branding) is raised."""
    start = time.monotonic()
    try:
        output = _render(issue, cfg, edits)
    except Exception as exc:
        items = issue.all_items()
        culprits = _culprits(items, lambda chosen: _render(_only(issue, chosen), cfg, edits), "render", exc, cfg)
        for name in ("featured", "agenda", "resources", "press"):
            setattr(issue, name, [i for i in getattr(issue, name) if id(i) not in culprits])
        issue.news = {k: kept for k, v in issue.news.items() if (kept := [i for i in v if id(i) not in culprits])}
        output = _render(issue, cfg, edits)
    cfg.timings["render"] = round(time.monotonic() - start, 3)
    return output


def _only(issue: Issue, chosen: list) -> Issue:
    ids = {id(i) for i in chosen}
    return _without(issue, {id(i) for i in issue.all_items() if id(i) not in ids})


def _render(issue: Issue, cfg: RunConfig, edits: Any = None, *, strict: bool = False) -> RenderOutput:
    """Render the issue: newsletter (HTML, text, MJML), the month's posting plan
    (with the officer's post texts and plan changes), Buffer CSVs, .ics.

    ``strict`` (an edit being made): a plan change that breaks a rule is
    refused (PlanEditError). Otherwise (a run re-rendering the month with her
    earlier changes) such a change is left out and named in ``plan.json``'s
    ``not_applied``."""
    from newsletter.outbox.drafts import ISSUE_FILE
    from newsletter.outbox.edits import apply_social_edits
    from newsletter.render import plan as posting_plan
    from newsletter.render import social
    from newsletter.render.newsletter import render_newsletter

    rendered = render_newsletter(issue, cfg.branding)
    hashtags = {slug: cfg.taxonomy.hashtags(slug) for slug in cfg.taxonomy.slugs}
    platforms = tuple(c.platform for c in cfg.branding.posting.channels)
    drafts = social.social_drafts(issue, cfg.branding, hashtags, web_url=rendered.web_url or None,
                                  platforms=platforms, reminders=True)
    # The posting plan: social.json holds the planned posts only (each with its scheduled_at);
    # plan.json the period, the rules and the candidates left out.
    plan = posting_plan.plan_posts(drafts, cfg.branding.posting, send_date=max(cfg.today, cfg.month))
    posts, removed, not_applied = plan.posts, [], []
    if edits is not None:
        posts = apply_social_edits(posts, edits)
        plan_edits = (edits.extra or {}).get("plan")
        if plan_edits:
            removed = posting_plan.removed_posts(posts, plan_edits)
            posts = posting_plan.apply_plan_edits(posts, plan_edits, cfg.branding.posting, left_out=plan.left_out,
                                                  skipped=None if strict else not_applied)
    summary = plan.summary(cfg.branding.posting, posts, removed)
    if not_applied:
        summary["not_applied"] = not_applied
    files: dict[str, bytes | str] = {
        "newsletter.html": rendered.html,
        "newsletter.txt": rendered.text,
        "newsletter.mjml": rendered.mjml,
        "social.json": json.dumps(posts, ensure_ascii=False, indent=2) + "\n",
        "plan.json": json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
        ISSUE_FILE: json.dumps(issue.to_dict(), ensure_ascii=False, indent=2) + "\n",
    }
    for platform in platforms:
        files[f"buffer/{platform}.csv"] = social.buffer_csv(posts, platform)
    for name, data in rendered.ics_files().items():
        files[f"ics/{name}"] = data
    return RenderOutput(rendered=rendered, social=posts, files=files, plan=summary)


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


@dataclass
class DraftPlan:
    """What a run's render step renders: the curation with the officer's edits
    of the month's pending draft applied (``existing``), or as curated when a
    new draft is made (``existing`` None)."""

    existing: str | None
    issue: Issue
    report: dict[str, Any]
    edits: Any = None
    notes: list[str] = field(default_factory=list)


def prepare_draft(store: Store, cfg: RunConfig, curation: Any, *, new_draft: bool = False) -> DraftPlan:
    """Find the draft this run goes to and apply its edits, so that it is rendered once.

    Raises MonthLocked like ``check_month_open``."""
    from newsletter.outbox.edits import apply_edits, load_edits

    existing = check_month_open(store, cfg.month, new_draft=new_draft)
    if existing is None:
        return DraftPlan(None, curation.issue, curation.report)
    edits = load_edits(store, existing)
    issue, report, notes = apply_edits(curation.issue, curation.report, edits, taxonomy=cfg.taxonomy, strict=False)
    return DraftPlan(existing, issue, report, edits, notes)


def queue_step(
    settings: Settings,
    store: Store,
    cfg: RunConfig,
    results: list[SourceResult],
    curation: Any,
    plan: DraftPlan,
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
    from newsletter.files import atomic_write
    from newsletter.outbox.drafts import CURATED_FILE, MANIFEST, create_draft

    start = time.monotonic()
    _forget_validators(store, results, cfg.dropped)
    existing = check_month_open(store, cfg.month, new_draft=new_draft)
    if existing != plan.existing:  # the month changed hands during the run: render again for its draft
        plan = prepare_draft(store, cfg, curation, new_draft=new_draft)
        output = render_step(plan.issue, cfg, plan.edits)
    if existing is not None:
        draft = refresh_draft(settings, store, cfg, results, curation, plan, output)
    else:
        issue: Issue = curation.issue
        manifest = _run_manifest(cfg, results, curation.report, issue, output)
        files = dict(output.files)
        files[CURATED_FILE] = curated_file(issue, curation.report)
        draft = create_draft(settings.outbox, store, month=cfg.month, files=files, manifest=manifest)
    cfg.timings["queue"] = round(time.monotonic() - start, 3)
    draft.manifest.setdefault("timings", {})["queue"] = cfg.timings["queue"]
    atomic_write(draft.path / MANIFEST, json.dumps(draft.manifest, ensure_ascii=False, indent=2, default=str) + "\n")
    return draft


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
        "dropped_items": [d for r in results for d in r.dropped] + list(cfg.dropped),
        "timings": {stage: cfg.timings[stage] for stage in STAGES if stage in cfg.timings},
    }


def refresh_draft(settings: Settings, store: Store, cfg: RunConfig, results: list[SourceResult],
                  curation: Any, plan: DraftPlan, output: RenderOutput):
    """A new run of the month: new curation, the officer's edits kept (``plan``,
    rendered as ``output``), the pending draft updated in place."""
    from newsletter.outbox.drafts import CURATED_FILE, edit_draft, load_draft
    from newsletter.outbox.edits import save_edits

    draft_id, edits, issue, report = plan.existing, plan.edits, plan.issue, plan.report
    notes = list(plan.notes) + [f"calendrier : {n}" for n in output.plan.get("not_applied", [])]
    draft = load_draft(settings.outbox, draft_id, store)
    old_curated, _ = draft_curated(draft)
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
    sources_file = draft.manifest.get("sources_file")  # None: the default sources
    cfg = load_run_config(sources_file, month=curated.month, today=curated.today, cached_taxonomy=True)
    issue, report, _ = apply_edits(curated, report, proposed, taxonomy=cfg.taxonomy, strict=True)
    output = _render(issue, cfg, proposed, strict=True)  # an edit that cannot be rendered is refused
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


def publish_draft_web(draft, archive_dir: Path, store: Store | None = None, *, actor: str = "cli") -> Path:
    """Publish a sent draft in the web archive: the approved ``newsletter.html``, as approved.

    Every file it reads (HTML, ``issue.json``, ``ics/*``, the branding copied at
    approval) is checked against the approval's hashes in the database, so a
    hand edit after approval or a later branding change never reaches the
    archive. Success and failure are recorded in the draft's history; a failed
    publication can be retried (``newsletter outbox publish ID``). Raises
    :class:`newsletter.outbox.drafts.PublishError` (French) on failure.
    """
    from newsletter.models import Issue
    from newsletter.outbox.drafts import (
        BRANDING_COPY,
        ISSUE_FILE,
        SENT,
        STATUS_LABELS_FR,
        PublishError,
        record_publication,
        verify_approved,
    )
    from newsletter.render.archive import publish_page, web_version
    from newsletter.render.branding import load_branding

    if store is None:
        store = Store(Settings.from_env().database_url)
    status = store.draft_status(draft.id)
    if status != SENT:
        raise PublishError(
            f"brouillon {draft.id} : seule une lettre envoyée est publiée en ligne"
            f" (statut : « {STATUS_LABELS_FR.get(status, status)} »)"
        )
    try:
        approval = verify_approved(draft, store)
        html = approval.read(draft, "newsletter.html").decode("utf-8")
        issue = Issue.from_dict(json.loads(approval.read(draft, ISSUE_FILE)))
        if BRANDING_COPY in approval.hashes:
            approval.read(draft, BRANDING_COPY)
            branding = load_branding(draft.file(BRANDING_COPY))
        else:  # approved without a branding file to copy: the one named at approval
            branding_file = approval.fields.get("branding_file")
            branding = load_branding(Path(branding_file) if branding_file else None)
        web_url = approval.fields.get("web_url") or branding.issue_url(f"{issue.month:%Y-%m}")
        unsubscribe = {u for u in (approval.fields.get("unsubscribe"), branding.unsubscribe_url) if u}
        ics = {name[len("ics/"):]: approval.read(draft, name) for name in approval.hashes if name.startswith("ics/")}
        page = publish_page(
            web_version(html, web_url=web_url, branding=branding, unsubscribe=unsubscribe),
            issue,
            branding,
            Path(archive_dir),
            subject=approval.subject,
            preheader=approval.fields.get("preheader") or "",
            url=web_url,
            ics_files=ics,
        )
    except Exception as exc:
        message = str(exc) or type(exc).__name__
        record_publication(draft, store, actor=actor, error=message)
        raise PublishError(
            f"brouillon {draft.id} : la version en ligne n'a pas pu être publiée ({message}) ;"
            f" réessayez avec « newsletter outbox publish {draft.id} »"
        ) from exc
    record_publication(draft, store, actor=actor, page=page)
    return page


def run_monthly(
    sources_path: str | Path | None,
    *,
    month: date,
    today: date,
    settings: Settings | None = None,
    new_draft: bool = False,
):
    """The whole monthly job without Prefect. Returns the draft."""
    settings = settings or Settings.from_env()
    store = Store(settings.database_url)
    check_month_open(store, month, new_draft=new_draft)  # refuse before collecting anything
    cfg = load_run_config(sources_path, month=month, today=today)
    results = collect_step(cfg, settings, store)
    curation = curate_step(results, cfg, store)
    plan = prepare_draft(store, cfg, curation, new_draft=new_draft)
    output = render_step(plan.issue, cfg, plan.edits)
    return queue_step(settings, store, cfg, results, curation, plan, output, new_draft=new_draft)
