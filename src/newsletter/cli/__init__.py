"""The ``newsletter`` command: a thin layer over the package.

Only ``newsletter run`` imports Prefect (lazily); every other command stays fast.
Errors the user can fix are one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

from newsletter.errors import UserError

import argparse
import importlib
import json
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import Sequence

from newsletter import __version__

EXIT_USAGE = 2


class CommandError(UserError):
    """A problem the user can fix: printed as one line, exit code 2."""


def _settings():
    from newsletter.settings import Settings

    try:
        return Settings.from_env()
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _store(settings):
    from newsletter.store import Store, StoreError

    try:
        return Store(settings.database_url)
    except StoreError as exc:
        raise CommandError(str(exc)) from None


def _default_sources() -> str:
    import os

    from newsletter.pipeline import DEFAULT_SOURCES

    return os.environ.get("NEWSLETTER_SOURCES") or str(DEFAULT_SOURCES)


def _date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


# -- run ---------------------------------------------------------------------


def cmd_run(args) -> int:
    from newsletter.collect.sources import load_sources
    from newsletter.pipeline import check_month_open, resolve_dates

    try:
        first, _ = resolve_dates(args.month, args.today)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    load_sources(args.sources)  # fail fast, before Prefect starts, on a broken file
    # A month whose draft is approved or sent is refused before Prefect starts.
    check_month_open(_store(_settings()), first, new_draft=args.new_draft)
    # Prefect is imported here only: the other commands never pay for it.
    repo_root = Path(__file__).resolve().parents[3]
    if str(repo_root) not in sys.path:
        sys.path.insert(0, str(repo_root))
    from flows.monthly import monthly_newsletter

    draft_id = monthly_newsletter(
        sources=str(Path(args.sources).resolve()), month=args.month, today=args.today, new_draft=args.new_draft
    )
    sys.stdout.flush()
    print(draft_id)
    return 0


# -- collect, dedupe, classify -------------------------------------------------


def cmd_collect(args) -> int:
    from newsletter.collect.collector import MemoryStateStore, collect_all
    from newsletter.collect.fetch import Fetcher
    from newsletter.collect.sources import load_sources

    config = load_sources(args.sources)
    today = args.today or date.today()
    results = collect_all(config.enabled, fetcher=Fetcher(), state=MemoryStateStore(), today=today)
    out = sys.stdout
    for result in results:
        if result.error is not None:
            print(f"newsletter collect: source {result.source!r} failed: {result.error}", file=sys.stderr)
        for warning in result.warnings:
            print(f"newsletter collect: source {result.source!r}: {warning}", file=sys.stderr)
        for item in result.items:
            out.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
    return 0


def cmd_dedupe(args) -> int:
    from newsletter.curate.dedupe import dedupe_jsonl

    return dedupe_jsonl(sys.stdin, sys.stdout, sys.stderr)


def cmd_classify(args) -> int:
    from newsletter.curate.classify import classify_jsonl

    return classify_jsonl(sys.stdin, sys.stdout, sys.stderr, taxonomy_path=args.taxonomy)


# -- sample site ---------------------------------------------------------------


def cmd_sample_site(args) -> int:
    from newsletter.samples import SampleSiteError, build_sample_site

    today = args.today or date.today()
    try:
        path = build_sample_site(Path(args.out), today, base_url=args.base_url)
    except (SampleSiteError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    print(path)
    return 0


# -- outbox --------------------------------------------------------------------


def _outbox_context():
    settings = _settings()
    return settings, _store(settings)


def cmd_outbox_list(args) -> int:
    from newsletter.outbox.drafts import STATUS_LABELS_FR, list_drafts

    settings, store = _outbox_context()
    drafts = list_drafts(settings.outbox, store)
    if args.json:
        print(json.dumps([d.manifest for d in drafts], ensure_ascii=False, indent=2))
        return 0
    if not drafts:
        print(f"Aucun brouillon dans {settings.outbox}.")
        return 0
    print(f"{'IDENTIFIANT':<34} {'MOIS':<8} {'STATUT':<26} ÉLÉMENTS  OBJET")
    for d in drafts:
        m = d.manifest
        label = STATUS_LABELS_FR.get(d.status, d.status)
        items = (m.get("counts") or {}).get("items", "?")
        print(f"{d.id:<34} {m.get('month', ''):<8} {label:<26} {items!s:>8}  {m.get('subject', '')}")
    return 0


def cmd_outbox_show(args) -> int:
    from newsletter.outbox.drafts import STATUS_LABELS_FR, load_draft

    settings, store = _outbox_context()
    draft = load_draft(settings.outbox, args.id, store)
    m = draft.manifest
    if args.json:
        print(json.dumps(m, ensure_ascii=False, indent=2))
        return 0
    counts = m.get("counts") or {}
    src = m.get("sources") or {}
    cur = m.get("curation") or {}
    print(f"Brouillon {draft.id} — {m.get('subject', '')}")
    print(f"  Statut : {STATUS_LABELS_FR.get(draft.status, draft.status)}")
    print(f"  Créé le : {m.get('created_at', '')}")
    print(f"  Dossier : {draft.path}")
    print("  Fichiers :")
    for name in sorted(m.get("files", {})):
        print(f"    {draft.path / name}")
    print(
        "  Contenu : "
        f"à la une {counts.get('featured', 0)}, agenda {counts.get('agenda', 0)}, "
        f"actualités {counts.get('news', 0)}, ressources {counts.get('resources', 0)}, "
        f"revue de presse {counts.get('press', 0)}, posts {counts.get('social_drafts', 0)}"
    )
    print(f"  Sources : {src.get('read', 0)} lues, {len(src.get('failed', []))} en échec")
    for f in src.get("failed", []):
        print(f"    - {f['source']} : {f['category']} – {f['message']}")
    merged = cur.get("merged") or []
    if merged:
        print(f"  Fusions ({len(merged)}) :")
        for entry in merged:
            why = entry.get("explanation") or entry.get("reason", "")
            print(f"    - « {entry.get('absorbed_title', '')} » ({entry.get('absorbed_url', '')})")
            print(f"      fusionné dans « {entry.get('kept_title', '')} » ({entry.get('kept_url', '')}) : {why}")
    dropped = cur.get("dropped") or []
    if dropped:
        print(f"  Écartés ({len(dropped)}) :")
        for entry in dropped:
            print(f"    - {entry.get('title', '')} ({entry.get('reason', '')})")
    for warning in (m.get("render") or {}).get("warnings", []):
        print(f"  Attention : {warning}")
    for event in m.get("events", []) or []:
        note = f" — {event['note']}" if event.get("note") else ""
        print(f"  {event['at']} {event.get('from') or '∅'} → {event['to']} ({event.get('actor')}){note}")
    return 0


def _transition(args, to: str, verb: str) -> int:
    from newsletter.outbox.drafts import transition

    settings, store = _outbox_context()
    draft = transition(settings.outbox, store, args.id, to, actor=args.actor, note=getattr(args, "note", None))
    print(f"Brouillon {draft.id} {verb}.")
    return 0


def cmd_outbox_approve(args) -> int:
    from newsletter.outbox.drafts import APPROVED

    return _transition(args, APPROVED, "validé")


def cmd_outbox_reject(args) -> int:
    from newsletter.outbox.drafts import REJECTED

    return _transition(args, REJECTED, "refusé")


def cmd_outbox_reopen(args) -> int:
    from newsletter.outbox.drafts import PENDING

    return _transition(args, PENDING, "remis en attente de validation")


def cmd_outbox_edit(args) -> int:
    from newsletter.pipeline import rerender_draft

    if args.editorial is None and args.editorial_file is None and not args.feature and not args.unmerge:
        raise CommandError("rien à modifier : donnez --editorial, --editorial-file, --feature ou --unmerge")
    editorial = args.editorial
    if args.editorial_file:
        try:
            editorial = Path(args.editorial_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{args.editorial_file} : fichier illisible ({exc})") from None
    settings, store = _outbox_context()
    draft = rerender_draft(
        settings,
        store,
        args.id,
        editorial=editorial,
        featured=args.feature or None,
        unmerge=args.unmerge or None,
        actor=args.actor,
    )
    print(f"Brouillon {draft.id} mis à jour : {draft.path / 'newsletter.html'}")
    for warning in (draft.manifest.get("render") or {}).get("warnings", []):
        print(f"Attention : {warning}")
    return 0


def cmd_outbox_send(args) -> int:
    from newsletter.deliver.messenger import DeliveryError, deliver_draft, messenger_from_settings
    from newsletter.pipeline import publish_draft_web

    settings, store = _outbox_context()
    try:
        draft = deliver_draft(
            settings.outbox,
            store,
            args.id,
            messenger_from_settings(settings),
            sender=settings.mail_from,
            recipients=settings.mail_to,
            actor=args.actor,
            unsubscribe_url=settings.unsubscribe_url,
            publish=lambda d: publish_draft_web(d, settings.archive),
        )
    except DeliveryError as exc:
        raise CommandError(f"envoi du brouillon {args.id} impossible : {exc}") from None
    where = (draft.manifest.get("events") or [{}])[-1].get("note") or ""
    print(f"Brouillon {draft.id} envoyé ({where}).")
    if draft.manifest.get("published"):
        print(f"Version en ligne publiée : {draft.manifest['published']}")
    if draft.manifest.get("publish_error"):
        print(f"Attention : la version en ligne n'a pas pu être publiée ({draft.manifest['publish_error']})")
    return 0


# -- parser --------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsletter",
        description="Collect, curate, render and queue the monthly newsletter of a resource centre.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("run", help="run the monthly Prefect flow: collect, dedupe, categorise, render, queue")
    p.add_argument("--sources", default=_default_sources(), help="sources YAML file")
    p.add_argument("--month", help="issue month, YYYY-MM (default: this month)")
    p.add_argument("--today", help="the day the issue is prepared, YYYY-MM-DD (default: today)")
    p.add_argument(
        "--new-draft",
        action="store_true",
        help="make a new draft even if the month already has one (default: update its pending draft in place)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("collect", help="collect and normalise items; JSON Lines on stdout")
    p.add_argument("--sources", default=_default_sources(), help="sources YAML file")
    p.add_argument("--today", type=_date_arg, help="reference day for French dates without a year")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("dedupe", help="JSON Lines items on stdin -> kept items (with 'merged') on stdout")
    p.set_defaults(func=cmd_dedupe)

    p = sub.add_parser("classify", help="JSON Lines items on stdin -> items with 'category' and 'score'")
    p.add_argument("--taxonomy", help="taxonomy YAML file (default: sources/taxonomy.yaml)")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("sample-site", help="build the bundled sample site with dates around a day")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--today", type=_date_arg, help="YYYY-MM-DD (default: today)")
    p.add_argument("--base-url", help="serve-from URL written in sources.yaml (default: local paths)")
    p.set_defaults(func=cmd_sample_site)

    p = sub.add_parser("outbox", help="drafts awaiting approval: list, show, edit, approve, reject, reopen, send")
    osub = p.add_subparsers(dest="outbox_command", metavar="ACTION")
    osub.required = True
    q = osub.add_parser("list", help="list drafts, newest first")
    q.add_argument("--json", action="store_true", help="print the manifests as JSON")
    q.set_defaults(func=cmd_outbox_list)
    q = osub.add_parser("show", help="show one draft")
    q.add_argument("id")
    q.add_argument("--json", action="store_true", help="print the manifest as JSON")
    q.set_defaults(func=cmd_outbox_show)
    for name, func, helptext in (
        ("approve", cmd_outbox_approve, "approve a pending draft"),
        ("reject", cmd_outbox_reject, "reject a draft"),
        ("reopen", cmd_outbox_reopen, "put an approved or rejected draft back to pending"),
        ("send", cmd_outbox_send, "send an approved draft with the configured transport"),
    ):
        q = osub.add_parser(name, help=helptext)
        q.add_argument("id")
        q.add_argument("--actor", default=_default_actor(), help="who does it (default: $USER)")
        if name in ("reject", "reopen", "approve"):
            q.add_argument("--note", help="a note kept in the draft's history")
        q.set_defaults(func=func)
    q = osub.add_parser("edit", help="re-render a pending draft with an editorial and/or chosen featured items")
    q.add_argument("id")
    q.add_argument("--editorial", help="editorial text (French), shown at the top of the letter")
    q.add_argument("--editorial-file", help="read the editorial from this UTF-8 file")
    q.add_argument("--feature", action="append", metavar="URL", help="an item's URL to put in 'À la une' (repeatable)")
    q.add_argument(
        "--unmerge", action="append", metavar="URL", help="undo a wrong merge: bring this absorbed URL back (repeatable)"
    )
    q.add_argument("--actor", default=_default_actor(), help="who does it (default: $USER)")
    q.set_defaults(func=cmd_outbox_edit)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


# Command groups that live in their own module under newsletter/cli/: each
# module has ``register(subparsers)`` adding its commands (one line each here).
COMMAND_MODULES: tuple[str, ...] = (
    "newsletter.cli.serve",
    "newsletter.cli.users",
)


def _default_actor() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return "cli"


class _OneLineFormatter(logging.Formatter):
    """Log records as one line each; tracebacks only with NEWSLETTER_DEBUG=1."""

    def format(self, record: logging.LogRecord) -> str:
        message = f"newsletter: {record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            if os.environ.get("NEWSLETTER_DEBUG") == "1":
                return message + "\n" + self.formatException(record.exc_info)
            exc = record.exc_info[1]
            message += f" ({type(exc).__name__}: {exc})"
        return message


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    logger = logging.getLogger("newsletter")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if os.environ.get("NEWSLETTER_DEBUG") == "1" else logging.WARNING)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging()
    try:
        return args.func(args) or 0
    except UserError as exc:
        print(f"newsletter {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
