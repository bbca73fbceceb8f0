"""The book's one author-year citation style (effteach.book), on a tiny Sphinx project.

The text cites "Shen et al. [2025b]" / "[Shen et al., 2025b]" and the bibliography
labels the same entry "[Shen et al., 2025b]": same authors, same year, same suffix.
No browser needed; the built book itself is checked by test_book_pages.py.
"""

from __future__ import annotations

import re

import pytest

from effteach.book import BIBTEX_STYLE, author_year_labels

BIB = r"""
@misc{b2025, author = {Shen, Xuan and Song, Zhao and Zhou, Yufa}, title = {Beta},
  year = {2025}}
@misc{a2025, author = {Shen, Xuan and Han, C. and Zhou, Yufa}, title = {{Alpha}},
  year = {2025}}
@misc{solo, author = {Dao, Tri}, title = {Solo}, year = {2023}}
@misc{pair, author = {Hong, Jia-Wei and Kung, H. T.}, title = {Pair}, year = {1981}}
@misc{accent, author = {P{\'e}rez, Jorge and Barcel{\'o}, Pablo and M, J}, title = {T},
  year = {2021}}
"""

DOC = """Test
====

Textual :cite:t:`b2025`, parenthetical :cite:p:`a2025`, :cite:p:`solo,pair`.

.. bibliography::
   :all:
"""


def test_labels_disambiguate_and_follow_the_text_names():
    from pybtex.database import parse_string

    entries = parse_string(BIB, "bibtex").entries
    labels = dict(zip(entries, author_year_labels(entries.values()), strict=True))
    # in the order given (the bibliography's sorted order decides a/b)
    assert labels["b2025"] == "Shen et al., 2025a"
    assert labels["a2025"] == "Shen et al., 2025b"
    assert labels["solo"] == "Dao, 2023"
    assert labels["pair"] == "Hong and Kung, 1981"
    assert labels["accent"] == "Pérez et al., 2021"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> str:
    sphinx = pytest.importorskip("sphinx.application")
    src = tmp_path_factory.mktemp("src")
    (src / "refs.bib").write_text(BIB)
    (src / "index.rst").write_text(DOC)
    (src / "conf.py").write_text(
        "extensions = ['sphinxcontrib.bibtex', 'effteach.book']\n"
        "bibtex_bibfiles = ['refs.bib']\n"
        f"bibtex_default_style = {BIBTEX_STYLE!r}\n"
        f"bibtex_reference_style = {BIBTEX_STYLE!r}\n"
    )
    out = src / "_build"
    app = sphinx.Sphinx(str(src), str(src), str(out), str(out / ".doctrees"), "html",
                        status=None, warning=None, freshenv=True)
    app.build()
    return (out / "index.html").read_text()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def test_text_and_bibliography_use_the_same_author_year_labels(built):
    text = _text(built)
    # the bibliography sorts "Alpha" (a2025) before "Beta" (b2025): a, then b
    assert "Textual Shen et al. [2025b]" in text
    assert "parenthetical [Shen et al., 2025a]" in text
    assert "[Dao, 2023, Hong and Kung, 1981]" in text
    # the bibliography: the same labels, none numeric
    labels = re.findall(r'<span class="label">(.*?)</span></span>', built)
    labels = [_text(lab) for lab in labels]
    assert sorted(labels) == sorted([
        "[Shen et al., 2025a]", "[Shen et al., 2025b]", "[Dao, 2023]",
        "[Hong and Kung, 1981]", "[Pérez et al., 2021]",
    ])
