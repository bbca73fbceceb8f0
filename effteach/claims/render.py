"""The ledger as a table: a chapter's in its lecture, every chapter's on one page.

:func:`ledger_table` runs a chapter's checks and returns a :class:`Ledger`, which
Jupyter shows as an HTML table (verdicts colour-coded, each row with the numbers its
check measured in this run) and which says whether every check agreed with its
verdict. :func:`book_ledger` does the same for every chapter, with links to the
lecture sections, and :func:`verdict_counts` counts verdicts per chapter.

Book: notebooks/claims/ledger.md; each lecture's "What the paper leaves open".
"""

from __future__ import annotations

import collections
import html
import re

from effteach.checks import typed
from effteach.claims.registry import (
    VERDICT_MEANING,
    VERDICTS,
    Claim,
    Evidence,
    Outcome,
    all_claims,
    chapter_claims,
    format_value,
)

#: Badge colours (background) of the verdicts; white text on each.
VERDICT_COLOURS: dict[str, str] = {
    "holds": "#1a7f37",
    "reproduced": "#0969da",
    "partly": "#9a6700",
    "fails": "#cf222e",
    "unchecked": "#6e7781",
}
_TABLE = ("border-collapse:collapse;width:100%;font-size:0.85em;"
          "line-height:1.25;margin:0.5em 0;table-layout:fixed")
_CELL = ("border-top:1px solid #d0d7de;padding:4px 6px;vertical-align:top;"
         "text-align:left")
_SMALL = "color:#57606a;font-size:0.9em"


def badge(verdict: str) -> str:
    """An HTML badge for a verdict (its colour, its meaning as a tooltip)."""
    colour = VERDICT_COLOURS[verdict]
    return (f'<span class="effteach-verdict effteach-verdict-{verdict}" '
            f'title="{html.escape(VERDICT_MEANING[verdict])}" style="background:'
            f'{colour};color:#fff;border-radius:3px;padding:1px 6px;white-space:nowrap;'
            f'font-weight:600">{verdict}</span>')


def _paper_text(c: Claim) -> str:
    return f"arXiv {c.paper}" if c.paper else "this book"


class Ledger:
    """Claims with the outcomes of their checks, shown as a table.

    Args:
        claims: the claims, in display order.
        outcomes: claim id -> :class:`Outcome` for every claim that has a check.
        links: ``"lecture"`` links each id to ``#<section>`` (the table sits in the
            lecture), ``"book"`` to ``../<slug>/lecture.html#<section>`` (the table
            sits in ``notebooks/claims/``), None for no links.
        group: start a header row for each chapter.
    """

    @typed
    def __init__(self, claims: list[Claim], outcomes: dict[str, Outcome],
                 links: str | None = "lecture", group: bool = False):
        if links not in (None, "lecture", "book"):
            raise ValueError(
                f"links: expected None, 'lecture' or 'book', got {links!r}")
        self.claims = list(claims)
        self.outcomes = dict(outcomes)
        self.links = links
        self.group = group

    @property
    def disagreements(self) -> list[str]:
        """One line per claim whose check does not support its verdict."""
        return [o.describe() for o in self.outcomes.values() if not o.agrees]

    @property
    def all_agree(self) -> bool:
        """True when every check supports its claim's verdict."""
        return not self.disagreements

    @property
    def seconds(self) -> float:
        """Total time the checks took."""
        return sum(o.seconds for o in self.outcomes.values())

    def counts(self) -> dict[str, int]:
        """Number of claims per verdict (every verdict present, possibly 0)."""
        n = collections.Counter(c.verdict for c in self.claims)
        return {v: n[v] for v in VERDICTS}

    def href(self, c: Claim) -> str | None:
        """Where the claim's id links to (see ``links``)."""
        if self.links == "lecture":
            return f"#{c.section}"
        if self.links == "book":
            return f"../{c.slug}/lecture.html#{c.section}"
        return None

    def _row(self, c: Claim) -> str:
        # break long ids after the dot and the underscores, never inside a word
        ident = "<wbr>".join(html.escape(p) for p in re.split(r"(?<=[._])", c.id))
        url = self.href(c)
        if url:
            ident = (f'<a href="{html.escape(url)}" style="text-decoration:none">'
                     f'{ident}</a>')
        where = html.escape(f"{_paper_text(c)}, {c.where}")
        o = self.outcomes.get(c.id)
        if o is None:
            measured, status = "", '<span title="no check: unchecked">no check</span>'
        else:
            parts = [f"{html.escape(str(k))} <b>{html.escape(format_value(v))}</b>"
                     for k, v in o.result.measured.items()]
            measured = (f'<br><span class="effteach-measured" style="{_SMALL}">'
                        f'{" · ".join(parts)}</span>')
            if o.agrees:
                status = (f'<span style="color:#1a7f37" title="check ran in '
                          f'{o.seconds:.2f} s and supports the verdict">'
                          '✓ agrees</span>')
            else:
                status = (f'<span style="color:#cf222e;font-weight:700">✗ check says '
                          f'{html.escape(o.result.verdict)}</span>')
        note = (f'<details style="{_SMALL}"><summary>our evidence</summary>'
                f'{html.escape(c.note)}</details>')
        return (f'<tr data-claim="{html.escape(c.id)}">'
                f'<td style="{_CELL}"><code>{ident}</code><br>'
                f'<span style="{_SMALL}">{where}</span></td>'
                f'<td style="{_CELL}">{html.escape(c.claim)}{measured}{note}</td>'
                f'<td style="{_CELL}">{badge(c.verdict)}<br>'
                f'<span class="effteach-status" style="{_SMALL}">{status}</span>'
                '</td></tr>')

    def _repr_html_(self) -> str:
        from effteach import CHAPTERS

        head = "".join(f'<th style="{_CELL}">{h}</th>' for h in
                       ("claim", "what it says; numbers measured in this run",
                        "verdict"))
        cols = ('<colgroup><col style="width:27%"><col style="width:56%">'
                '<col style="width:17%"></colgroup>')
        rows, slug = [], None
        for c in self.claims:
            if self.group and c.slug != slug:
                slug = c.slug
                title, paper, _ = CHAPTERS[slug]
                label = f"{title} ({'arXiv ' + paper if paper else 'no paper'})"
                rows.append(f'<tr><th colspan="3" style="{_CELL};background:#f6f8fa">'
                            f'{html.escape(label)}</th></tr>')
            rows.append(self._row(c))
        counts = ", ".join(f"{badge(v)} {n}" for v, n in self.counts().items() if n)
        ran = len(self.outcomes)
        agree = sum(o.agrees for o in self.outcomes.values())
        caption = (f"{len(self.claims)} claims: {counts}. {agree} of {ran} checks "
                   f"agree with their verdicts ({self.seconds:.1f} s).")
        return (f'<div class="effteach-ledger"><p style="{_SMALL}">{caption}</p>'
                f'<table style="{_TABLE}">{cols}<thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table></div>')

    def chapter(self, slug: str) -> Ledger:
        """The part of this ledger that belongs to one chapter (same links).

        Raises:
            ValueError: no claim of ``slug`` is in this ledger.
        """
        claims = [c for c in self.claims if c.slug == slug]
        if not claims:
            raise ValueError(f"slug: no claims of {slug!r} in this ledger")
        return Ledger(claims, {c.id: self.outcomes[c.id] for c in claims
                               if c.id in self.outcomes}, links=self.links)

    def __repr__(self) -> str:
        lines = []
        for c in self.claims:
            o = self.outcomes.get(c.id)
            mark = "-" if o is None else ("ok" if o.agrees else "DISAGREES")
            nums = "" if o is None else ", ".join(
                f"{k}={format_value(v)}" for k, v in o.result.measured.items())
            lines.append(f"{c.id:<40} {c.verdict:<10} {mark:<9} {nums}")
        return "\n".join(lines)


