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


def settings_from_env():
    from newsletter.settings import Settings

    return Settings.from_env()  # a bad NEWSLETTER_* value is a SettingsError (a UserError)


def open_store(settings):
    from newsletter.store import Store, StoreError

    try:
        return Store(settings.database_url)
    except StoreError as exc:
        raise CommandError(str(exc)) from None


def _sources_arg(args) -> Path:
    """--sources, else the settings' default: NEWSLETTER_SOURCES, the home's sources/sources.yaml, IREV's."""
    return Path(args.sources) if args.sources else settings_from_env().sources


def _date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


# -- run ---------------------------------------------------------------------


def cmd_run(args) -> int:
    from newsletter.pipeline import check_month_open, load_run_config, resolve_dates

    try:
        month, today = resolve_dates(args.month, args.today)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    # Fail fast, before Prefect starts (~10 s): settings, then the sources,
    # taxonomy and branding files (each error is one line naming the file).
    settings = settings_from_env()
    sources = Path(args.sources) if args.sources else settings.sources
    config = load_run_config(sources, month=month, today=today)
    # A month whose draft is approved or sent is refused before Prefect starts.
    check_month_open(open_store(settings), month, new_draft=args.new_draft)
    # Prefect is imported here only: the other commands never pay for it.
    # `flows` is installed with the package (see pyproject.toml).
    from flows.monthly import monthly_newsletter

    # The sample site's own sources file (`newsletter sample-site --out DIR`) is
    # served on 127.0.0.1 for the length of the run; any other file: no-op.
    with _serving_sample_site(config.sources):
        draft_id = monthly_newsletter(
            sources=str(sources.resolve()), month=args.month, today=args.today, new_draft=args.new_draft
        )
    sys.stdout.flush()
    print(draft_id)
    return 0


def _serving_sample_site(config):
    """serving_sample_site, saying on stderr (in French) where the sample site is served."""
    from contextlib import contextmanager

    from newsletter.samples import serving_sample_site

    @contextmanager
    def serving():
        with serving_sample_site(config) as base_url:
            if base_url is not None:
                print(f"Site d'exemple servi sur {base_url}/ le temps du passage.", file=sys.stderr, flush=True)
            yield base_url

    return serving()


# -- collect, dedupe, classify -------------------------------------------------


