"""Time to render a 40-item issue (Jinja, MJML, CSS inlining, validation, plain text),
next to each step alone. Target: at most 50 ms in all.

    .venv/bin/python benchmarks/render.py [--runs 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import css_inline  # noqa: E402
import mjml  # noqa: E402

from newsletter.render import newsletter as R  # noqa: E402
from newsletter.render.branding import load_branding  # noqa: E402
from newsletter.models import Issue  # noqa: E402

TARGET_MS = 50.0


def timed(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    issue = Issue.from_dict(json.loads((ROOT / "tests" / "data" / "render_issue.json").read_text(encoding="utf-8")))
    branding = load_branding()
    env = R.template_environment()
    web_url = branding.issue_url(f"{issue.month:%Y-%m}")
    ctx, _ = R._context(issue, branding, campaign={}, web_url=web_url, mode="email")
    source = R.render_template(env, R.MJML_TEMPLATE, ctx)
    raw = mjml.mjml2html(source, disable_comments=True)
    css = R.render_template(env, R.CSS_TEMPLATE, ctx)
    html = R.render_newsletter(issue, branding).html

    render_newsletter(issue, branding)  # warm-up (template compilation)
    rows = [
        ("render_newsletter (all steps)", lambda: R.render_newsletter(issue, branding)),
        ("  view model", lambda: R._context(issue, branding, campaign={}, web_url=web_url, mode="email")),
        ("  Jinja -> MJML", lambda: R.render_template(env, R.MJML_TEMPLATE, ctx)),
        ("  MJML -> HTML (mjml-python)", lambda: mjml.mjml2html(source, disable_comments=True)),
        ("  CSS inlining (css-inline)", lambda: css_inline.inline(raw, inline_style_tags=False, keep_style_tags=True,
                                                               load_remote_stylesheets=False, extra_css=css)),
        ("  HTML validation", lambda: R.validate_html(html, R.MJML_TEMPLATE)),
        ("  plain text", lambda: R.render_template(env, R.TEXT_TEMPLATE, ctx)),
    ]
    print(f"40-item issue ({len(issue.all_items())} items), {args.runs} runs, HTML {len(html.encode()) / 1000:.1f} KB")
    total = None
    for label, fn in rows:
        median, worst = timed(fn, args.runs)
        total = median if total is None else total
        print(f"{label:34s} median {median:7.2f} ms   max {worst:7.2f} ms")
    print(f"target: {TARGET_MS:.0f} ms in all -> {'OK' if total <= TARGET_MS else 'OVER'}")


def render_newsletter(issue, branding):
    return R.render_newsletter(issue, branding)


if __name__ == "__main__":
    main()
