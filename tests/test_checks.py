"""Pre-send checks: each one failing names its culprits in French; links only to 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import date

from checktools import links_ok
from httpserver import free_port

from newsletter import USER_AGENT
from newsletter.cli import main
from newsletter.models import Issue, Item
from newsletter.outbox.checks import (
    CHECK_ORDER,
    ChecksReport,
    LinkChecker,
    last_checks,
    run_checks,
)
from newsletter.outbox.drafts import create_draft
from newsletter.settings import Settings

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def html_page(links: list[str] | None = None, extra: str = "", logo: str | None = None) -> str:
    links = links or ["https://127.0.0.1:9/article"]
    items = "".join(f'<div class="nl-item"><p class="nl-item-title"><a href="{u}">Élément {i}</a></p></div>'
                    for i, u in enumerate(links))
    return (
        '<!doctype html><html lang="fr"><head><title>La lettre</title>'
        "<style>a { color: #0b5394; } .x{y}</style></head><body>"
        f'<div class="nl-section-news"><h2 class="nl-h2">Actualités</h2>'
        f'<h3 class="nl-h3">Rénovation urbaine</h3>{items}</div>'
        + (f'<img src="{logo}" alt="IREV">' if logo else "")
        + f"{extra}"
        '<p class="nl-footer"><a href="mailto:contact@irev.fr">contact@irev.fr</a> '
        '<a class="nl-unsub" href="{{unsubscribe_url}}">Se désinscrire de la lettre</a></p>'
        "</body></html>"
    )


def text_part(links: list[str], extra: str = "") -> str:
    lines = "\n".join(f"* Élément {i}\n  {u}\n" for i, u in enumerate(links))
    return f"LA LETTRE\n\nACTUALITÉS\n==========\n\n{lines}\n{extra}\nSe désinscrire : {{{{unsubscribe_url}}}}\n"


def make_draft(settings, store, *, html: str, text: str = "Bonjour\n", subject: str = "La lettre de l'IREV",
               social: list | None = None, issue: Issue | None = None):
    files = {"newsletter.html": html, "newsletter.txt": text, "social.json": json.dumps(social or [])}
    if issue is not None:
        files["issue.json"] = json.dumps(issue.to_dict())
    return create_draft(
        settings.outbox, store, month=date(2026, 12, 1), files=files,
        manifest={"subject": subject, "unsubscribe": "{{unsubscribe_url}}"},
    )


def check(settings, store, draft, name, **kw):
    report = run_checks(draft, settings, store=store, link_checker=kw.pop("link_checker", links_ok), **kw)
    return report, report.get(name)


# ---------------------------------------------------------------- a clean draft


def test_a_clean_draft_passes_every_check(server, settings, store):
    urls = [server.add("/a", "ok"), server.add("/b", "ok", head=True)]
    html = html_page(urls, logo=server.add("/logo.png", b"png"))
    draft = make_draft(settings, store, html=html, text=text_part(urls),
                       social=[{"platform": "x", "text": "Nouvelle lettre " + urls[0]}])
    report = run_checks(draft, settings, store=store)
    assert [r.name for r in report.results] == list(CHECK_ORDER)
    assert report.ok, report.lines_fr()
    assert report.get("links").label == "Tous les liens répondent (3 liens vérifiés)"
    assert report.get("size").label.startswith("HTML de 1 Ko, sous la limite de 102 Ko")
    # the declared unsubscribe placeholder is not a leftover: the sending fills it in
    assert report.get("placeholders").ok
    assert report.get("spam").skipped_reason == "contrôle désactivé (NEWSLETTER_SPAMASSASSIN=off)"


# ---------------------------------------------------------------- links


def test_broken_links_are_named_with_their_status(server, settings, store):
    good = server.add("/page", "ok")
    gone = server.add("/gone", "non", status=404)
    boom = server.add("/boom", "erreur", status=500)
    moved = server.add("/moved", redirect_to=server.url("/gone"), status=301)
    moved_ok = server.add("/moved-ok", redirect_to=server.url("/page"), status=302)
    slow = server.add("/slow", "lent", delay=5.0)
    closed = f"http://127.0.0.1:{free_port()}/rien"
    urls = [good, gone, boom, moved, moved_ok, slow, closed]
    draft = make_draft(settings, store, html=html_page(urls))
    report, links = check(settings, store, draft, "links", link_checker=LinkChecker(store, timeout=2))
    assert not report.ok and not links.ok
    assert links.label == "5 liens ne répondent pas sur 7"
    assert sorted(links.culprits) == sorted([gone, boom, moved, slow, closed])
    details = "\n".join(links.details)
    assert f"{gone} : erreur 404 (page introuvable)" in details
    assert f"{boom} : erreur 500 (erreur du serveur)" in details
    assert f"{moved} : erreur 404 (page introuvable) (après redirection vers {gone})" in details
    assert f"{slow} : pas de réponse en 2 s" in details
    assert f"{closed} : injoignable (connexion impossible)" in details
    assert good not in details and moved_ok not in details


def test_an_unreachable_site_is_reported_honestly(settings, store):
    # www.irev.fr cannot be reached from the tests: the check says "injoignable", never "ok".
    urls = [f"https://www.irev.fr/actualites/{n}" for n in range(5)]
    draft = make_draft(settings, store, html=html_page(urls))
    _, links = check(settings, store, draft, "links", link_checker=LinkChecker(store, timeout=2))
    assert not links.ok and sorted(links.culprits) == sorted(urls)
    assert all(": injoignable (" in d for d in links.details)


def test_head_first_then_get_when_head_is_refused_with_a_robots_friendly_user_agent(server, store):
    headed = server.add("/headed", "ok", head=True)
    no_head = server.add("/no-head", "ok")  # answers HEAD with 501

    def refuse_head(req):
        return (405, {}, b"") if req.method == "HEAD" else (200, {}, b"ok")

    server.add("/refuses-head", handler=refuse_head)
    refused = server.url("/refuses-head")
    result = LinkChecker(store)([headed, no_head, refused])
    assert all(s.ok for s in result.values())
    assert [r.method for r in server.hits("/headed")] == ["HEAD"]
    assert [r.method for r in server.hits("/no-head")] == ["HEAD", "GET"]
    assert [r.method for r in server.hits("/refuses-head")] == ["HEAD", "GET"]
    assert {r.headers["user-agent"] for r in server.requests} == {USER_AGENT}
    assert "+https://" in USER_AGENT  # says who is asking and where to read about it


def test_links_that_answered_are_cached_failures_are_not(server, store):
    good = server.add("/good", "ok", head=True)
    bad = server.add("/bad", "non", status=404)
    LinkChecker(store, cache_hours=6)([good, bad])
    again = LinkChecker(store, cache_hours=6)([good, bad])
    assert again[good].ok and again[good].from_cache
    assert not again[bad].ok and not again[bad].from_cache
    assert len(server.hits("/good")) == 1  # answered once, cached since
    assert len(server.hits("/bad")) == 4  # HEAD + GET, twice: a failure is always checked again
    LinkChecker(store, cache_hours=0)([good])
    assert len(server.hits("/good")) == 2  # no cache: fetched again


def test_concurrency_is_bounded_per_host(server, store):
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def slow(req):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.2)
        with lock:
            state["now"] -= 1
        return 200, {}, b"ok"

    urls = []
    for n in range(6):
        server.add(f"/p{n}", handler=slow)
        urls.append(server.url(f"/p{n}"))
    started = time.monotonic()
    result = LinkChecker(store, max_workers=8, per_host=2)(urls)
    assert all(s.ok for s in result.values())
    assert state["max"] == 2
    assert time.monotonic() - started >= 0.55  # 6 links, 2 at a time, 0.2 s each


# ---------------------------------------------------------------- size


def test_html_over_the_gmail_budget_fails(settings, store):
    filler = "<p>" + "Politique de la ville. " * 60 + "</p>"
    html = html_page([], extra=filler * 80)
    assert len(html.encode()) > 102_000
    draft = make_draft(settings, store, html=html)
    report, size = check(settings, store, draft, "size")
    assert not size.ok and not report.ok
    assert size.label.startswith("HTML trop lourd : ") and "Gmail tronque les messages au-delà de 102 Ko" in size.label
    assert "retirez environ" in size.details[0]


# ---------------------------------------------------------------- empty sections


def test_empty_sections_are_named(settings, store):
    html = html_page(["https://127.0.0.1:9/x"], extra=(
        '<div class="nl-section-agenda"><h2 class="nl-h2">Agenda</h2></div>'
        '<div class="nl-section-press"><h2 class="nl-h2">Revue de presse</h2><h3 class="nl-h3">Presse</h3></div>'
    ))
    text = "ACTUALITÉS\n==========\n\n* Élément\n\nAGENDA\n======\n\nRESSOURCES\n==========\n\n* Guide\n"
    draft = make_draft(settings, store, html=html, text=text, issue=Issue(month=date(2026, 12, 1), today=date(2026, 12, 1)))
    _, empty = check(settings, store, draft, "empty_sections")
    assert not empty.ok
    assert "la section « Agenda » est vide (newsletter.html)" in empty.details
    assert "la rubrique « Presse » n'a aucun élément (newsletter.html)" in empty.details
    assert "la section « AGENDA » est vide (newsletter.txt, ligne 6)" in empty.details
    assert "la lettre ne contient aucun élément : ni à la une, ni agenda, ni actualité" in empty.details
    assert not any("Actualités" in d or "RESSOURCES" in d for d in empty.details)


# ---------------------------------------------------------------- placeholders


def test_unresolved_placeholders_are_named(settings, store):
    html = html_page([], extra="<p>Bonjour {{ prenom }}, {% if x %}oui{% endif %} *|FNAME|*</p><p>[[lien_agenda]]</p>")
    text = "Bonjour {email},\n\nÀ bientôt %%NOM%%\n"
    social = [{"platform": "linkedin", "text": "Lisez la lettre ${url}"}]
    draft = make_draft(settings, store, html=html, text=text, subject="Lettre de {{ mois }}", social=social)
    _, ph = check(settings, store, draft, "placeholders")
    assert not ph.ok
    assert ph.label == "9 champs non remplacés", ph.details
    details = "\n".join(ph.details)
    for expected in ("« {{ mois }} » dans l'objet", "« {{ prenom }} » dans newsletter.html, ligne 1",
                     "« {% if x %} »", "« *|FNAME|* »", "« [[lien_agenda]] »",
                     "« {email} » dans newsletter.txt, ligne 1", "« %%NOM%% » dans newsletter.txt, ligne 3",
                     "« ${url} » dans le post linkedin (social.json)"):
        assert expected in details
    # neither the CSS braces of <style> nor the declared unsubscribe placeholder
    assert "{y}" not in details and "unsubscribe_url" not in details


# ---------------------------------------------------------------- schemes


def test_links_must_be_http_or_mailto_in_html_and_text(settings, store):
    html = html_page([], extra=(
        '<p><a href="javascript:alert(1)">Cliquez</a> <a href="ics/rdv.ics">Agenda</a> <a href="#edito">Édito</a>'
        ' <a href="mailto:contact@irev.fr">Écrire</a> <a href="https://www.irev.fr/">Site</a></p>'
        '<img src="data:image/png;base64,AAAA" alt="pixel">'
    ))
    text = "Site : https://www.irev.fr/\nFichiers : ftp://ftp.irev.fr/lettre.pdf\nAppelez tel:+33320000000\n"
    draft = make_draft(settings, store, html=html, text=text)
    _, schemes = check(settings, store, draft, "schemes")
    assert not schemes.ok
    details = "\n".join(schemes.details)
    assert "javascript:alert(1) (newsletter.html, lien « Cliquez ») : adresse « javascript: » non autorisée" in details
    assert "ics/rdv.ics (newsletter.html, lien « Agenda ») : lien relatif" in details
    assert "#edito (newsletter.html, lien « Édito ») : lien relatif" in details
    assert "data:image/png;base64,AAAA (newsletter.html, <img src>)" in details
    assert "ftp://ftp.irev.fr/lettre.pdf (newsletter.txt, ligne 2)" in details
    assert "tel:+33320000000 (newsletter.txt, ligne 3)" in details
    assert "mailto:" not in details and "https://www.irev.fr/ " not in details
    assert schemes.label == "6 liens ne sont pas en http(s) ou mailto"


# ---------------------------------------------------------------- alt text


def test_every_image_needs_alt_text_unless_marked_decorative(settings, store):
    html = html_page([], extra=(
        '<img src="https://127.0.0.1:9/a.png">'
        '<img src="https://127.0.0.1:9/b.png" alt="  ">'
        '<img src="https://127.0.0.1:9/spacer.gif" alt="" role="presentation">'
        '<img src="https://127.0.0.1:9/c.png" alt="Atelier à Roubaix">'
    ))
    draft = make_draft(settings, store, html=html)
    _, alt = check(settings, store, draft, "alt_text")
    assert not alt.ok and alt.label == "2 images sans texte alternatif"
    assert alt.culprits == ["https://127.0.0.1:9/a.png", "https://127.0.0.1:9/b.png"]
    assert "l'image https://127.0.0.1:9/a.png n'a pas de texte alternatif (attribut alt)" in alt.details
    assert 'marquez-la décorative (role="presentation")' in alt.details[1]


# ---------------------------------------------------------------- social


def test_a_social_post_over_its_platform_limit_fails(settings, store):
    social = [
        {"platform": "x", "text": "Lettre de décembre : " + "quartiers " * 30},
        {"platform": "mastodon", "text": "Lettre de décembre"},
    ]
    draft = make_draft(settings, store, html=html_page(), social=social)
    _, posts = check(settings, store, draft, "social")
    assert not posts.ok and posts.label == "1 post trop long"
    assert posts.details[0].startswith("post X n° 1 « Lettre de décembre : quartiers quartiers")
    assert posts.details[0].endswith(": 321 caractères pour 280 autorisés")


# ---------------------------------------------------------------- spam


def test_spam_score_is_measured_by_spamassassin(settings, store, monkeypatch):
    assert shutil.which("spamassassin"), "SpamAssassin must be installed (Debian package spamassassin; .ci/run installs it)"
    monkeypatch.setenv("NEWSLETTER_SPAMASSASSIN", "spamassassin")
    settings = Settings.from_env()
    clean = make_draft(settings, store, html=html_page(), text="Bonjour,\n\nVoici la lettre de décembre.\n")
    _, spam = check(settings, store, clean, "spam")
    assert spam.ok and not spam.skipped
    assert spam.label.startswith("Score de spam : ") and spam.label.endswith("(seuil 5,0)")

    spammy = make_draft(settings, store, html=html_page([], extra=f"<p>{GTUBE}</p>"), text=f"Offre\n\n{GTUBE}\n")
    report, spam = check(settings, store, spammy, "spam")
    assert not spam.ok and not report.ok
    assert spam.label.startswith("Score de spam trop élevé : 1")
    assert any(d.startswith("GTUBE (+1") for d in spam.details)


def test_without_spamassassin_the_spam_check_is_skipped_not_failed(settings, store, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_SPAMASSASSIN", "/nonexistent/spamassassin")
    settings = Settings.from_env()
    draft = make_draft(settings, store, html=html_page())
    report, spam = check(settings, store, draft, "spam")
    assert spam.ok and spam.skipped_reason == "SpamAssassin non installé"
    assert report.ok
    assert "–  Score de spam non mesuré (SpamAssassin non installé)" in report.lines_fr()


# ---------------------------------------------------------------- report, storage, CLI


def test_the_report_round_trips_and_the_last_one_is_stored(settings, store):
    draft = make_draft(settings, store, html=html_page([], extra='<img src="https://127.0.0.1:9/a.png">'))
    report = run_checks(draft, settings, store=store, link_checker=links_ok)
    again = ChecksReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.to_dict() == report.to_dict()
    assert [r.name for r in again.failed] == ["alt_text"]
    stage, stored = last_checks(store, draft.id)
    assert stage == "check" and stored.to_dict() == report.to_dict()


def test_cli_check_prints_the_french_report_and_exits_1_on_failure(server, settings, store, capsys):
    ok_url = server.add("/ok", "ok")
    good = make_draft(settings, store, html=html_page([ok_url], logo=ok_url))
    assert main(["outbox", "check", good.id]) == 0
    out = capsys.readouterr().out
    assert "tous les contrôles sont passés" in out and "✓  Tous les liens répondent (1 lien vérifié)" in out
    bad = make_draft(settings, store, html=html_page([server.add("/gone", status=404)], logo="https://127.0.0.1:9/logo.png"))
    assert main(["outbox", "check", bad.id]) == 1
    out = capsys.readouterr().out
    assert "✗  2 liens ne répondent pas sur 2" in out and "erreur 404 (page introuvable)" in out
    assert main(["outbox", "check", bad.id, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False
    assert main(["outbox", "show", bad.id]) == 0
    assert "Contrôles avant envoi (" in capsys.readouterr().out
