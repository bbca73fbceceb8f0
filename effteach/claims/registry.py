"""The claims registry: every paper claim of the book, its verdict and its check.

A :class:`Claim` records one sentence of a paper (or of a lecture, for the
foundations chapter, which has no paper), where it stands, our verdict and the
evidence. The evidence is a *check*: a function of an :class:`Evidence` (which says
where the committed result files live) that recomputes the numbers behind the
verdict and returns a :class:`CheckResult` holding those numbers and the verdict the
numbers support. A claim **agrees** when that verdict is the registered one; so a
*fails* claim agrees when its check demonstrates the counterexample, and any change of
a result file or of the library that moves a number across its threshold makes the
claim disagree, which the lectures assert and ``tests/claims`` test.

Rules (each raises ``ValueError`` naming the claim):

* the id is ``<slug>.<name>``, both lowercase ``[a-z0-9_]``, the slug a chapter of
  :data:`effteach.CHAPTERS`; ids are unique;
* the verdict is one of :data:`VERDICTS`;
* a verdict other than ``unchecked`` needs a check; ``unchecked`` needs a note that
  says why it cannot be checked here;
* ``paper`` is an arXiv id (``2410.09397``) or ``None`` for a claim of the book itself.

Book: notebooks/claims/ledger.md ("What holds up").
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from effteach.checks import typed

#: Verdicts, strongest first.
VERDICTS: tuple[str, ...] = ("holds", "reproduced", "partly", "fails", "unchecked")
#: What each verdict means (shown in the ledger's legend).
VERDICT_MEANING: dict[str, str] = {
    "holds": "proved or checked exactly",
    "reproduced": "the effect measured here at small scale, with the numbers",
    "partly": "holds with stated changes",
    "fails": "counterexample or measurement against it",
    "unchecked": "not testable here (the note says why)",
}
ID_RE = re.compile(r"^(?P<slug>[a-z0-9_]+)\.(?P<name>[a-z0-9_]+)$")
ARXIV_RE = re.compile(r"^\d{4}\.\d{4,5}$")
ANCHOR_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
#: The repository root (the folder holding ``results/`` and ``effteach/``).
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """What a check measured and which verdict the measurement supports.

    Attributes:
        verdict: the verdict the numbers support, one of :data:`VERDICTS`.
        measured: the numbers behind it, name -> value (shown in the ledger).
        detail: one line on how the numbers were obtained (optional).
    """

    verdict: str
    measured: Mapping[str, float | int | str | bool]
    detail: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(
                f"CheckResult.verdict: expected one of {VERDICTS}, got {self.verdict!r}"
            )
        if not isinstance(self.measured, Mapping):
            raise TypeError(
                f"CheckResult.measured: expected a dict of name -> number, got "
                f"{type(self.measured).__name__}"
            )
        if not isinstance(self.detail, str):
            raise TypeError(
                f"CheckResult.detail: expected a str, got {type(self.detail).__name__}"
            )


class Evidence:
    """Where a check reads committed results: ``<root>/results``, checkpoints.

    Args:
        root: a folder laid out like the repository (``results/gpu/<slug>.json``,
            ``results/cpu/<slug>.json``, ``effteach/checkpoints/<name>.metrics.json``);
            the repository itself by default. Tests point it at a mutated copy.
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else REPO_ROOT
        self._cache: dict[Path, object] = {}

    def json(self, rel: str) -> dict:
        """Read ``<root>/<rel>`` as JSON (cached per Evidence).

        Raises:
            FileNotFoundError: naming the file.
        """
        path = self.root / rel
        if path not in self._cache:
            if not path.is_file():
                raise FileNotFoundError(f"{path}: committed result file not found")
            self._cache[path] = json.loads(path.read_text())
        return self._cache[path]  # type: ignore[return-value]


Check = Callable[[Evidence], CheckResult]