def ledger_table(slug: str, evidence: Evidence | None = None,
                 links: str | None = "lecture") -> Ledger:
    """Run every check of a chapter and return its ledger.

    Args:
        slug: the chapter.
        evidence: where the committed results are read (the repository by default).
        links: see :class:`Ledger`.

    Raises:
        ValueError: no claims are registered for ``slug``.
    """
    claims = chapter_claims(slug)
    ev = evidence or Evidence()
    outcomes = {c.id: c.run(ev) for c in claims if c.check is not None}
    return Ledger(claims, outcomes, links=links)


def book_ledger(evidence: Evidence | None = None) -> Ledger:
    """Every chapter's claims with their checks run, grouped, linked to lectures."""
    claims = all_claims()
    ev = evidence or Evidence()
    outcomes = {c.id: c.run(ev) for c in claims if c.check is not None}
    return Ledger(claims, outcomes, links="book", group=True)


class CountsTable:
    """Verdict counts per chapter and paper, as an HTML table."""

    def __init__(self, counts: dict[str, dict[str, int]]):
        self.counts = counts

    def _repr_html_(self) -> str:
        from effteach import CHAPTERS

        head = "".join(f'<th style="{_CELL}">{h}</th>' for h in
                       ("chapter", "paper", *map(badge, VERDICTS), "total"))
        rows = []
        for slug, n in self.counts.items():
            title, paper, _ = CHAPTERS[slug]
            link = f'<a href="../{slug}/lecture.html">{html.escape(title)}</a>'
            cells = "".join(f'<td style="{_CELL}">{n[v]}</td>' for v in VERDICTS)
            rows.append(f'<tr data-chapter="{slug}"><td style="{_CELL};width:40%">'
                        f'{link}</td>'
                        f'<td style="{_CELL}">{paper or "—"}</td>{cells}'
                        f'<td style="{_CELL}"><b>{sum(n.values())}</b></td></tr>')
        style = _TABLE.replace("table-layout:fixed", "table-layout:auto")
        return (f'<table class="effteach-ledger-counts" style="{style}"><thead><tr>'
                f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')

    def __repr__(self) -> str:
        return "\n".join(f"{slug:<14} " + " ".join(f"{v} {n[v]}" for v in VERDICTS)
                         for slug, n in self.counts.items())


def verdict_counts(claims: list[Claim] | None = None) -> CountsTable:
    """Count verdicts per chapter (in registration order of the chapters)."""
    out: dict[str, dict[str, int]] = {}
    for c in claims if claims is not None else all_claims():
        out.setdefault(c.slug, dict.fromkeys(VERDICTS, 0))[c.verdict] += 1
    return CountsTable(out)
