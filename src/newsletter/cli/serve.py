"""``newsletter serve``: the communications officer's review app (uvicorn)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_login_url(store, host: str, port: int, name: str | None = None) -> tuple[str, str, bool]:
    """A one-time login link for the local user: (url, account name, account created)."""
    from newsletter.cli import default_actor
    from newsletter.web.auth import add_user, create_login_token, get_user, list_users

    created = False
    if name is None:
        name = default_actor()
        if get_user(store, name) is None:
            accounts = list_users(store)
            if len(accounts) == 1:
                name = accounts[0].name
    if get_user(store, name) is None:
        add_user(store, name, None)  # link-only account for the person at this machine
        created = True
    token = create_login_token(store, name)
    shown = "127.0.0.1" if host in ("0.0.0.0", "localhost") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/login/link?token={token}", name, created


def cmd_serve(args) -> int:
    import uvicorn

    from newsletter.cli import CommandError, settings_from_env, open_store
    from newsletter.web.app import create_app

    settings = settings_from_env()
    store = open_store(settings)
    app = create_app(settings, store)
    if is_loopback(args.host) and not args.no_login_link:
        url, name, created = local_login_url(store, args.host, args.port, args.login_as)
        if created:
            print(f"Compte local « {name} » créé (connexion par lien seulement ; "
                  f"pour un mot de passe et un e-mail : newsletter users add).")
        print(f"Relecture de la lettre : http://{args.host}:{args.port}/")
        print(f"Lien de connexion pour « {name} » (valable une fois, 5 minutes) :")
        print(f"    {url}", flush=True)
    else:
        print(f"Relecture de la lettre : http://{args.host}:{args.port}/", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                    proxy_headers=bool(settings.public_url), forwarded_allow_ips="127.0.0.1")
    except OSError as exc:
        raise CommandError(f"impossible d'écouter sur {args.host}:{args.port} : {exc}") from None
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="run the review web app (drafts list, draft page, approval)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--login-as", metavar="NAME",
                   help="on 127.0.0.1: the account of the one-time login link (default: your user name)")
    p.add_argument("--no-login-link", action="store_true", help="on 127.0.0.1: print no one-time login link")
    p.set_defaults(func=cmd_serve)
