"""The claims ledger: every check agrees with its verdict, and the ledger can fail.

* every registered check runs (fast ones compute, heavy ones read the committed
  results) and must support its claim's verdict;
* the registry rejects malformed claims with errors that name them;
* every abstract claim of a landed chapter is registered;
* mutations (a result file with one number changed, a library function patched) flip
  a verdict, and the chapter's ledger reports it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from effteach import CHAPTERS
from effteach.claims import (
    ABSTRACT_CLAIMS,
    VERDICTS,
    CheckResult,
    Claim,
    Evidence,
    abstract_claims,
    all_claims,
    chapter_claims,
    claim,
    get,
    ledger_table,
    register,
    unchecked,
    verdict_counts,
)
from effteach.claims.registry import REPO_ROOT, Outcome
from effteach.claims.render import Ledger, book_ledger
from effteach.tools.notebooks import read_notebook

LANDED = sorted(p.parent.name for p in (REPO_ROOT / "notebooks").glob("*/lecture.md"))
CHECKED = [c for c in all_claims() if c.check is not None]


def _ok(ev):
    return CheckResult("holds", {"x": 1})


# ------------------------------------------------------------- every check agrees


@pytest.fixture(scope="module")
def evidence() -> Evidence:
    return Evidence()  # shared: each committed file is read once


@pytest.mark.parametrize("c", CHECKED, ids=lambda c: c.id)
def test_check_supports_its_verdict(c, evidence):
    outcome = c.run(evidence)
    assert outcome.result.measured, f"{c.id}: the check measured nothing"
    assert outcome.agrees, outcome.describe()


def test_every_landed_chapter_has_a_ledger():
    slugs = {c.slug for c in all_claims()}
    assert set(LANDED) <= slugs, f"chapters without claims: {set(LANDED) - slugs}"
    for slug in LANDED:
        assert any(c.check is not None for c in chapter_claims(slug)), slug


def test_unchecked_claims_say_why_and_have_no_check():
    for c in all_claims():
        if c.verdict == "unchecked":
            assert c.check is None and len(c.note) > 30, c.id


# ------------------------------------------------------------- abstract coverage


def missing_abstract_claims(slug: str, registered: set[str]) -> list[str]:
    """Abstract claims of ``slug``'s paper that have no registered claim."""
    return [cid for cid, _ in abstract_claims(slug) if cid not in registered]


def test_every_abstract_claim_of_a_landed_chapter_is_registered():
    registered = {c.id for c in all_claims()}
    for slug in LANDED:
        missing = missing_abstract_claims(slug, registered)
        assert not missing, (
            f"{slug}: abstract claims without a verdict in effteach/claims/{slug}.py: "
            f"{missing}"
        )
        for cid, _ in abstract_claims(slug):
            c = get(cid)
            assert c.paper == CHAPTERS[slug][1] and "abstract" in c.where, cid


def test_abstract_rule_can_fail():
    assert missing_abstract_claims("pebble_io", set()) == [
        cid for cid, _ in ABSTRACT_CLAIMS["2410.09397"]]
    assert missing_abstract_claims("foundations", set()) == []  # no paper


def test_abstracts_cover_every_paper_of_the_book():
    papers = {paper for _, paper, _ in CHAPTERS.values() if paper}
    assert set(ABSTRACT_CLAIMS) == papers and len(papers) == 10
    slug_of = {paper: slug for slug, (_, paper, _) in CHAPTERS.items() if paper}
    for paper, rows in ABSTRACT_CLAIMS.items():
        assert len(rows) >= 3, paper
        for cid, sentence in rows:
            assert cid.split(".")[0] == slug_of[paper], (paper, cid)
            assert len(sentence) > 40, cid
    with pytest.raises(ValueError, match="slug: unknown chapter 'nope'"):
        abstract_claims("nope")


# ------------------------------------------------------------- where it is taught


def _anchors(slug: str) -> set[str]:
    from docutils.nodes import make_id

    text = (REPO_ROOT / "notebooks" / slug / "lecture.md").read_text()
    return {make_id(m) for m in re.findall(r"^#{2,6}\s+(.+?)\s*$", text, re.M)}


