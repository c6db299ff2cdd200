"""Canonical URLs: the same page under different links counts as one."""

from __future__ import annotations

import pytest

from newsletter.urls import TRACKING_PARAMS, canonical_url


def test_host_case_www_and_scheme_are_normalised():
    assert canonical_url("HTTP://WWW.IREV.fr/actualites/") == "https://irev.fr/actualites"
    assert canonical_url("https://irev.fr/actualites") == "https://irev.fr/actualites"


def test_tracking_parameters_removed_and_query_sorted():
    url = (
        "https://www.lemonde.fr/societe/article/quartiers.html?utm_source=rss&b=2"
        "&fbclid=XYZ&a=1&xtor=RSS-3208&gclid=1&mc_cid=abc&mc_eid=def&UTM_Medium=x"
    )
    assert canonical_url(url) == "https://lemonde.fr/societe/article/quartiers.html?a=1&b=2"
    assert {"fbclid", "gclid", "mc_cid", "mc_eid", "xtor"} <= TRACKING_PARAMS


def test_same_article_from_two_press_feeds_gets_one_key():
    a = "https://www.example-presse.fr/article/cites-educatives?utm_source=flux&utm_campaign=veille#comments"
    b = "http://example-presse.fr/article/cites-educatives/?xtor=RSS-1"
    assert canonical_url(a) == canonical_url(b) == "https://example-presse.fr/article/cites-educatives"


def test_meaningful_parameters_are_kept():
    assert canonical_url("https://irev.fr/agenda?page=2&id=7") == "https://irev.fr/agenda?id=7&page=2"
    assert canonical_url("https://irev.fr/agenda?page=2") != canonical_url("https://irev.fr/agenda?page=3")


def test_page_canonical_wins_so_node_and_alias_match():
    alias = "https://www.irev.fr/thematiques/discriminations-egalite/qualification-engagements-quartiers-2030"
    assert canonical_url("https://irev.fr/node/1234", page_canonical=alias) == canonical_url(alias)
    # a relative canonical link is resolved against the page address
    assert canonical_url("https://irev.fr/node/1234", page_canonical="/actualites/ag-2024") == (
        "https://irev.fr/actualites/ag-2024"
    )


def test_accented_path_has_one_form_and_fragment_dropped():
    a = canonical_url("https://irev.fr/égalité-femmes-hommes#haut")
    b = canonical_url("https://irev.fr/%C3%A9galit%C3%A9-femmes-hommes")
    c = canonical_url("https://irev.fr/%c3%a9galit%c3%a9-femmes-hommes")
    assert a == b == c


def test_root_default_port_and_double_slashes():
    assert canonical_url("https://irev.fr") == "https://irev.fr/"
    assert canonical_url("https://irev.fr:443//ressources//guide/") == "https://irev.fr/ressources/guide"
    assert canonical_url("http://127.0.0.1:8080/a") == "https://127.0.0.1:8080/a"


def test_non_http_urls_kept_without_fragment():
    assert canonical_url("/tmp/site/agenda.html#e1") == "/tmp/site/agenda.html"
    assert canonical_url("mailto:contact@irev.fr") == "mailto:contact@irev.fr"


@pytest.mark.parametrize("bad", ["", "   ", "https:///chemin"])
def test_bad_url_raises_naming_it(bad):
    with pytest.raises(ValueError, match="canonical_url"):
        canonical_url(bad)


def test_credentials_ipv6_and_bad_port():
    assert canonical_url("https://user:pw@WWW.Irev.fr/a") == "https://irev.fr/a"
    assert canonical_url("http://[::1]:8080/a/") == "https://[::1]:8080/a"
    with pytest.raises(ValueError, match="invalid port"):
        canonical_url("https://irev.fr:99999/a")


def test_strip_tracking_keeps_the_link_working():
    from newsletter.urls import strip_tracking

    url = "https://www.Gazette.example/Article-12?page=2&utm_source=google&xtor=RSS-21&id=7#suite"
    assert strip_tracking(url) == "https://www.Gazette.example/Article-12?page=2&id=7#suite"
    assert strip_tracking("https://www.irev.fr/a?b=1") == "https://www.irev.fr/a?b=1"
    assert strip_tracking("http://x.example/[broken") == "http://x.example/[broken"


def test_the_fast_path_gives_what_the_general_path_gives():
    # dedupe canonicalises 100k URLs through a string-method fast path (a
    # query of tracking parameters only included); a fragment ("#") sends the
    # same URL through urllib: the same form either way
    urls = [
        "https://WWW.Irev.FR/actualités/été-2026/", "http://irev.fr//a//b//", "https://irev.fr",
        "https://irev.fr./x", "HTTPS://www.www.irev.fr/x~y_z-1.html", "https://irev.fr/a\"b<c>{d}|e^f[g]`h",
        "https://irev.fr/日本/ü/œ/’", "https://irev.fr/a:b@c!d$e&f'g(h)i*j+k,l;m=n", "https://www./x",
        "http://irev.fr/espace\u00a0insécable", "https://irev.fr/zéro\u200blargeur",
    ]
    for url in urls:
        assert canonical_url(url) == canonical_url(url + "#"), url
        assert canonical_url(url + "?") == canonical_url(url + "?#"), url
        shared = url + "?utm_source=lettre&xtor=RSS-3&&fbclid"
        assert canonical_url(shared) == canonical_url(shared + "#") == canonical_url(url), url
        # an escaped or "+" name is unquoted by urllib first: the general path
        assert canonical_url(url + "?%75tm_x=1") == canonical_url(url), url
        assert canonical_url(url + "?a+b=1") == canonical_url(url + "?a+b=1#"), url
