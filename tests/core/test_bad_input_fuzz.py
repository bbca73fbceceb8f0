"""Bad input, everywhere: every public function refuses bad arguments by name.

The public API is enumerated at collection time (the rule is in
``tests/core/fuzz_support.py``), so a new chapter's functions are tested as soon as
they appear in an ``__all__``; a function with neither an example call in
``tests/core/fuzz_registry.py`` nor a row in :data:`OPT_OUT` fails
``test_every_public_callable_is_covered``.

For each function, each parameter gets hypothesis-drawn bad values of every kind that
fits its example value (wrong type, float for int, NaN/inf, negative and zero sizes,
empty arrays, wrong rank or shape, wrong dtype, out-of-range indices, unknown keyword
arguments, a tensor on another device for kernels); the call must raise a
``ValueError``/``TypeError`` naming the parameter, or succeed where the value has a
meaning. Deterministic (``derandomize=True``), one example per function.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from fuzz_registry import chapter_opt_outs, registry
from fuzz_support import public_api

import effteach  # noqa: F401  (TRITON_INTERPRET before any kernel import)

#: Functions and classes the harness does not call, and why (the only opt-outs).
OPT_OUT: dict[str, str] = {
    # result records: built by the library and returned, never taken as input, so
    # a hand-built one has no documented meaning to check
    "effteach.pebble_io.ScheduleResult": "result record, output only",
    "effteach.looped_mlp.Net": "result record of Circuit.compile (covered: "
    "Net.forward)",
    "effteach.data.TextSplits": "result record of text_splits, output only",
    "effteach.data.MarkovChain": "result record of markov_chain, output only",
    "effteach.data.MarkovCopyBatch": "result record of markov_copy_batch",
    "effteach.data.MovingShapes": "result record of moving_shapes, output only",
    "effteach.metrics.NGramBaselines": "result record, output only",
    "effteach.grading.Report": "result record of evaluate, output only",
    "effteach.claims.Outcome": "result record of run_checks, output only",
    # global side effects or too slow for a fuzz run
    "effteach.grading.register": "mutates the global question registry; "
    "tests/core/test_grading.py checks its validation",
    "effteach.claims.register": "mutates the global claims registry; "
    "tests/claims checks its validation",
    "effteach.claims.claim": "decorator that registers globally (as register)",
    "effteach.claims.unchecked": "registers globally (as register)",
    "effteach.claims.run_checks": "runs chapter experiments (minutes); "
    "tests/claims runs it",
    "effteach.claims.book_ledger": "runs every chapter's claim checks (minutes)",
    "effteach.claims.ledger_table": "runs a chapter's claim checks (minutes)",
    "effteach.lazy_dit.compare": "the whole multi-seed experiment (40 s under the "
    "fuzz); model, labels and policy are fuzzed through lazy_sample, similarity "
    "and evaluate_policy",
    "effteach.kernels.pebble_io.FlashAttnFunction": "autograd Function: called "
    "through flash_attn, which is fuzzed",
}
OPT_OUT.update(chapter_opt_outs())  # tests/<slug>/fuzz_calls.py

API = public_api()
REGISTRY = registry()
FUZZED = sorted(n for n in REGISTRY if n not in OPT_OUT)
#: Parameters not fuzzed, per function, and why.
SKIP_PARAMS: dict[str, tuple[tuple[str, ...], str]] = {}


def test_every_public_callable_is_covered():
    missing = sorted(n for n in API if n not in REGISTRY and n not in OPT_OUT)
    assert not missing, (
        "public callables without an example call in tests/core/fuzz_registry.py "
        f"or tests/<slug>/fuzz_calls.py, or a reason in an OPT_OUT: {missing}"
    )
    stale = sorted(n for n in OPT_OUT if n not in API)
    assert not stale, f"OPT_OUT names that are no longer public: {stale}"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
    if os.environ.get("EFFTEACH_FUZZ_UPDATE") and _FOUND:
        # EFFTEACH_FUZZ_UPDATE=1 rewrites the known failures of the targets that ran
        # (a run with -k changes only those; the file is re-read just before, so
        # other edits to it are kept)
        from effteach.io import atomic_write_text

        table = json.loads(KNOWN_PATH.read_text()) if KNOWN_PATH.exists() else {}
        table.update(_FOUND)
        table = {k: v for k, v in sorted(table.items()) if v and k in FUZZED}
        atomic_write_text(KNOWN_PATH, json.dumps(table, indent=1) + "\n")


KNOWN_PATH = Path(__file__).with_name("fuzz_known_failures.json")
#: Failures found by this harness and not fixed yet: name -> ["param [kind]", ...].
#: A ratchet: a failure not listed here fails the test (every new function and every
#: new chapter must be clean), and so does a listed one that no longer happens
#: (remove it). Regenerate with EFFTEACH_FUZZ_UPDATE=1 after fixing some (with -k,
#: only the selected targets' entries change).
KNOWN: dict[str, list[str]] = json.loads(KNOWN_PATH.read_text()) \
    if KNOWN_PATH.exists() else {}
_FOUND: dict[str, list[str]] = {}


@pytest.mark.parametrize("name", FUZZED)
def test_bad_arguments_are_refused_by_name(name):
    from fuzz_support import fuzz

    skip = SKIP_PARAMS.get(name, ((), ""))[0]
    failures = fuzz(REGISTRY[name], skip=skip,
                    device_kinds=name.startswith("effteach.kernels."))
    found = {f"{f.param} [{f.kind}]": str(f) for f in failures}
    _FOUND[name] = sorted(found)
    if os.environ.get("EFFTEACH_FUZZ_UPDATE"):
        return
    known = set(KNOWN.get(name, ()))
    new = sorted(k for k in found if k not in known)
    fixed = sorted(known - set(found))
    assert not new, f"{name}:\n  " + "\n  ".join(found[k] for k in new)
    assert not fixed, (
        f"{name}: fixed, remove from {KNOWN_PATH.name}: {fixed}"
    )