@pytest.mark.parametrize("slug", LANDED)
def test_claim_sections_are_sections_of_the_lecture(slug):
    anchors = _anchors(slug)
    for c in chapter_claims(slug):
        assert c.section in anchors, f"{c.id}: no section #{c.section} in {slug}"


@pytest.mark.parametrize("slug", LANDED)
def test_lecture_renders_its_ledger_in_what_the_paper_leaves_open(slug):
    cells = read_notebook(REPO_ROOT / "notebooks" / slug / "lecture.md").cells
    start = next(i for i, c in enumerate(cells) if c.cell_type == "markdown"
                 and "## What the paper leaves open" in c.source)
    section = []
    for c in cells[start + 1:]:
        if c.cell_type == "markdown" and re.search(r"^## ", c.source, re.M):
            break
        section.append(c)
    code = [c.source for c in section if c.cell_type == "code"]
    assert code, f"{slug}: no code cell in 'What the paper leaves open'"
    last = code[-1]
    assert f'ledger_table("{slug}")' in last and "assert table.all_agree" in last


# ------------------------------------------------------------- the registry rules


def test_registry_rejects_bad_claims():
    reg: dict[str, Claim] = {}
    base = dict(paper="2410.09397", where="abstract", text="A claim.", note="Why.",
                section="the-question", registry=reg)
    with pytest.raises(ValueError, match=r"claim 'pebble_io.x': verdict 'holds' "
                                         r"needs a check"):
        claim("pebble_io.x", verdict="holds", **base)(None)
    with pytest.raises(ValueError, match=r"claim 'pebble_io.x': verdict 'true' is "
                                         r"not one of"):
        claim("pebble_io.x", verdict="true", **base)(_ok)
    for bad in ("pebble_io", "Pebble_IO.x", "pebble_io.x.y", "pebble io.x"):
        with pytest.raises(ValueError, match="expected '<slug>.<name>'"):
            claim(bad, verdict="holds", **base)(_ok)
    with pytest.raises(ValueError, match="unknown chapter slug 'nochapter'"):
        claim("nochapter.x", verdict="holds", **base)(_ok)
    with pytest.raises(ValueError, match="is not an arXiv id"):
        claim("pebble_io.x", verdict="holds", **{**base, "paper": "arXiv:1"})(_ok)
    with pytest.raises(ValueError, match="section 'The Question' is not"):
        claim("pebble_io.x", verdict="holds", **{**base, "section": "The Question"}
              )(_ok)
    with pytest.raises(ValueError, match="claim 'pebble_io.x': note must not be"):
        claim("pebble_io.x", verdict="holds", **{**base, "note": " "})(_ok)
    assert reg == {}
    claim("pebble_io.x", verdict="holds", **base)(_ok)
    with pytest.raises(ValueError, match="'pebble_io.x' is registered twice"):
        claim("pebble_io.x", verdict="holds", **base)(_ok)
    unchecked("pebble_io.y", paper=None, where="lecture", text="t", note="n",
              section="the-question")  # global registry: remove it again
    from effteach.claims import registry as R

    c = R._REGISTRY.pop("pebble_io.y")
    with pytest.raises(ValueError, match="'pebble_io.y' is unchecked"):
        c.run()
    with pytest.raises(ValueError, match="CheckResult.verdict: expected one of"):
        CheckResult("true", {})
    with pytest.raises(KeyError, match="no claim 'pebble_io.nope'"):
        get("pebble_io.nope")
    with pytest.raises(ValueError, match="slug: no claims registered for 'no_such'"):
        chapter_claims("no_such")
    bad = Claim("pebble_io.z", None, "w", "t", "holds", "n", "the-question",
                lambda ev: {"x": 1})
    register(bad, reg)
    with pytest.raises(TypeError, match="returned dict, expected a CheckResult"):
        bad.run()


# ------------------------------------------------------------- mutations


