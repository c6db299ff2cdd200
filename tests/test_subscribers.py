"""Subscribers: CSV import from Mailchimp, Brevo and hand-made sheets; the CLI."""

from __future__ import annotations

import csv
import io
import json

import pytest

from newsletter.cli import main
from newsletter.deliver import subscribers as subs
from newsletter.settings import Settings
from newsletter.store import Store


@pytest.fixture
def store():
    return Store(Settings.from_env().database_url)


def test_mailchimp_export_with_report_per_line(tmp_path, store):
    f = tmp_path / "mailchimp.csv"
    f.write_text(
        "Email Address,First Name,Last Name,OPTIN_TIME\n"
        "marie.curie@example.org,Marie,Curie,2024-03-01 10:00:00\n"
        "pas-une-adresse,Jean,Bon,\n"
        "MARIE.CURIE@Example.org,Marie,C.,\n"
        "\n"
        ",Sans,Adresse,\n"
        "leo@example.org\n",
        encoding="utf-8",
    )
    report = subs.import_csv(store, f)
    by_line = {line.line: line for line in report.lines}
    assert by_line[2].outcome == "added"
    assert by_line[3].outcome == "skipped" and "adresse invalide" in by_line[3].reason
    assert by_line[4].outcome == "merged" and "doublon de la ligne 2" in by_line[4].reason
    assert by_line[6].outcome == "skipped" and "vide" in by_line[6].reason
    assert by_line[7].outcome == "added"
    assert report.counts() == {"added": 2, "merged": 1, "skipped": 2}
    marie = subs.get(store, "Marie.Curie@example.org")
    assert marie.name == "Marie Curie" and marie.consent_at.year == 2024
    assert marie.consent_source == "import mailchimp.csv"
    assert subs.count(store)["active"] == 2


def test_brevo_semicolon_export_and_hand_made_french_sheet(tmp_path, store):
    brevo = tmp_path / "brevo.csv"
    brevo.write_text("\ufeffEMAIL;PRENOM;NOM\nana@example.org;Ana;Lopez\nben@example.org;Ben;\n", encoding="utf-8")
    sheet = tmp_path / "contacts.csv"
    sheet.write_text("Nom complet,Adresse e-mail,Structure\nChloé Martin,chloe@example.org,Ville de Lille\n"
                     "Ana L.,ANA@example.org,\n", encoding="utf-8")
    assert subs.import_csv(store, brevo).counts() == {"added": 2, "merged": 0, "skipped": 0}
    report = subs.import_csv(store, sheet)
    assert report.counts() == {"added": 1, "merged": 1, "skipped": 0}
    assert subs.get(store, "ana@example.org").name == "Ana Lopez"  # a merge keeps the known name
    assert subs.get(store, "chloe@example.org").name == "Chloé Martin"


def test_missing_address_column_names_the_columns_found(tmp_path, store):
    f = tmp_path / "bad.csv"
    f.write_text("Nom,Téléphone\nX,0102\n", encoding="utf-8")
    with pytest.raises(subs.SubscriberError, match="pas de colonne d'adresse.*Nom, Téléphone"):
        subs.import_csv(store, f)


def test_reimport_never_reactivates_an_unsubscribed_or_bounced_address(tmp_path, store):
    a, _ = subs.add(store, "parti@example.org")
    b, _ = subs.add(store, "rebond@example.org")
    assert subs.change_status(store, a.id, subs.UNSUBSCRIBED, actor="test")
    assert subs.change_status(store, b.id, subs.BOUNCED, actor="test")
    f = tmp_path / "again.csv"
    f.write_text("email\nPARTI@example.org\nrebond@example.org\n", encoding="utf-8")
    report = subs.import_csv(store, f)
    assert [line.outcome for line in report.lines] == ["skipped", "skipped"]
    assert "désabonné" in report.lines[0].reason and "pas réabonné" in report.lines[0].reason
    assert subs.get(store, "parti@example.org").status == subs.UNSUBSCRIBED
    assert subs.get(store, "rebond@example.org").status == subs.BOUNCED
    # the guarded change refuses to move an unsubscribed address, and records nothing
    assert not subs.change_status(store, a.id, subs.UNSUBSCRIBED, actor="test")
    assert [e["to"] for e in subs.events(store, a.id)] == ["active", "unsubscribed"]


def test_cli_import_list_count_unsubscribe_export(tmp_path, capsys):
    f = tmp_path / "liste.csv"
    f.write_text("email,name\nana@example.org,Ana\nbad@\nben@example.org,Ben\n", encoding="utf-8")
    assert main(["subscribers", "import", str(f)]) == 0
    out = capsys.readouterr().out
    assert "ligne 3 : bad@ — ignoré" in out and "2 ajouté(s), 0 fusionné(s), 1 ignoré(s)" in out
    assert main(["subscribers", "unsubscribe", "ANA@example.org"]) == 0
    assert "désabonné" in capsys.readouterr().out
    assert main(["subscribers", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["email"], r["status"]) for r in rows] == [("ana@example.org", "unsubscribed"), ("ben@example.org", "active")]
    assert main(["subscribers", "count", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["active"] == 1
    assert main(["subscribers", "export"]) == 0
    exported = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["email"] for r in exported] == ["ana@example.org", "ben@example.org"]
    assert main(["subscribers", "unsubscribe", "nobody@example.org"]) == 2
    assert "aucun abonné" in capsys.readouterr().err


def test_cli_list_prints_one_aligned_line_per_subscriber(tmp_path, capsys):
    assert main(["subscribers", "list"]) == 0
    assert capsys.readouterr().out == "Aucun abonné.\n"
    assert main(["subscribers", "add", "ana@example.org", "--name", "Ana"]) == 0
    assert main(["subscribers", "add", "ben@example.org"]) == 0
    assert main(["subscribers", "unsubscribe", "ben@example.org"]) == 0
    capsys.readouterr()
    assert main(["subscribers", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "ADRESSE" + " " * 34 + "STATUT" + " " * 21 + "NOM",
        "ana@example.org" + " " * 26 + "abonné" + " " * 21 + "Ana",
        "ben@example.org" + " " * 26 + "désabonné" + " " * 18,
    ]


def test_cli_send_prints_the_summary(monkeypatch, tmp_path, capsys):
    from deliverytools import approved_draft, delivery_env

    delivery_env(monkeypatch)
    settings = Settings.from_env()
    store = Store(settings.database_url)
    subs.add(store, "ana@example.org")
    draft = approved_draft(settings.outbox, store)
    assert main(["outbox", "send", draft.id]) == 0
    out = capsys.readouterr().out
    assert "Envoyés : 1, ignorés : 0, en échec : 0, incertains : 0 (sur 1)" in out
    assert main(["outbox", "send", draft.id]) == 2
    assert "impossible" in capsys.readouterr().err
