"""``newsletter users add|list|remove``: the review app's accounts (in the home's database)."""

from __future__ import annotations

import getpass
import sys


def _context():
    from newsletter.cli import settings_from_env, open_store

    return open_store(settings_from_env())


def _read_password(from_stdin: bool) -> str:
    from newsletter.cli import CommandError

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("aucun mot de passe lu sur l'entrée standard")
        return password
    if not sys.stdin.isatty():
        raise CommandError("pas de terminal pour saisir le mot de passe : utilisez --password-stdin")
    first = getpass.getpass("Mot de passe : ")
    if getpass.getpass("Mot de passe (encore) : ") != first:
        raise CommandError("les deux mots de passe diffèrent : rien n'a été fait")
    return first


def cmd_users_add(args) -> int:
    from newsletter.web.auth import add_user, check_email, check_name, check_password

    check_name(args.name)
    check_email(args.email)
    store = _context()
    password = _read_password(args.password_stdin)
    check_password(password)
    user = add_user(store, args.name, password, email=args.email)
    print(f"Compte « {user.name} » créé{f' ({user.email})' if user.email else ''}.")
    return 0


def cmd_users_list(args) -> int:
    from newsletter.cli.tables import print_table
    from newsletter.web.auth import list_users

    link_only = "  (connexion par lien seulement)"
    print_table([(u.name, (u.email or "—") + ("" if u.has_password else link_only)) for u in list_users(_context())],
                (24,), empty="Aucun compte. Créez-en un : newsletter users add NOM --email ADRESSE")
    return 0


def cmd_users_remove(args) -> int:
    from newsletter.web.auth import remove_user

    remove_user(_context(), args.name)
    print(f"Compte « {args.name} » supprimé.")
    return 0


def register(subparsers) -> None:
    from newsletter.cli import add_group

    sub = add_group(subparsers, "users", "accounts of the review web app: add, list, remove")
    q = sub.add_parser("add", help="create an account (password asked twice, or read from stdin)")
    q.add_argument("name", help="user name (letters, digits, . _ -)")
    q.add_argument("--email", help="the editor's address: where 'M'envoyer un BAT' sends the proof")
    q.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    q.set_defaults(func=cmd_users_add)
    q = sub.add_parser("list", help="list the accounts")
    q.set_defaults(func=cmd_users_list)
    q = sub.add_parser("remove", help="delete an account (its sessions end at their next request)")
    q.add_argument("name")
    q.set_defaults(func=cmd_users_remove)
