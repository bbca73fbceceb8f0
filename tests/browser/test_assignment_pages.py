"""The assignment pages of the built book: student text only, downloads that resolve.

Run after ``make book``. For every chapter with ``notebooks/<slug>/assignment.md``, the
built ``notebooks/<slug>/assignment.html`` must

* hold no nbgrader region marker and none of the solution's secret lines
  (:func:`effteach.tools.assign.secret_lines`: every non-trivial line inside a
  ``BEGIN/END SOLUTION`` or ``BEGIN/END HIDDEN TESTS`` region), in its text or in its
  HTML source,
* link the student notebook and its MyST text as downloads that exist in the site,
  each equally free of solution text,
* be linked from the chapter's lecture page.

Without a built book these tests skip, unless ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from effteach.tools import assign

ROOT = Path(__file__).resolve().parents[2]
HTML_DIR = Path(
    os.environ.get("EFFTEACH_BOOK_HTML") or ROOT / "build" / "book" / "_build" / "html"
).resolve()
IN_CI = os.environ.get("CI", "").strip().lower() == "true"
SLUGS = assign.assignment_slugs(ROOT)


def _soup(path: Path):
    from bs4 import BeautifulSoup

    if not path.is_file():
        reason = f"{path} not built (run `make book`)"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the book must be built)")
        pytest.skip(reason)
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def leaks(text: str, secrets: list[str]) -> list[str]:
    """Return the nbgrader markers and secret lines that occur in ``text``."""
    found = [m for m in assign.MARKERS if m in text]
    return found + [s for s in secrets if s in text]


def _downloads(page: Path, soup) -> dict[str, Path]:
    out = {}
    for a in soup.select("a.download"):
        href = urlsplit(a.get("href", "")).path
        out[Path(unquote(href)).name] = (page.parent / unquote(href)).resolve()
    return out


@pytest.mark.parametrize("slug", SLUGS)
def test_assignment_page_is_student_text_only(slug):
    page = HTML_DIR / "notebooks" / slug / "assignment.html"
    soup = _soup(page)
    solution, _ = assign.prepare(slug, ROOT)
    secrets = assign.secret_lines(solution)
    assert secrets, f"{slug}: the solution has no secret lines to look for"
    article = soup.select_one("article") or soup
    text = article.get_text("\n")
    assert not leaks(text, secrets), f"{slug}: solution text on the page"
    assert not leaks(page.read_text(encoding="utf-8"), secrets)
    assert "NotImplementedError" in text  # the code to complete is there
    # both downloads are linked and exist, and hold no solution text either
    files = _downloads(page, soup)
    for name in (f"{slug}_assignment.ipynb", f"{slug}_assignment.md"):
        assert name in files, f"{slug}: no download link to {name} ({sorted(files)})"
        assert files[name].is_file(), f"{slug}: {name} linked but missing"
        assert not leaks(files[name].read_text(encoding="utf-8"), secrets)


@pytest.mark.parametrize("slug", SLUGS)
def test_lecture_links_its_assignment(slug):
    soup = _soup(HTML_DIR / "notebooks" / slug / "lecture.html")
    article = soup.select_one("article") or soup
    hrefs = {urlsplit(a.get("href", "")).path for a in article.select("a[href]")}
    assert "assignment.html" in hrefs, f"{slug}: the lecture does not link it"


def test_leak_finder_finds_a_planted_line():
    solution, _ = assign.prepare(SLUGS[0], ROOT)
    secrets = assign.secret_lines(solution)
    assert leaks(f"<p>{secrets[0]}</p>", secrets) == [secrets[0]]
    assert leaks("### BEGIN SOLUTION", secrets)
    assert leaks("<p>nothing here</p>", secrets) == []
