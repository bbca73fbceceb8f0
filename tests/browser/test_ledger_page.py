"""The "What holds up" page in headless Chromium: every claim's row, verdict and link.

Reuses the server, browser and page loader of ``test_book_pages.py`` (which also runs
its general checks on this page, as on every page). Here: the page shows the counts
table and one row per registered claim (its verdict badge and, for a checked claim,
"agrees"), and every claim's link leads to an existing section of its lecture.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from test_book_pages import (  # noqa: F401  (fixtures; tests/browser is on sys.path)
    HTML_DIR,
    SCREENSHOTS,
    _unavailable,
    browser,
    inspect_page,
    site,
)

from effteach.claims import VERDICTS, all_claims

PAGE = "notebooks/claims/ledger.html"

_ROWS_JS = """() => [...document.querySelectorAll('.effteach-ledger tr[data-claim]')]
  .map((tr) => ({
    id: tr.dataset.claim,
    verdict: (tr.querySelector('.effteach-verdict') || {}).textContent,
    status: (tr.querySelector('.effteach-status') || {}).textContent,
    href: (tr.querySelector('a') || {}).href || null,
    visible: tr.getBoundingClientRect().height > 0,
  }))"""
_COUNTS_JS = """() => [...document.querySelectorAll(
  'table.effteach-ledger-counts tr[data-chapter]')].map((tr) => tr.dataset.chapter)"""


@pytest.fixture(scope="module")
def ledger_page(browser, site):  # noqa: F811
    if not (HTML_DIR / PAGE).is_file():
        _unavailable(f"no {PAGE} in {HTML_DIR} (the book predates the ledger)")
    shot = SCREENSHOTS / Path(PAGE).with_suffix(".png")
    report = inspect_page(browser, site + PAGE, screenshot=shot)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site + PAGE, wait_until="load")
    try:
        yield report, page.evaluate(_ROWS_JS), page.evaluate(_COUNTS_JS)
    finally:
        context.close()


def test_ledger_page_loaded_its_tables(ledger_page):
    report, rows, chapters = ledger_page
    assert report.requests and not report.page_errors, report.page_errors
    assert rows and chapters


def test_ledger_page_shows_every_registered_claim(ledger_page):
    _, rows, chapters = ledger_page
    by_id = {r["id"]: r for r in rows}
    claims = all_claims()
    missing = [c.id for c in claims if c.id not in by_id]
    assert not missing, f"claims not shown on {PAGE}: {missing}"
    for c in claims:
        row = by_id[c.id]
        assert row["visible"], c.id
        assert row["verdict"] == c.verdict and row["verdict"] in VERDICTS, c.id
        want = "no check" if c.check is None else "✓ agrees"
        assert row["status"].strip() == want, (c.id, row["status"])
    assert set(chapters) == {c.slug for c in claims}


def test_ledger_links_lead_to_lecture_sections(ledger_page):
    _, rows, _ = ledger_page
    for row in rows:
        assert row["href"], f"{row['id']}: no link"
        parts = urlsplit(row["href"])
        target = HTML_DIR / parts.path.lstrip("/")
        assert target.is_file(), f"{row['id']}: {row['href']} has no page"
        html = target.read_text(encoding="utf-8")
        assert parts.path.endswith("/lecture.html"), row["href"]
        assert f'id="{parts.fragment}"' in html, (
            f"{row['id']}: {parts.path} has no section #{parts.fragment}")
