"""Assignment pages of the book: the student version, its downloads, no solution text.

The book tool stages ``notebooks/<slug>/assignment`` from the solution source through
nbgrader's preprocessors (:func:`effteach.tools.book.stage_assignment`); these tests
run that staging into a temporary folder, for every chapter with an assignment.
The built HTML is checked in ``tests/browser/test_assignment_pages.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import pytest

from effteach.tools import assign
from effteach.tools.book import (
    ASSIGNMENT_NAME,
    BookError,
    stage_assignment,
    toc_lectures,
)

ROOT = Path(__file__).resolve().parents[2]
SLUGS = assign.assignment_slugs(ROOT)


def _text_of(nb) -> str:
    return "\n".join(c.source for c in nb.cells)


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    for slug in SLUGS:
        assert stage_assignment(ROOT, out, slug) == 3
    return out


def test_every_assignment_is_a_page_of_the_book():
    import yaml

    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    pages = {slug for slug, name in toc_lectures(toc) if name == ASSIGNMENT_NAME}
    lectures = {slug for slug, name in toc_lectures(toc) if name == "lecture"}
    assert SLUGS, "no chapter has an assignment"
    # every chapter in the book with an assignment shows it, and no page is orphaned
    assert pages == {s for s in SLUGS if s in lectures}


@pytest.mark.parametrize("slug", SLUGS)
def test_page_is_the_student_version_with_downloads(staged, slug):
    folder = staged / "notebooks" / slug
    page = assign.read_ipynb(folder / f"{ASSIGNMENT_NAME}.ipynb")
    student = assign.read_ipynb(folder / f"{slug}_assignment.ipynb")
    solution, _ = assign.prepare(slug, ROOT)
    # the page is the student notebook plus one note cell, right after the title
    assert len(page.cells) == len(student.cells) + 1
    assert page.cells[0].source.lstrip().startswith("# ")
    note = page.cells[1]
    assert "effteach-assignment-note" in note.metadata.get("tags", [])
    assert f"<{slug}_assignment.ipynb>" in note.source
    assert f"<{slug}_assignment.md>" in note.source
    assert "{doc}`lecture`" in note.source
    # no solution or hidden-test text, no outputs, in the page or the downloads
    assert assign.check_no_leaks(solution, page) == []
    assert assign.check_no_leaks(solution, student) == []
    md = jupytext.read(folder / f"{slug}_assignment.md", fmt="md:myst")
    assert assign.check_no_leaks(solution, md) == []
    # the MyST download is the same notebook as the .ipynb download
    assert [c.source for c in md.cells] == [c.source for c in student.cells]
    # the page still fails where a student has work to do
    assert "raise NotImplementedError()" in _text_of(page)


def test_leak_check_sees_a_solution_line_on_the_page(staged):
    slug = SLUGS[0]
    solution, _ = assign.prepare(slug, ROOT)
    page = assign.read_ipynb(staged / "notebooks" / slug / f"{ASSIGNMENT_NAME}.ipynb")
    secret = assign.secret_lines(solution)[0]
    page.cells[-1].source += "\n" + secret
    assert assign.check_no_leaks(solution, page)


def test_restaging_unchanged_writes_nothing(staged):
    assert stage_assignment(ROOT, staged, SLUGS[0]) == 0


def test_unknown_chapter_is_a_clear_error(tmp_path):
    with pytest.raises(BookError, match="slug: unknown chapter 'nope'"):
        stage_assignment(ROOT, tmp_path, "nope")


def test_page_json_is_valid_nbformat(staged):
    import nbformat

    for slug in SLUGS:
        path = staged / "notebooks" / slug / f"{ASSIGNMENT_NAME}.ipynb"
        nbformat.validate(nbformat.reads(path.read_text(), as_version=4))
        assert json.loads(path.read_text())["nbformat"] == 4