@typed
@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim, its verdict and the check behind the verdict.

    Attributes:
        id: ``<slug>.<name>``.
        paper: arXiv id of the paper the claim is from, or None (the book's own).
        where: where in the paper (``abstract``, ``Sec. 4``, ``Table 3``, ``Thm 2``),
            or in the lecture for the book's own claims.
        claim: the claim in one sentence.
        verdict: one of :data:`VERDICTS`.
        note: our evidence, or why it cannot be checked, in a sentence or two.
        section: anchor of the lecture section that teaches it (``what-the-paper-
            leaves-open``); the lecture is ``notebooks/<slug>/lecture``.
        check: the check, or None (only for ``unchecked``).
        heavy: True when the check reads committed result files rather than
            computing its numbers.
    """

    id: str
    paper: str | None
    where: str
    claim: str
    verdict: str
    note: str
    section: str
    check: Check | None = None
    heavy: bool = False

    @property
    def slug(self) -> str:
        """The chapter slug (the part of the id before the dot)."""
        return self.id.split(".", 1)[0]

    def run(self, evidence: Evidence | None = None) -> Outcome:
        """Run the check and compare its verdict with the registered one.

        Raises:
            ValueError: the claim has no check.
        """
        if self.check is None:
            raise ValueError(f"claim {self.id!r} is unchecked: it has no check to run")
        t0 = time.perf_counter()
        result = self.check(evidence or Evidence())
        if not isinstance(result, CheckResult):
            raise TypeError(
                f"claim {self.id!r}: its check returned {type(result).__name__}, "
                "expected a CheckResult"
            )
        return Outcome(self, result, time.perf_counter() - t0)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A claim with the result of its check."""

    claim: Claim
    result: CheckResult
    seconds: float

    @property
    def agrees(self) -> bool:
        """True when the check supports the registered verdict."""
        return self.result.verdict == self.claim.verdict

    def describe(self) -> str:
        """One line: the id, registered and measured verdicts and the numbers."""
        nums = ", ".join(f"{k}={format_value(v)}"
                         for k, v in self.result.measured.items())
        return (f"{self.claim.id}: registered {self.claim.verdict!r}, check says "
                f"{self.result.verdict!r} ({nums})")


def format_value(value: object) -> str:
    """Short text for a measured value (3 significant digits for floats)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


_REGISTRY: dict[str, Claim] = {}


@typed
def validate(claim: Claim) -> None:
    """Check a claim's fields; raise ``ValueError`` naming the claim if one is bad."""
    from effteach import CHAPTERS

    m = ID_RE.match(claim.id) if isinstance(claim.id, str) else None
    if m is None:
        raise ValueError(
            f"claim id {claim.id!r}: expected '<slug>.<name>', lowercase letters, "
            "digits and underscores, e.g. 'pebble_io.tight_bounds'"
        )
    if m["slug"] not in CHAPTERS:
        raise ValueError(
            f"claim {claim.id!r}: unknown chapter slug {m['slug']!r}; expected one of "
            f"{sorted(CHAPTERS)}"
        )
    if claim.verdict not in VERDICTS:
        raise ValueError(
            f"claim {claim.id!r}: verdict {claim.verdict!r} is not one of {VERDICTS}"
        )
    if claim.verdict != "unchecked" and claim.check is None:
        raise ValueError(
            f"claim {claim.id!r}: verdict {claim.verdict!r} needs a check (a function "
            "of Evidence returning a CheckResult); only 'unchecked' may have none"
        )
    if claim.check is not None and not callable(claim.check):
        raise ValueError(f"claim {claim.id!r}: check must be callable")
    if claim.paper is not None and not ARXIV_RE.match(str(claim.paper)):
        raise ValueError(
            f"claim {claim.id!r}: paper {claim.paper!r} is not an arXiv id like "
            "'2410.09397' (use None for a claim of the book itself)"
        )
    for field in ("where", "claim", "note"):
        if not str(getattr(claim, field) or "").strip():
            raise ValueError(f"claim {claim.id!r}: {field} must not be empty")
    if not ANCHOR_RE.match(claim.section or ""):
        raise ValueError(
            f"claim {claim.id!r}: section {claim.section!r} is not a section anchor "
            "like 'what-the-paper-leaves-open'"
        )


def register(claim: Claim, registry: dict[str, Claim] | None = None) -> Claim:
    """Validate a claim and add it to the registry (the global one by default).

    Raises:
        ValueError: a bad field (see :func:`validate`) or a duplicate id.
    """
    validate(claim)
    reg = _REGISTRY if registry is None else registry
    if claim.id in reg:
        raise ValueError(f"claim {claim.id!r} is registered twice")
    reg[claim.id] = claim
    return claim


def claim(id: str, *, paper: str | None, where: str, text: str, verdict: str,
          note: str, section: str, heavy: bool = False,
          registry: dict[str, Claim] | None = None
          ) -> Callable[[Check | None], Check | None]:
    """Decorator registering a check with its claim (see :class:`Claim`).

    Example::

        @claim("pebble_io.crossover", paper="2410.09397", where="Thm 1.1",
               text="...", verdict="holds", note="...", section="derivations")
        def _(ev):
            return CheckResult("holds", {"ratio": 1.0})
    """

    def deco(fn: Check | None) -> Check | None:
        register(Claim(id, paper, where, text, verdict, note, section, fn, heavy),
                 registry)
        return fn

    return deco


def unchecked(id: str, *, paper: str | None, where: str, text: str, note: str,
              section: str) -> Claim:
    """Register a claim that cannot be checked here (``note`` says why)."""
    return register(Claim(id, paper, where, text, "unchecked", note, section))


def all_claims() -> list[Claim]:
    """Every registered claim, chapter modules loaded, in registration order."""
    _load_chapters()
    return list(_REGISTRY.values())


def chapter_claims(slug: str) -> list[Claim]:
    """The claims of one chapter.

    Raises:
        ValueError: no claim is registered for ``slug``.
    """
    found = [c for c in all_claims() if c.slug == slug]
    if not found:
        known = sorted({c.slug for c in all_claims()})
        raise ValueError(f"slug: no claims registered for {slug!r}; chapters with "
                         f"claims: {known}")
    return found


@typed
def get(claim_id: str) -> Claim:
    """The claim with this id.

    Raises:
        KeyError: naming the id.
        TypeError: naming ``claim_id`` if it is not a str.
    """
    all_claims()
    try:
        return _REGISTRY[claim_id]
    except KeyError:
        raise KeyError(f"claim_id: no claim {claim_id!r} is registered") from None


def run_checks(claims: Iterable[Claim], evidence: Evidence | None = None
               ) -> list[Outcome]:
    """Run the check of every claim that has one, with one shared Evidence."""
    ev = evidence or Evidence()
    return [c.run(ev) for c in claims if c.check is not None]


#: Modules of effteach.claims that are not a chapter's claims.
NOT_CHAPTER_MODULES = frozenset({"registry", "render", "abstracts"})


def chapter_modules() -> list[str]:
    """The chapter modules of :mod:`effteach.claims`, in the order of the chapters.

    A chapter's claims live in ``effteach/claims/<slug>.py``; every module there
    except the registry, the renderer and the abstracts is one.
    """
    import pkgutil

    from effteach import CHAPTERS

    here = Path(__file__).parent
    names = {m.name for m in pkgutil.iter_modules([str(here)])}
    order = list(CHAPTERS)
    return sorted((n for n in names - NOT_CHAPTER_MODULES if n in CHAPTERS),
                  key=order.index)


def _load_chapters() -> None:
    import importlib

    for name in chapter_modules():
        importlib.import_module(f"effteach.claims.{name}")
