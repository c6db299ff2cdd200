"""``newsletter subscribers import|add|list|export|unsubscribe|count``."""

from __future__ import annotations

import json
import sys


def _context():
    from newsletter.cli import settings_from_env, open_store

    settings = settings_from_env()
    return settings, open_store(settings)


def cmd_import(args) -> int:
    from newsletter.deliver.subscribers import import_csv

    _, store = _context()
    report = import_csv(store, args.file, source=args.source, lists=args.list or (), actor=args.actor)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return 0
    for line in report.lines:
        if line.outcome != "added":
            label = "fusionné" if line.outcome == "merged" else "ignoré"
            print(f"ligne {line.line} : {line.email or '(vide)'} — {label} : {line.reason}")
    c = report.counts()
    print(f"{args.file} : {c['added']} ajouté(s), {c['merged']} fusionné(s), {c['skipped']} ignoré(s).")
    return 0


def cmd_add(args) -> int:
    from newsletter.deliver.subscribers import STATUS_LABELS_FR, add

    _, store = _context()
    sub, created = add(store, args.email, name=args.name, consent_source=args.source or "ajout manuel",
                       lists=args.list or (), actor=args.actor)
    if created:
        print(f"{sub.email} ajouté.")
    else:
        print(f"{sub.email} existe déjà (statut : {STATUS_LABELS_FR[sub.status]}).")
    return 0


def cmd_list(args) -> int:
    from newsletter.cli.tables import print_table
    from newsletter.deliver.subscribers import STATUS_LABELS_FR, list_subscribers

    _, store = _context()
    rows = list_subscribers(store, status=args.status)
    if args.json:
        print(json.dumps([s.to_dict() for s in rows], ensure_ascii=False, indent=2))
        return 0
    print_table([(s.email, STATUS_LABELS_FR[s.status], s.name or "") for s in rows], (40, 26),
                header=("ADRESSE", "STATUT", "NOM"), empty="Aucun abonné.")
    return 0


def cmd_export(args) -> int:
    from newsletter.deliver.subscribers import export_csv

    _, store = _context()
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            n = export_csv(store, fh)
        print(f"{n} abonné(s) exporté(s) dans {args.out}.", file=sys.stderr)
    else:
        export_csv(store, sys.stdout)
    return 0


def cmd_unsubscribe(args) -> int:
    from newsletter.deliver.subscribers import unsubscribe

    _, store = _context()
    changed = unsubscribe(store, args.email, actor=args.actor, note=args.note or "désabonné par l'opérateur")
    print(f"{args.email} désabonné." if changed else f"{args.email} n'était plus abonné : rien n'a changé.")
    return 0


def cmd_count(args) -> int:
    from newsletter.deliver.subscribers import STATUS_LABELS_FR, count

    _, store = _context()
    counts = count(store)
    if args.json:
        print(json.dumps(counts))
        return 0
    print(", ".join(f"{STATUS_LABELS_FR[k]} : {v}" for k, v in counts.items()))
    return 0


def register(sub) -> None:
    from newsletter.cli import add_group, default_actor

    ssub = add_group(sub, "subscribers", "subscribers: import, add, list, export, unsubscribe, count")

    q = ssub.add_parser("import", help="import a CSV export (Mailchimp, Brevo or a hand-made sheet)")
    q.add_argument("file")
    q.add_argument("--source", help="consent source recorded for each address (default: the file name)")
    q.add_argument("--list", action="append", metavar="NAME", help="add the imported addresses to this list")
    q.add_argument("--json", action="store_true", help="print the per-line report as JSON")
    q.add_argument("--actor", default=default_actor())
    q.set_defaults(func=cmd_import)

    q = ssub.add_parser("add", help="add one subscriber")
    q.add_argument("email")
    q.add_argument("--name")
    q.add_argument("--source", help="consent source (default: ajout manuel)")
    q.add_argument("--list", action="append", metavar="NAME")
    q.add_argument("--actor", default=default_actor())
    q.set_defaults(func=cmd_add)

    q = ssub.add_parser("list", help="list subscribers")
    q.add_argument("--status", choices=("active", "unsubscribed", "bounced", "complained"))
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)

    q = ssub.add_parser("export", help="export every subscriber as CSV (stdout or --out)")
    q.add_argument("--out", help="write to this file instead of stdout")
    q.set_defaults(func=cmd_export)

    q = ssub.add_parser("unsubscribe", help="unsubscribe an address (e.g. a request received by mail)")
    q.add_argument("email")
    q.add_argument("--note", help="a note kept in the subscriber's history")
    q.add_argument("--actor", default=default_actor())
    q.set_defaults(func=cmd_unsubscribe)

    q = ssub.add_parser("count", help="number of subscribers by status")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_count)