@pytest.fixture()
def results_copy(tmp_path) -> Path:
    """A copy of the committed result files, laid out like the repository."""
    shutil.copytree(REPO_ROOT / "results", tmp_path / "results")
    return tmp_path


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_mutated_result_file_flips_a_verdict(results_copy):
    # one seed of the official alternate-step gates now passes 50% laziness
    def lazier(data):
        for r in data["records"]:
            if (r["method"], r["variant"], r["rho"], r["seed"]) == (
                    "lazy", "alternate", 1e-3, 0):
                r["laziness"] = 0.55

    _edit(results_copy / "results" / "cpu" / "lazy_dit.json", lazier)
    ev = Evidence(results_copy)
    outcome = get("lazy_dit.ceiling_50").run(ev)
    assert outcome.result.verdict == "holds" and not outcome.agrees
    table = ledger_table("lazy_dit", ev)
    assert not table.all_agree
    assert [d.split(":")[0] for d in table.disagreements] == ["lazy_dit.ceiling_50"]
    assert "✗ check says holds" in table._repr_html_()
    assert get("lazy_dit.ceiling_50").run().agrees  # the committed file is untouched


def test_mutated_gpu_file_flips_a_verdict(results_copy):
    def slower(data):  # Triton softmax now loses to torch at one long row size
        row = next(r for r in data["records"]
                   if r["impl"] == "triton" and r["n_cols"] >= 2048)
        row["ratio_vs_torch"] = 0.97

    _edit(results_copy / "results" / "gpu" / "foundations.json", slower)
    outcome = get("foundations.triton_softmax_speed").run(Evidence(results_copy))
    assert outcome.result.verdict == "fails" and not outcome.agrees


def test_patched_library_function_flips_a_verdict(monkeypatch):
    from effteach.pebble_io import counts

    real = counts.fa2_bwd_io

    def one_word_off(*args, **kwargs):
        got = real(*args, **kwargs)
        return type(got)(loads=got.loads + 1, stores=got.stores)

    monkeypatch.setattr(counts, "fa2_bwd_io", one_word_off)
    outcome = get("pebble_io.closed_forms").run()
    assert outcome.result.verdict == "fails" and not outcome.agrees
    assert outcome.result.measured["schedules equal to closed form"] == "2/3"


def test_patched_size_formula_flips_a_verdict(monkeypatch):
    import sympy as sp

    from effteach.looped_mlp import size

    m, N, K, La = (size.SYMBOLS[s] for s in ("m", "N", "K", "La"))
    # a body whose parameters grew like n log n would make the claim true
    monkeypatch.setattr(size, "fused5_params", lambda: 40 * (m + K) * N * La + sp.S(0))
    outcome = get("looped_mlp.nlogn_fused").run()
    assert outcome.result.verdict == "reproduced" and not outcome.agrees


# ------------------------------------------------------------- rendering


def test_ledger_table_shows_every_claim_with_its_numbers():
    claims = chapter_claims("pebble_io")
    html = ledger_table("pebble_io")._repr_html_()
    for c in claims:
        assert f'data-claim="{c.id}"' in html and f'href="#{c.section}"' in html
    assert "effteach-verdict-fails" in html and "#cf222e" in html
    assert "vs SDPA FLASH" in html  # a measured number of a heavy check
    assert html.count("✓ agrees") == sum(c.check is not None for c in claims)


def test_book_ledger_links_and_counts():
    ledger = book_ledger()
    html = ledger._repr_html_()
    for c in ledger.claims:
        assert f'href="../{c.slug}/lecture.html#{c.section}"' in html
    counts = verdict_counts(ledger.claims).counts
    assert set(counts) == set(LANDED)
    assert sum(sum(n.values()) for n in counts.values()) == len(all_claims())
    assert all(set(n) == set(VERDICTS) for n in counts.values())
    table = verdict_counts(ledger.claims)._repr_html_()
    assert all(f'data-chapter="{s}"' in table for s in LANDED)


def test_ledger_rejects_bad_links():
    with pytest.raises(ValueError, match="links: expected None, 'lecture' or 'book'"):
        Ledger([], {}, links="web")
    c = get("lazy_dit.fact7")
    fake = Outcome(c, CheckResult("holds", {"x": 1.0}), 0.0)
    led = Ledger([c], {c.id: fake})
    assert not led.all_agree and "check says 'holds'" in led.disagreements[0]


def test_ledger_chapter_selects_one_chapter():
    ledger = book_ledger()
    part = ledger.chapter("looped_mlp")
    assert {c.slug for c in part.claims} == {"looped_mlp"} and part.links == "book"
    assert set(part.outcomes) <= {c.id for c in part.claims} and part.all_agree
    with pytest.raises(ValueError, match="slug: no claims of 'no_such'"):
        ledger.chapter("no_such")
