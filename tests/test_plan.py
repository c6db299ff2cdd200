"""The month's posting plan (render/plan.py): working days, office hours, caps, events, edits."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest

from newsletter.models import Issue, Item
from newsletter.render.branding import BrandingError, ChannelPlan, Posting, load_branding
from newsletter.render.plan import (
    PlanEditError,
    add_post,
    apply_plan_edits,
    calendar,
    edit_post,
    is_working_day,
    move_post,
    plan_posts,
    remove_post,
)
from newsletter.render.social import LIMITS, platform_length, social_drafts

HERE = Path(__file__).resolve().parent
PARIS = ZoneInfo("Europe/Paris")
FR_HOLIDAYS = holidays.country_holidays("FR")
HASHTAGS = {"*": ["PolitiqueDeLaVille"], "discriminations": ["PreventionDiscriminations"]}


def load_issue() -> Issue:
    return Issue.from_dict(json.loads((HERE / "data" / "render_issue.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def branding():
    return load_branding()


def make_plan(issue, posting, send=date(2025, 12, 1), branding=None, **kw):
    branding = branding or load_branding()
    platforms = tuple(c.platform for c in posting.channels)
    drafts = social_drafts(issue, branding, HASHTAGS, platforms=platforms, reminders=True)
    return drafts, plan_posts(drafts, posting, send_date=send, **kw)


def when(post) -> datetime:
    return datetime.fromisoformat(post["scheduled_at"])


def assert_plan_keeps_the_rules(posts, posting: Posting):
    assert len({p["id"] for p in posts}) == len(posts)
    for post in posts:
        at = when(post)
        assert at.utcoffset() is not None and at.tzinfo is not None, post["scheduled_at"]
        assert at.utcoffset() == at.astimezone(PARIS).utcoffset()
        day = at.date()
        assert day.weekday() < 5 and day not in FR_HOLIDAYS, post["scheduled_at"]
        assert posting.office_start <= f"{at:%H:%M}" <= posting.office_end
        assert post["channel"] == post["platform"] and posting.channel(post["channel"]) is not None
        assert platform_length(post["text"], post["platform"]) <= LIMITS[post["platform"]]
        if post.get("before"):
            before = datetime.fromisoformat(post["before"])
            assert at < before
            if post["kind"] == "item":  # an event's own post: the day before it at the latest
                assert day < before.date()
        if post["kind"] in ("item", "reminder") and post["title"] and not post.get("edited"):
            assert post["title"][:40] in post["text"], post["text"]
    for channel in posting.channels:
        mine = sorted(when(p) for p in posts if p["channel"] == channel.platform)
        assert max(Counter(t.date() for t in mine).values(), default=0) <= channel.per_day
        assert max(Counter(t.isocalendar()[:2] for t in mine).values(), default=0) <= channel.per_week
        for a, b in zip(mine, mine[1:]):
            assert b - a >= timedelta(minutes=posting.min_gap_minutes)


def test_sample_month_plan_keeps_every_rule(branding):
    issue = load_issue()
    drafts, plan = make_plan(issue, branding.posting)
    assert_plan_keeps_the_rules(plan.posts, branding.posting)
    assert {p["channel"] for p in plan.posts} == {"linkedin", "x"}  # IREV's channels by default
    assert 10 <= len(plan.posts) <= 50  # a plan, not every item on every platform
    for channel in ("linkedin", "x"):
        (ann,) = [p for p in plan.posts if p["channel"] == channel and p["kind"] == "announcement"]
        assert when(ann).date() == date(2025, 12, 1)  # on the send day
        # One post per event of the period, about two weeks before (never before the send day).
        events = [p for p in plan.posts if p["channel"] == channel and p["item_kind"] == "event" and p["kind"] == "item"]
        assert len({p["item_url"] for p in events}) == len(events)
        jan13 = next(p for p in events if p["before"].startswith("2026-01-13"))
        assert abs((datetime.fromisoformat(jan13["before"]).date() - when(jan13).date()).days - 14) <= 2
        # The reminder: the event with a deadline and limited places, a few days before its deadline.
        (reminder,) = [p for p in plan.posts if p["channel"] == channel and p["kind"] == "reminder"]
        deadline = datetime.fromisoformat(reminder["before"])
        assert 0 < (deadline.date() - when(reminder).date()).days <= 5
        assert "Derniers jours pour s'inscrire" in reminder["text"]
        # Featured items and resources are spread, not bunched.
        spread = sorted(when(p).date() for p in plan.posts if p["channel"] == channel and not p.get("before")
                        and p["kind"] == "item")
        assert len(spread) >= 6 and (spread[-1] - spread[0]).days >= 14
    # Events after the plan's period wait for the next letter; non-featured articles are not candidates.
    reasons = Counter(p["reason"] for p in plan.left_out)
    assert reasons["next_letter"] == 8 and reasons["not_candidate"] > 0
    assert all(p["reason_label"] for p in plan.left_out)


def test_weekends_holidays_and_send_day_on_a_saturday():
    # Christmas week: 25 December is a public holiday; the send day is a Saturday.
    issue = load_issue()
    posting = Posting(channels=[ChannelPlan("linkedin", per_day=1, per_week=5)])
    _, plan = make_plan(issue, posting, send=date(2025, 12, 20))
    assert_plan_keeps_the_rules(plan.posts, posting)
    ann = next(p for p in plan.posts if p["kind"] == "announcement")
    assert when(ann).date() == date(2025, 12, 22)  # the next working day
    assert not any(when(p).date() == date(2025, 12, 25) for p in plan.posts)
    assert not is_working_day(date(2025, 12, 25)) and not is_working_day(date(2026, 1, 1))
    assert not is_working_day(date(2025, 12, 27)) and is_working_day(date(2025, 12, 26))


def test_tight_caps_leave_candidates_out_and_say_so():
    issue = load_issue()
    posting = Posting(channels=[ChannelPlan("linkedin", per_day=1, per_week=2), ChannelPlan("x", per_day=1, per_week=1)])
    drafts, plan = make_plan(issue, posting)
    assert_plan_keeps_the_rules(plan.posts, posting)
    no_room = [p for p in plan.left_out if p["reason"] == "no_room"]
    assert no_room and {p["channel"] for p in no_room} == {"linkedin", "x"}
    assert all("plus de place" in p["reason_label"] for p in no_room)
    # Every candidate is either planned or listed as left out, never lost.
    planned = {p["id"] for p in plan.posts} | {p["id"] for p in plan.left_out}
    assert planned == {d["id"] for d in drafts}
    # The letter's announcement and the soonest event take their place first.
    assert any(p["kind"] == "announcement" for p in plan.posts if p["channel"] == "x")
    linkedin = [p for p in plan.posts if p["channel"] == "linkedin"]
    assert any(p["item_kind"] == "event" and p["before"].startswith("2025-12-05") for p in linkedin)


def test_event_too_close_is_placed_before_it_or_left_out():
    event = Item(kind="event", title="Atelier demain matin : la gestion urbaine et sociale de proximité",
                 url="https://www.irev.fr/agenda/atelier", start=datetime(2025, 12, 2, 9, 30, tzinfo=PARIS))
    issue = Issue(month=date(2025, 12, 1), today=date(2025, 12, 1), agenda=[event])
    one = Posting(channels=[ChannelPlan("linkedin", per_day=1)])
    _, plan = make_plan(issue, one)
    assert [p["kind"] for p in plan.posts] == ["announcement"]
    (left,) = [p for p in plan.left_out if p["item_kind"] == "event"]
    assert left["reason"] == "no_room"
    two = Posting(channels=[ChannelPlan("linkedin", per_day=2, times=["10:00", "14:30"])])
    _, plan = make_plan(issue, two)
    event_post = next(p for p in plan.posts if p["kind"] == "item")
    assert when(event_post) == datetime(2025, 12, 1, 14, 30, tzinfo=PARIS)
    assert_plan_keeps_the_rules(plan.posts, two)


def test_reminder_only_with_deadline_and_limited_places(branding):
    start = datetime(2025, 12, 18, 9, 0, tzinfo=PARIS)
    deadline = datetime(2025, 12, 12, 12, 0, tzinfo=PARIS)
    kw = dict(kind="event", start=start, registration_deadline=deadline)
    limited = Item(title="Formation limitée aux vingt premiers inscrits", url="https://www.irev.fr/a", places_limited=True, **kw)
    open_ = Item(title="Conférence ouverte à tous, sans limite de places", url="https://www.irev.fr/b", **kw)
    issue = Issue(month=date(2025, 12, 1), today=date(2025, 12, 1), agenda=[limited, open_])
    _, plan = make_plan(issue, branding.posting)
    reminders = [p for p in plan.posts if p["kind"] == "reminder"]
    assert {p["item_url"] for p in reminders} == {"https://www.irev.fr/a"}
    assert all(when(p) < deadline for p in reminders)
    assert_plan_keeps_the_rules(plan.posts, branding.posting)


def test_render_step_writes_the_plan(branding):
    from newsletter.curate.classify import Taxonomy
    from newsletter.pipeline import RunConfig, render_step

    issue = load_issue()
    cfg = RunConfig(sources=None, taxonomy=Taxonomy.default(), branding=branding,
                    month=date(2025, 12, 1), today=date(2025, 12, 1))
    out = render_step(issue, cfg)
    posts = json.loads(out.files["social.json"])
    assert isinstance(posts, list) and posts == out.social
    assert all({"id", "scheduled_at", "channel", "platform", "text"} <= set(p) for p in posts)
    assert_plan_keeps_the_rules(posts, branding.posting)
    plan = json.loads(out.files["plan.json"])
    assert plan["planned"] == len(posts) and plan["left_out"] and plan["send_date"] == "2025-12-01"
    assert sorted(k for k in out.files if k.startswith("buffer/")) == ["buffer/linkedin.csv", "buffer/x.csv"]
    rows = list(csv.DictReader(io.StringIO(out.files["buffer/x.csv"])))
    x_posts = [p for p in posts if p["channel"] == "x"]
    assert [r["Posting Time"] for r in rows] == [f"{when(p):%Y-%m-%d %H:%M}" for p in x_posts]
    assert all(r["Posting Time"] for r in rows)


# ------------------------------------------------------------------ the officer's changes


@pytest.fixture()
def planned(branding):
    _, plan = make_plan(load_issue(), branding.posting)
    return plan


def _first(plan, channel="linkedin", kind="item", evented=False):
    return next(p for p in plan.posts if p["channel"] == channel and p["kind"] == kind
                and bool(p.get("before")) == evented)


def test_move_edit_remove_add_are_applied(branding, planned):
    post = _first(planned)
    edits = move_post(None, post["id"], "2025-12-17T15:00")
    edits = edit_post(edits, _first(planned, "x")["id"], "Nouveau texte https://www.irev.fr/x")
    removed = _first(planned, "x", "announcement")["id"]
    edits = remove_post(edits, removed)
    left = next(p for p in planned.left_out if p["reason"] == "not_candidate" and p["channel"] == "linkedin")
    edits = add_post(edits, channel="linkedin", scheduled_at="2025-12-18T11:00:00+01:00", from_id=left["id"])
    edits = add_post(edits, channel="x", scheduled_at="2025-12-18T11:00", text="Bonnes fêtes ! https://www.irev.fr")
    json.dumps(edits)  # plain data, storable in DraftEdits.extra["plan"]
    posts = apply_plan_edits(planned.posts, edits, branding.posting, left_out=planned.left_out)
    by_id = {p["id"]: p for p in posts}
    assert by_id[post["id"]]["scheduled_at"] == "2025-12-17T15:00:00+01:00"
    assert by_id[_first(planned, "x")["id"]]["text"].startswith("Nouveau texte")
    assert removed not in by_id
    assert by_id[left["id"]]["added"] and by_id[left["id"]]["text"] == left["text"]
    custom = next(p for p in posts if p["id"].startswith("x:added:"))
    assert custom["kind"] == "custom" and custom["length"] == platform_length(custom["text"], "x")
    assert [p["scheduled_at"] for p in posts] == sorted(p["scheduled_at"] for p in posts)
    assert_plan_keeps_the_rules([p for p in posts if p["kind"] != "custom"], branding.posting)
    # Removing an added post drops it from the additions.
    assert all(a["id"] != custom["id"] for a in remove_post(edits, custom["id"])["added"])


@pytest.mark.parametrize("at,message", [
    ("2025-12-13T10:00", "week-end"),
    ("2025-12-25T10:00", "jour férié"),
    ("2025-12-17T19:30", "heures de bureau"),
    ("2025-12-17T08:00", "heures de bureau"),
    ("le 17 décembre", "illisibles"),
])
def test_moves_outside_working_hours_are_refused_in_french(branding, planned, at, message):
    post = _first(planned)
    with pytest.raises(PlanEditError, match=message):
        apply_plan_edits(planned.posts, move_post(None, post["id"], at), branding.posting)


def test_moves_over_caps_gaps_or_after_the_event_are_refused(branding, planned):
    post = _first(planned)
    taken = _first(planned, evented=True)  # another LinkedIn post's day
    day = when(taken).date().isoformat()
    with pytest.raises(PlanEditError, match="au plus 1 par jour"):
        apply_plan_edits(planned.posts, move_post(None, post["id"], f"{day}T16:00"), branding.posting)
    # A sixth LinkedIn post in the week of 1 December.
    free_week = Posting(channels=[ChannelPlan("linkedin", per_day=2, per_week=5)], min_gap_minutes=120)
    with pytest.raises(PlanEditError, match="au plus 5 par semaine"):
        apply_plan_edits(planned.posts, move_post(None, post["id"], "2025-12-03T16:00"), free_week)
    loose = Posting(channels=[ChannelPlan("linkedin", per_day=3, per_week=20)], min_gap_minutes=120)
    with pytest.raises(PlanEditError, match="moins de 120 minutes"):
        apply_plan_edits(planned.posts, move_post(None, post["id"], f"{when(taken):%Y-%m-%d}T{when(taken).hour + 1:02d}:00"), loose)
    event = next(p for p in planned.posts if p["channel"] == "linkedin" and p["kind"] == "item"
                 and (p.get("before") or "").startswith("2025-12-11"))
    with pytest.raises(PlanEditError, match="veille de l'événement|avant l'événement"):
        apply_plan_edits(planned.posts, move_post(None, event["id"], "2025-12-11T10:00"), branding.posting)
    with pytest.raises(PlanEditError, match="avant l'événement"):
        apply_plan_edits(planned.posts, move_post(None, event["id"], "2025-12-15T10:00"), branding.posting)
    reminder = next(p for p in planned.posts if p["channel"] == "linkedin" and p["kind"] == "reminder")
    with pytest.raises(PlanEditError, match="date limite d'inscription"):
        apply_plan_edits(planned.posts, move_post(None, reminder["id"], "2025-12-11T10:00"), branding.posting)


def test_bad_texts_channels_and_ids_are_refused(branding, planned):
    x_post = _first(planned, "x")
    with pytest.raises(PlanEditError, match="au-delà de la limite de 280 de X"):
        apply_plan_edits(planned.posts, edit_post(None, x_post["id"], "a" * 300), branding.posting)
    with pytest.raises(PlanEditError, match="n'a pas de texte"):
        apply_plan_edits(planned.posts, edit_post(None, x_post["id"], "  "), branding.posting)
    with pytest.raises(PlanEditError, match="n'est pas dans le plan"):
        apply_plan_edits(planned.posts, remove_post(None, "x:item:nope"), branding.posting)
    with pytest.raises(PlanEditError, match="réseau 'mastodon' n'est pas dans le plan"):
        apply_plan_edits(planned.posts, add_post(None, channel="mastodon", scheduled_at="2025-12-17T10:00",
                                                 text="Bonjour"), branding.posting)
    with pytest.raises(PlanEditError, match="laissés de côté"):
        apply_plan_edits(planned.posts, add_post(None, channel="x", scheduled_at="2025-12-17T10:00",
                                                 from_id="x:item:unknown"), branding.posting, left_out=planned.left_out)


def test_calendar_lists_days_in_french(planned):
    days = calendar(planned.posts)
    assert days[0]["label"] == "lundi 1 décembre 2025" or days[0]["label"].startswith("lundi 1")
    assert [d["day"] for d in days] == sorted(d["day"] for d in days)
    assert sum(len(d["posts"]) for d in days) == len(planned.posts)
    assert days[0]["posts"][0]["time_label"] == "10 h"


# ------------------------------------------------------------------ configuration


def test_posting_section_is_configurable_and_validated(tmp_path):
    base = (load_branding().path).read_text(encoding="utf-8").split("\nposting:")[0]
    path = tmp_path / "branding.yaml"
    path.write_text(base + "\nposting:\n  channels: [mastodon, {platform: bluesky, per_week: 3, times: ['11:00']}]\n"
                    "  office_hours: ['08:30', '17:00']\n  announcement_weekday: tuesday\n", encoding="utf-8")
    posting = load_branding(path).posting
    assert [c.platform for c in posting.channels] == ["mastodon", "bluesky"]
    assert posting.channel("bluesky").per_week == 3 and posting.announcement_weekday == 1
    _, plan = make_plan(load_issue(), posting, branding=load_branding(path))
    assert {p["channel"] for p in plan.posts} == {"mastodon", "bluesky"}
    assert all(when(p).date() == date(2025, 12, 2) for p in plan.posts if p["kind"] == "announcement")
    assert_plan_keeps_the_rules(plan.posts, posting)
    for bad, message in [
        ("  channels: [facebook]\n", "channel #1 must be one of"),
        ("  office_hours: ['18:00', '09:00']\n", "start before they end"),
        ("  channels: [{platform: x, times: ['20:00']}]\n", "outside office hours"),
        ("  caps: 3\n", "unknown key"),
    ]:
        path.write_text(base + "\nposting:\n" + bad, encoding="utf-8")
        with pytest.raises(BrandingError, match=message):
            load_branding(path)


# ------------------------------------------------------------------ posts that read well


def test_links_are_https_and_carry_each_channels_campaign(branding):
    import dataclasses

    http_item = Item(kind="resource", title="Guide publié sur un site sans https", url="http://www.exemple.fr/guide",
                     featured=True, image="https://www.exemple.fr/guide.png")
    issue = Issue(month=date(2025, 12, 1), today=date(2025, 12, 1), featured=[http_item], resources=[http_item])
    drafts = social_drafts(issue, branding, {}, platforms=("linkedin", "x"))
    item_posts = [d for d in drafts if d["kind"] == "item"]
    assert all(d["url"] == "https://www.irev.fr/lettre/2025-12/" for d in item_posts)
    assert all("http://" not in d["text"] for d in drafts)
    assert all(d["image"] == "https://www.exemple.fr/guide.png" for d in item_posts)
    tracked = dataclasses.replace(branding, campaign=dataclasses.replace(branding.campaign, enabled=True))
    drafts = social_drafts(load_issue(), tracked, {}, platforms=("linkedin", "x"))
    for d in drafts:
        assert f"utm_source={d['platform']}" in d["url"] and "utm_medium=social" in d["url"], d["url"]
        assert "utm_campaign=lettre-2025-12" in d["url"] and d["url"] in d["text"]


def test_hour_line_goes_before_the_title():
    title = "Rencontre régionale des pilotes des contrats de ville et des délégués du préfet des Hauts-de-France"
    title = f"{title} réunis à Lille pour la deuxième journée du cycle de qualification consacré à l'évaluation des contrats de ville et aux suites à donner"
    event = Item(kind="event", title=title, url="https://irev.fr/agenda/" + "r" * 30,
                 start=datetime(2026, 1, 20, 9, 30, tzinfo=PARIS), end=datetime(2026, 1, 20, 16, 15, tzinfo=PARIS),
                 location="Salle Jean Moulin, 59000 Lille", places_limited=True, places=40)
    issue = Issue(month=date(2026, 1, 1), today=date(2026, 1, 2), agenda=[event])
    tags = {"*": ["PolitiqueDeLaVille", "HautsDeFrance"]}
    (x,) = [d for d in social_drafts(issue, load_branding(), tags, platforms=("x",)) if d["kind"] == "item"]
    assert x["fits"] and title[:40] in x["text"] and title not in x["text"]  # the title had to be cut...
    assert "9 h 30" not in x["text"] and "mardi 20 janvier 2026" in x["text"]  # ...after the hour line went
    assert "Salle Jean Moulin" not in x["text"] and "#" not in x["text"]  # ...and the place line and hashtags before it


def test_a_removed_post_is_listed_and_can_be_put_back_checked_again(branding, planned):
    from newsletter.render.plan import removed_posts, reset_text, restore_post

    post = _first(planned)
    edits = remove_post(edit_post(None, post["id"], "Texte à moi https://www.irev.fr"), post["id"])
    assert [p["id"] for p in removed_posts(planned.posts, edits)] == [post["id"]]
    summary = planned.summary(branding.posting, apply_plan_edits(planned.posts, edits, branding.posting),
                              removed_posts(planned.posts, edits))
    assert summary["planned"] == len(planned.posts) - 1 and [p["id"] for p in summary["removed"]] == [post["id"]]
    back = restore_post(edits, post["id"], post["scheduled_at"])
    posts = {p["id"]: p for p in apply_plan_edits(planned.posts, back, branding.posting)}
    assert posts[post["id"]]["scheduled_at"] == post["scheduled_at"] and posts[post["id"]]["edited"]
    assert posts[post["id"]]["text"].startswith("Texte à moi")
    posts = {p["id"]: p for p in apply_plan_edits(planned.posts, reset_text(back, post["id"]), branding.posting)}
    assert posts[post["id"]]["text"] == post["text"]
    # put back where another post has since been moved: refused, naming the post put back
    other = next(p for p in planned.posts if p["channel"] == "linkedin" and p["kind"] == "item"
                 and not p.get("before") and p["id"] != post["id"])
    taken = move_post(edits, other["id"], post["scheduled_at"])
    with pytest.raises(PlanEditError, match="au plus 1 par jour"):
        apply_plan_edits(planned.posts, restore_post(taken, post["id"], post["scheduled_at"]), branding.posting)


def test_free_slot_keeps_the_rules_and_an_added_candidate_is_no_longer_left_out(branding, planned):
    from newsletter.render.plan import free_slot

    left = next(p for p in planned.left_out if p["reason"] == "not_candidate" and p["channel"] == "x")
    slot = free_slot(planned.posts, left, branding.posting, start=planned.send_date, end=planned.horizon)
    assert slot is not None and is_working_day(slot.date()) and planned.send_date <= slot.date() <= planned.horizon
    edits = add_post(None, channel="x", scheduled_at=slot.isoformat(), from_id=left["id"])
    posts = apply_plan_edits(planned.posts, edits, branding.posting, left_out=planned.left_out)
    assert_plan_keeps_the_rules(posts, branding.posting)
    assert left["id"] not in {p["id"] for p in planned.summary(branding.posting, posts)["left_out"]}
    # an event's post gets a slot before the event's day, near two weeks before it
    event = _first(planned, evented=True)
    at = free_slot(posts, event, branding.posting, start=planned.send_date, end=planned.horizon)
    assert at is not None and at.date() < datetime.fromisoformat(event["before"]).date()


def test_free_slot_never_proposes_a_time_already_past(branding, planned):
    """A draft opened late: "Programmer" offers the first slot still to come, not the plan's first day."""
    from zoneinfo import ZoneInfo

    from newsletter.render.plan import free_slot, is_past

    left = next(p for p in planned.left_out if p["reason"] == "not_candidate" and p["channel"] == "x")
    early = free_slot(planned.posts, left, branding.posting, start=planned.send_date, end=planned.horizon)
    assert early is not None
    # opened on the day the first slot falls, after that slot's time
    now = early + timedelta(minutes=1)
    late = free_slot(planned.posts, left, branding.posting, start=planned.send_date, end=planned.horizon, now=now)
    assert late is not None and late > now and is_working_day(late.date())
    assert_plan_keeps_the_rules([*planned.posts, dict(left, scheduled_at=late.isoformat())], branding.posting)
    # opened after the plan's period: nothing left to propose
    after = datetime.combine(planned.horizon + timedelta(days=1), datetime.min.time(), ZoneInfo("Europe/Paris"))
    assert free_slot(planned.posts, left, branding.posting, start=planned.send_date, end=planned.horizon,
                     now=after) is None
    assert is_past("2025-12-01T10:00", "Europe/Paris", datetime(2025, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris")))
    assert not is_past("2025-12-01T10:00", "Europe/Paris", datetime(2025, 12, 1, 8, 59, tzinfo=timezone.utc))


def test_a_new_run_keeps_the_plan_changes_that_still_fit_and_names_the_others(branding, planned):
    """A new collection of the month re-plans the posts: the officer's changes
    that still apply are kept; one whose post is gone, or whose slot is now
    against the rules, is left out and named, and the run does not fail."""
    moved = _first(planned)
    kept_text = _first(planned, "x")
    taken = next(p for p in planned.posts if p["channel"] == "linkedin" and p["id"] != moved["id"]
                 and p["scheduled_at"] != moved["scheduled_at"])
    edits = move_post(None, moved["id"], "2025-12-17T15:00")
    edits = edit_post(edits, kept_text["id"], "Nouveau texte https://www.irev.fr/x")
    edits = move_post(edits, taken["id"], "2025-12-17T16:00")  # the same day as the first move: over the daily cap
    edits = edit_post(edits, "linkedin:item:disparu", "Un post dont l'élément a disparu https://www.irev.fr/y")
    edits = remove_post(edits, "x:item:disparu-aussi")  # removed, and gone anyway: nothing to say
    with pytest.raises(PlanEditError):
        apply_plan_edits(planned.posts, edits, branding.posting)  # the officer's page stays strict

    skipped: list[str] = []
    posts = {p["id"]: p for p in apply_plan_edits(planned.posts, edits, branding.posting, skipped=skipped)}
    assert posts[moved["id"]]["scheduled_at"] == "2025-12-17T15:00:00+01:00"
    assert posts[kept_text["id"]]["text"].startswith("Nouveau texte")
    assert posts[taken["id"]]["scheduled_at"] == taken["scheduled_at"]  # back to the planner's slot
    assert len(skipped) == 2
    assert any("linkedin:item:disparu" in s for s in skipped)
    assert any("ne peut pas partir le" in s for s in skipped)
    assert_plan_keeps_the_rules(list(posts.values()), branding.posting)
