"""``newsletter outbox check ID`` and ``newsletter outbox publish ID``; the report printing of ``approve``.

Registered on the ``outbox`` command group by ``newsletter.cli.build_parser``.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def print_report(report: Any, *, file=None, header: str | None = None) -> None:
    out = file or sys.stdout
    if header:
        print(header, file=out)
    for line in report.lines_fr():
        print(f"  {line}", file=out)


def cmd_outbox_check(args) -> int:
    from newsletter.cli import outbox_context
    from newsletter.outbox.checks import run_checks
    from newsletter.outbox.drafts import load_draft

    settings, store = outbox_context()
    draft = load_draft(settings.outbox, args.id, store)
    report = run_checks(draft, settings, store=store)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        verdict = "tous les contrôles sont passés" if report.ok else report.summary_fr()
        print_report(report, header=f"Contrôles avant envoi du brouillon {draft.id} : {verdict}")
    return 0 if report.ok else 1


def cmd_outbox_publish(args) -> int:
    from newsletter.cli import outbox_context
    from newsletter.outbox.drafts import load_draft
    from newsletter.pipeline import publish_draft_web

    settings, store = outbox_context()
    draft = load_draft(settings.outbox, args.id, store)
    page = publish_draft_web(draft, settings.archive, store, actor=args.actor)
    print(f"Version en ligne du brouillon {draft.id} publiée : {page}")
    return 0


def register(osub, default_actor: str) -> None:
    q = osub.add_parser("check", help="run the pre-send checks on a draft; exit 1 if one fails")
    q.add_argument("id")
    q.add_argument("--json", action="store_true", help="print the report as JSON")
    q.set_defaults(func=cmd_outbox_check)
    q = osub.add_parser("publish", help="publish a sent draft's approved HTML in the web archive (retry)")
    q.add_argument("id")
    q.add_argument("--actor", default=default_actor, help="who does it (default: $USER)")
    q.set_defaults(func=cmd_outbox_publish)