def cmd_collect(args) -> int:
    from newsletter.collect.collector import MemoryStateStore, collect_all
    from newsletter.collect.fetch import Fetcher
    from newsletter.collect.sources import load_sources

    config = load_sources(_sources_arg(args))
    today = args.today or date.today()
    with _serving_sample_site(config):
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
    from newsletter.samples import SampleSiteError, build_sample_site, free_local_port, sample_server

    today = args.today or date.today()
    if not args.serve and not args.base_url:
        # The plain form: a site that `newsletter run`/`collect` serve themselves
        # (sources.yaml says so, with a port free now, used again when free then).
        try:
            path = build_sample_site(
                Path(args.out), today, base_url=f"http://127.0.0.1:{free_local_port()}", sample_site=True
            )
        except (SampleSiteError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        print(path, flush=True)
        print(
            f"Site d'exemple prêt : « newsletter run --sources {path} » le sert sur 127.0.0.1"
            " le temps du passage (--serve : le servir vous-même jusqu'à Ctrl+C).",
            file=sys.stderr,
        )
        return 0
    server = None
    base_url = args.base_url
    if args.serve:
        try:
            server = sample_server(Path(args.out), port=args.port)
        except OSError as exc:
            raise CommandError(f"newsletter sample-site : port {args.port} indisponible ({exc.strerror})") from None
        base_url = base_url or server.base_url
    try:
        path = build_sample_site(Path(args.out), today, base_url=base_url)
    except (SampleSiteError, ValueError) as exc:
        if server is not None:
            server.server_close()
        raise CommandError(str(exc)) from None
    print(path, flush=True)
    if server is None:
        return 0
    print(f"Site d'exemple servi sur {server.base_url}/ (arrêt : Ctrl+C ou kill {os.getpid()})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# -- outbox --------------------------------------------------------------------


def outbox_context():
    settings = settings_from_env()
    return settings, open_store(settings)


def cmd_outbox_list(args) -> int:
    from newsletter.cli.tables import print_table
    from newsletter.outbox.drafts import STATUS_LABELS_FR, list_drafts

    settings, store = outbox_context()
    drafts = list_drafts(settings.outbox, store)
    if args.json:
        print(json.dumps([d.manifest for d in drafts], ensure_ascii=False, indent=2))
        return 0
    rows = [(d.id, d.manifest.get("month", ""), STATUS_LABELS_FR.get(d.status, d.status),
             f"{(d.manifest.get('counts') or {}).get('items', '?')!s:>8}", d.manifest.get("subject", ""))
            for d in drafts]
    print_table(rows, (34, 8, 26, 9), header=("IDENTIFIANT", "MOIS", "STATUT", "ÉLÉMENTS", "OBJET"),
                empty=f"Aucun brouillon dans {settings.outbox}.")
    return 0


def cmd_outbox_show(args) -> int:
    from newsletter.outbox.drafts import STATUS_LABELS_FR, load_draft

    settings, store = outbox_context()
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
    from newsletter.outbox.checks import last_checks

    last = last_checks(store, draft.id)
    if last is not None:
        stage, report = last
        verdict = "tous passés" if report.ok else report.summary_fr()
        print(f"  Contrôles avant envoi ({report.checked_at:%Y-%m-%d %H:%M}, {stage}) : {verdict}")
    for event in m.get("events", []) or []:
        note = f" — {event['note']}" if event.get("note") else ""
        print(f"  {event['at']} {event.get('from') or '∅'} → {event['to']} ({event.get('actor')}){note}")
    return 0


def _transition(args, to: str, verb: str) -> int:
    from newsletter.outbox.drafts import transition

    settings, store = outbox_context()
    draft = transition(settings.outbox, store, args.id, to, actor=args.actor, note=getattr(args, "note", None))
    print(f"Brouillon {draft.id} {verb}.")
    return 0


def cmd_outbox_approve(args) -> int:
    from newsletter.cli.outbox_checks import print_report
    from newsletter.outbox.drafts import APPROVED, ChecksFailed, transition
    from newsletter.outbox.hooks import TriggerError, after_approval

    settings, store = outbox_context()
    try:
        draft = transition(
            settings.outbox, store, args.id, APPROVED,
            actor=args.actor, note=args.note, override_reason=args.override, settings=settings,
        )
    except ChecksFailed as exc:
        print_report(exc.report, file=sys.stderr, header="Contrôles avant envoi :")
        raise
    print(f"Brouillon {draft.id} validé.")
    approval = draft.manifest.get("approval") or {}
    if approval.get("override_reason"):
        print(f"Contrôles en échec validés malgré tout : {approval['override_reason']}")
    try:
        run_id = after_approval(settings, store, draft, actor=args.actor)
    except TriggerError as exc:  # the approval stands: say how to send by hand
        print(f"Attention : {exc} ; envoyez-le avec « newsletter outbox send {draft.id} ».", file=sys.stderr)
        return 0
    if run_id:
        print(f"Envoi lancé par Prefect (exécution {run_id}).")
    return 0


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
    settings, store = outbox_context()
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
    from newsletter.deliver.engine import send_draft
    from newsletter.deliver.messenger import DeliveryError
    from newsletter.pipeline import publish_draft_web

    settings, store = outbox_context()
    progress, bar = _send_progress()
    try:
        result = send_draft(
            settings,
            store,
            args.id,
            actor=args.actor,
            resend_uncertain=args.resend_uncertain,
            publish=lambda d: publish_draft_web(d, settings.archive, store, actor=args.actor),
            progress=progress,
        )
    except DeliveryError as exc:
        raise CommandError(f"envoi du brouillon {args.id} impossible : {exc}") from None
    finally:
        if bar is not None:
            bar.stop()
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return 0
    from newsletter.outbox.drafts import STATUS_LABELS_FR

    print(f"Brouillon {result.draft_id} : {STATUS_LABELS_FR.get(result.status, result.status)} ({result.where}).")
    print(f"Envoyés : {result.sent}, ignorés : {result.skipped}, en échec : {result.failed + result.deferred},"
          f" incertains : {result.uncertain} (sur {result.total}).")
    for address, error in result.failed_addresses:
        print(f"  échec : {address} — {error}")
    if result.uncertain_addresses:
        print("Incertains (le message était en cours d'envoi lors d'une interruption : le serveur l'a peut-être reçu) :")
        for address in result.uncertain_addresses:
            print(f"  incertain : {address}")
        print(f"Pour le leur envoyer (au risque d'un doublon) : newsletter outbox send {result.draft_id} --resend-uncertain")
    if result.deferred:
        print(f"{result.deferred} message(s) différé(s) : relancez « newsletter outbox send {result.draft_id} ».")
    return 0


def _send_progress():
    """A progress bar on the terminal (rich), nothing when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("Envoi"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(), console=Console(stderr=True), transient=False,
    )
    task = bar.add_task("envoi", total=None, detail="")
    bar.start()

    def progress(totals: dict) -> None:
        done = sum(totals.get(k, 0) for k in ("sent", "skipped", "failed", "deferred", "uncertain"))
        bar.update(task, total=totals.get("total"), completed=done,
                   detail=f"{totals.get('failed', 0) + totals.get('deferred', 0)} échec(s)")

    return progress, bar


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
    p.add_argument("--sources", help="sources YAML file (default: $NEWSLETTER_SOURCES, else the home's sources/sources.yaml)")
    p.add_argument("--month", help="issue month, YYYY-MM (default: this month)")
    p.add_argument("--today", help="the day the issue is prepared, YYYY-MM-DD (default: today)")
    p.add_argument(
        "--new-draft",
        action="store_true",
        help="make a new draft even if the month already has one (default: update its pending draft in place)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("collect", help="collect and normalise items; JSON Lines on stdout")
    p.add_argument("--sources", help="sources YAML file (default: $NEWSLETTER_SOURCES, else the home's sources/sources.yaml)")
    p.add_argument("--today", type=_date_arg, help="reference day for French dates without a year")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("dedupe", help="JSON Lines items on stdin -> kept items (with 'merged') on stdout")
    p.set_defaults(func=cmd_dedupe)

    p = sub.add_parser("classify", help="JSON Lines items on stdin -> items with 'category' and 'score'")
    p.add_argument("--taxonomy", help="taxonomy YAML file (default: the home's sources/taxonomy.yaml)")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("sample-site", help="build the bundled sample site with dates around a day")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--today", type=_date_arg, help="YYYY-MM-DD (default: today)")
    p.add_argument("--base-url", help="the http(s) URL the folder is served from, written in sources.yaml")
    p.add_argument("--serve", action="store_true",
                   help="serve the folder on 127.0.0.1 until stopped (sources.yaml points there); without"
                        " --serve or --base-url, `newsletter run`/`collect` serve it for the length of the run")
    p.add_argument("--port", type=int, default=0, help="port for --serve (default: a free one)")
    p.set_defaults(func=cmd_sample_site)

    osub = add_group(sub, "outbox", "drafts awaiting approval: list, show, edit, approve, reject, reopen, send")
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
        q.add_argument("--actor", default=default_actor(), help="who does it (default: $USER)")
        if name in ("reject", "reopen", "approve"):
            q.add_argument("--note", help="a note kept in the draft's history")
        if name == "send":
            q.add_argument("--resend-uncertain", action="store_true",
                           help="also mail the recipients left uncertain by an interrupted send")
            q.add_argument("--json", action="store_true", help="print the summary as JSON")
        if name == "approve":
            q.add_argument(
                "--override", metavar="RAISON", help="approve although pre-send checks fail, for this reason (recorded)"
            )
        q.set_defaults(func=func)
    q = osub.add_parser("edit", help="re-render a pending draft with an editorial and/or chosen featured items")
    q.add_argument("id")
    q.add_argument("--editorial", help="editorial text (French), shown at the top of the letter")
    q.add_argument("--editorial-file", help="read the editorial from this UTF-8 file")
    q.add_argument("--feature", action="append", metavar="URL", help="an item's URL to put in 'À la une' (repeatable)")
    q.add_argument(
        "--unmerge", action="append", metavar="URL", help="undo a wrong merge: bring this absorbed URL back (repeatable)"
    )
    q.add_argument("--actor", default=default_actor(), help="who does it (default: $USER)")
    q.set_defaults(func=cmd_outbox_edit)
    importlib.import_module("newsletter.cli.outbox_checks").register(osub, default_actor())
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


# Command groups that live in their own module under newsletter/cli/: each
# module has ``register(subparsers)`` adding its commands (one line each here).
COMMAND_MODULES: tuple[str, ...] = (
    "newsletter.cli.subscribers",
    "newsletter.cli.home",
    "newsletter.cli.serve",
    "newsletter.cli.users",
)


def add_group(subparsers, name: str, help: str):
    """A command group ``newsletter NAME ACTION …`` (the action required, in ``args.<name>_command``):
    the subparsers its actions are added to."""
    p = subparsers.add_parser(name, help=help)
    actions = p.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    actions.required = True
    return actions


def default_actor() -> str:
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
