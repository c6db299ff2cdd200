"""What a run leaves in the Prefect UI, besides task states. One call per flow.

Monthly run (:func:`monthly_report`): the draft's sections and counts, the
failing sources and why, the curation report (merges, dropped items), the
stage timings (``manifest.json``'s ``timings`` when present), and a link to
the draft's review page. Delivery (:class:`DeliveryProgress`): a progress
artifact updated while sending, then a table of the final counts.

Everything is read from the draft's manifest: artifacts never hold what the
outbox does not.
"""

from __future__ import annotations

from typing import Any

from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

SECTIONS = (
    ("featured", "À la une"),
    ("agenda", "Agenda"),
    ("news", "Actualités"),
    ("resources", "Ressources"),
    ("press", "Revue de presse"),
    ("social_drafts", "Posts réseaux sociaux"),
)


def review_url(settings: Any, draft_id: str) -> str:
    return f"{(settings.public_url or 'http://127.0.0.1:8000').rstrip('/')}/drafts/{draft_id}"


def _md(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def monthly_report(draft: Any, settings: Any) -> None:
    """Artifacts of one monthly run, keyed so the UI keeps their history month by month."""
    m = draft.manifest
    counts = m.get("counts") or {}
    create_table_artifact(
        [{"section": label, "items": counts.get(key, 0)} for key, label in SECTIONS]
        + [{"section": f"Actualités – {cat}", "items": n} for cat, n in (counts.get("news_by_category") or {}).items()],
        key="newsletter-sections",
        description=f"Draft {draft.id}: {m.get('subject', '')}",
    )
    src = m.get("sources") or {}
    failed = src.get("failed") or []
    lines = [
        f"# Sources: {src.get('read', 0)} read, {src.get('ok', 0)} ok, "
        f"{src.get('not_modified', 0)} unchanged, {len(failed)} failed",
        "",
    ]
    if failed:
        lines += ["| source | category | why | failing repeatedly |", "|---|---|---|---|"]
        lines += [
            f"| {_md(f['source'])} | {_md(f.get('category'))} | {_md(f.get('message'))} |"
            f" {'yes' if f.get('needs_attention') else ''} |"
            for f in failed
        ]
    else:
        lines.append("Every source answered.")
    create_markdown_artifact("\n".join(lines), key="newsletter-sources", description="Failing sources and why")

    cur = m.get("curation") or {}
    merged, dropped = cur.get("merged") or [], cur.get("dropped") or []
    lines = [f"# Curation: {len(merged)} merged, {len(dropped)} dropped", ""]
    if merged:
        lines += ["## Merged", "", "| absorbed | kept | why |", "|---|---|---|"]
        lines += [
            f"| [{_md(e.get('absorbed_title'))}]({e.get('absorbed_url', '')}) | "
            f"[{_md(e.get('kept_title'))}]({e.get('kept_url', '')}) | {_md(e.get('explanation') or e.get('reason'))} |"
            for e in merged
        ]
    if dropped:
        lines += ["", "## Dropped", "", "| item | why |", "|---|---|"]
        lines += [f"| {_md(e.get('title'))} | {_md(e.get('reason'))} |" for e in dropped]
    create_markdown_artifact("\n".join(lines), key="newsletter-curation", description="Curation report")

    timings = m.get("timings") or {}
    if timings:
        create_table_artifact(
            [{"stage": stage, "seconds": round(float(sec), 3)} for stage, sec in timings.items()],
            key="newsletter-timings",
            description="Seconds per stage",
        )
    create_link_artifact(
        review_url(settings, draft.id),
        link_text=f"Relire le brouillon {draft.id}",
        key="newsletter-review",
        description="The draft's review page",
    )


class DeliveryProgress:
    """A progress artifact while a draft is sent, then the final counts."""

    def __init__(self, draft_id: str):
        self.draft_id = draft_id
        self.artifact_id = create_progress_artifact(
            0.0, key="newsletter-delivery-progress", description=f"Sending draft {draft_id}"
        )

    def __call__(self, done: int, total: int) -> None:
        update_progress_artifact(self.artifact_id, 100.0 * done / total if total else 100.0)

    def finish(self, counts: dict[str, int]) -> None:
        update_progress_artifact(self.artifact_id, 100.0)
        create_table_artifact(
            [{"outcome": k, "messages": counts.get(k, 0)} for k in ("sent", "skipped", "failed", "uncertain")],
            key="newsletter-delivery",
            description=f"Draft {self.draft_id}: final counts",
        )
