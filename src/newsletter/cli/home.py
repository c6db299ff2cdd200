"""``newsletter init DIR``: create a centre's home from the packaged IREV configuration."""

from __future__ import annotations

import argparse


def cmd_init(args) -> int:
    from newsletter.home import ARCHIVE_DIR, OUTBOX_DIR, SOURCES_DIR, TEMPLATES_DIR, init_home, packaged_templates

    result = init_home(args.dir, force=args.force)
    home = result.home
    verb = "mis à jour" if result.overwritten else "créé"
    print(f"Dossier du centre {verb} : {home}")
    for path in result.written:
        note = "  (remplacé par celui de l'IREV)" if path in result.overwritten else ""
        print(f"  {path.relative_to(home)}{note}")
    print(f"  {OUTBOX_DIR}/   (les brouillons en attente de validation)")
    print(f"  {ARCHIVE_DIR}/  (la version en ligne des lettres envoyées)")
    print()
    print("Et maintenant :")
    print(f"  1. {SOURCES_DIR}/branding.yaml : le nom, les couleurs, le logo, l'adresse et les liens de votre centre ;")
    print(f"  2. {SOURCES_DIR}/sources.yaml : remplacer les sites de l'IREV par les vôtres "
          "(vérifier chaque ligne « À VÉRIFIER ») ;")
    print(f"  3. {SOURCES_DIR}/taxonomy.yaml : les rubriques de la lettre, leurs mots-clés et hashtags ;")
    print(f"  le mode d'emploi de ces fichiers : {SOURCES_DIR}/README.md.")
    print(f"  Pour changer la mise en page, copier un gabarit de {packaged_templates()}")
    print(f"  dans {TEMPLATES_DIR}/ (même nom) et le modifier : il remplace celui fourni.")
    print()
    print("Essayer sur le site d'exemple, sans Internet :")
    print(f"  cd {home}")
    print("  newsletter sample-site --out site")
    print("  newsletter run --sources site/sources.yaml")
    print(f"Ensuite, depuis ce dossier (ou avec NEWSLETTER_HOME={home}) : newsletter run")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "init",
        help="create a centre's home (sources/, outbox/, archive/) from the packaged IREV configuration",
    )
    p.add_argument("dir", metavar="DIR", help="the home folder to create (may exist)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the configuration files of an existing home with IREV's (drafts, archive, database are kept)",
    )
    p.set_defaults(func=cmd_init)
