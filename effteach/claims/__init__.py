"""What holds up: every paper claim of the book, with a verdict a check can overturn.

Each chapter registers its claims in ``effteach/claims/<slug>.py``: every claim of its
paper's abstract (listed in :mod:`effteach.claims.abstracts`) and every claim its
lecture tests, each with a verdict (holds / reproduced / partly / fails / unchecked)
and a check that recomputes the numbers behind it, from the library (fast) or from
committed result files (heavy). A lecture ends its "What the paper leaves open"
section with::

    from effteach.claims import ledger_table
    table = ledger_table("<slug>")  # runs the chapter's checks
    assert table.all_agree, table.disagreements
    table

Book: notebooks/claims/ledger.md ("What holds up").
"""

from effteach.claims.abstracts import ABSTRACT_CLAIMS, abstract_claims
from effteach.claims.registry import (
    REPO_ROOT,
    VERDICT_MEANING,
    VERDICTS,
    CheckResult,
    Claim,
    Evidence,
    Outcome,
    all_claims,
    chapter_claims,
    claim,
    get,
    register,
    run_checks,
    unchecked,
    validate,
)
from effteach.claims.render import Ledger, book_ledger, ledger_table, verdict_counts

__all__ = [
    "ABSTRACT_CLAIMS",
    "REPO_ROOT",
    "VERDICTS",
    "VERDICT_MEANING",
    "CheckResult",
    "Claim",
    "Evidence",
    "Ledger",
    "Outcome",
    "abstract_claims",
    "all_claims",
    "book_ledger",
    "chapter_claims",
    "claim",
    "get",
    "ledger_table",
    "register",
    "run_checks",
    "unchecked",
    "validate",
    "verdict_counts",
]
