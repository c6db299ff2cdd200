"""French event text -> dates, hours, deadlines and places, as announced on IREV pages."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from newsletter.collect.frdates import (
    EventWhen,
    fold,
    parse_date,
    parse_deadline,
    parse_event_when,
    parse_hours,
    parse_places,
)

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2024, 11, 20)  # a fortnight before the seed's qualification day


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=PARIS)


def day(y, m, d):
    return EventWhen(at(y, m, d), None, True)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Vendredi 5 décembre 2025", day(2025, 12, 5)),
        ("le 05/12/2025", day(2025, 12, 5)),
        ("5 déc. 2025", day(2025, 12, 5)),
        ("5 DÉCEMBRE 2025", day(2025, 12, 5)),
        ("5 decembre 2025", day(2025, 12, 5)),
        ("Journée de qualification prévue le 5 décembre 2024", day(2024, 12, 5)),
        ("1er décembre", day(2024, 12, 1)),
        ("le 5 décembre", day(2024, 12, 5)),
        ("2025-01-16", day(2025, 1, 16)),
        ("Dates : Vendredi 25 octobre 2024 - 16:15", EventWhen(at(2024, 10, 25, 16, 15), None, False)),
        ("du 3 au 5 juin", EventWhen(at(2025, 6, 3), at(2025, 6, 5), True)),
        ("du 30 juin au 2 juillet 2026", EventWhen(at(2026, 6, 30), at(2026, 7, 2), True)),
        ("Du 28 décembre au 3 janvier 2025", EventWhen(at(2024, 12, 28), at(2025, 1, 3), True)),
        ("du 03/06/2025 au 05/06/2025", EventWhen(at(2025, 6, 3), at(2025, 6, 5), True)),
        ("les 3 et 4 juin 2025", EventWhen(at(2025, 6, 3), at(2025, 6, 4), True)),
        ("le 5 décembre 2024 de 14h à 15h", EventWhen(at(2024, 12, 5, 14), at(2024, 12, 5, 15), False)),
        ("5 décembre 2024, 14h-15h30", EventWhen(at(2024, 12, 5, 14), at(2024, 12, 5, 15, 30), False)),
        ("le 5 décembre 2024 de 9h à midi", EventWhen(at(2024, 12, 5, 9), at(2024, 12, 5, 12), False)),
        (
            "du 3 au 5 juin 2025, de 9h30 à 17h",
            EventWhen(at(2025, 6, 3, 9, 30), at(2025, 6, 5, 17), False),
        ),
    ],
)
def test_event_when_forms(text, expected):
    assert parse_event_when(text, today=TODAY) == expected


@pytest.mark.parametrize(
    "hours",
    ["9H30-12H30 / 13H30-16H15", "9H30-12H30-13H30-16H15", "9h30 – 12h30 et 13h30 – 16h15"],
)
def test_hours_combined_with_a_date_found_elsewhere(hours):
    text = f"Journée de qualification prévue le 5 décembre 2024. Dans les locaux de l'IREV à Lille. Aux horaires suivants {hours}"
    assert parse_event_when(text, today=TODAY) == EventWhen(
        at(2024, 12, 5, 9, 30), at(2024, 12, 5, 16, 15), False
    )


def test_datetimes_are_in_paris_time_with_summer_and_winter_offsets():
    winter = parse_event_when("5 décembre 2024 à 10h", today=TODAY).start
    summer = parse_event_when("5 juin 2025 à 10h", today=TODAY).start
    assert winter.utcoffset().total_seconds() == 3600
    assert summer.utcoffset().total_seconds() == 7200


def test_weekday_inconsistent_with_the_date_is_ignored():
    # 5 December 2024 is a Thursday, not a Monday: the date is kept.
    assert parse_event_when("Lundi 5 décembre 2024", today=TODAY) == day(2024, 12, 5)


def test_first_date_with_a_year_wins_over_an_earlier_yearless_mention():
    text = "Le 3 décembre, rappel. Rendez-vous le 5 décembre 2025 à Lille."
    assert parse_event_when(text, today=TODAY).start == at(2025, 12, 5)


@pytest.mark.parametrize(
    "today, text, expected",
    [
        (date(2024, 11, 20), "le 5 décembre", date(2024, 12, 5)),  # later this year
        (date(2024, 11, 20), "le 15 janvier", date(2025, 1, 15)),  # early next year
        (date(2024, 11, 20), "le 1er novembre", date(2024, 11, 1)),  # just past: within the 30-day grace
        (date(2024, 11, 20), "le 10 octobre", date(2025, 10, 10)),  # past the grace: next year
        (date(2025, 1, 10), "le 20 décembre", date(2024, 12, 20)),  # last month, still within grace
        (date(2024, 11, 20), "le 29 février", date(2028, 2, 29)),  # next leap year
    ],
)
def test_year_inference(today, text, expected):
    assert parse_event_when(text, today=today).start.date() == expected


def test_publication_dates_infer_the_latest_past_year():
    assert parse_date("Publié le 5 décembre", today=date(2024, 11, 20), past=True) == date(2023, 12, 5)
    assert parse_date("Publié le 5 novembre", today=date(2024, 11, 20), past=True) == date(2024, 11, 5)


@pytest.mark.parametrize("text", ["", "Ouvert à tous", "135 bd Painlevé à Lille", "le 31 février 2025"])
def test_no_date_gives_none(text):
    assert parse_event_when(text, today=TODAY) is None


def test_hours_alone_need_a_date():
    assert parse_event_when("de 14h à 15h", today=TODAY) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("9H30-12H30 / 13H30-16H15", [(time(9, 30), time(12, 30)), (time(13, 30), time(16, 15))]),
        ("9H30-12H30-13H30-16H15", [(time(9, 30), time(12, 30)), (time(13, 30), time(16, 15))]),
        ("de 14h à 15h", [(time(14), time(15))]),
        ("14h-15h30", [(time(14), time(15, 30))]),
        ("de 9 heures à 12 heures", [(time(9), time(12))]),
        ("de 10:00 à 12:30", [(time(10), time(12, 30))]),
        ("à 14h, pour 10 habitants", []),  # a lone time is not a range; "10 h(abitants)" is no time
        ("tél. 06 77 64 63 95", []),
    ],
)
def test_parse_hours(text, expected):
    assert parse_hours(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("inscription avant le 3 juin", at(2025, 6, 3, 23, 59)),
        ("Inscriptions jusqu'au 28 novembre", at(2024, 11, 28, 23, 59)),
        ("Inscriptions jusqu’au 28 novembre", at(2024, 11, 28, 23, 59)),
        ("date limite d'inscription : 02/12/2024", at(2024, 12, 2, 23, 59)),
        ("DATE LIMITE D’INSCRIPTION : 02/12/2024", at(2024, 12, 2, 23, 59)),
        ("Inscriptions jusqu'au 1er décembre à 12h", at(2024, 12, 1, 12)),
    ],
)
def test_parse_deadline(text, expected):
    assert parse_deadline(text, today=TODAY) == expected


def test_deadline_in_long_text_needs_a_registration_word():
    exhibition = (
        "L'exposition photographique sur les quartiers populaires reste visible jusqu'au 30 juin"
        " dans le hall de l'IREV, à Lille, aux heures d'ouverture."
    )
    assert parse_deadline(exhibition, today=TODAY) is None
    with_registration = exhibition + " Pour la visite guidée, inscription obligatoire avant le 15 décembre."
    assert parse_deadline(with_registration, today=TODAY) == at(2024, 12, 15, 23, 59)


def test_no_deadline():
    assert parse_deadline("Inscriptions ici", today=TODAY) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("nombre de places limité (20)", (True, 20)),
        ("Attention, nombre de places limité (20)", (True, 20)),
        ("ATTENTION, NOMBRE DE PLACES LIMITÉ (20)", (True, 20)),
        ("20 places", (True, 20)),
        ("Places limitées à 30 participants", (True, 30)),
        ("places limitées", (True, None)),
        ("dans la limite des places disponibles", (True, None)),
        ("Entrée libre, ouvert à tous", (False, None)),
        ("", (False, None)),
    ],
)
def test_parse_places(text, expected):
    assert parse_places(text) == expected


def test_fold_unifies_case_accents_apostrophes_and_spaces():
    assert fold("Jusqu’AU 5\u00a0DÉCEMBRE – 9H") == "jusqu'au 5 decembre - 9h"
