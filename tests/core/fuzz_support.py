"""The engine of the bad-input fuzz harness (tests/core/test_bad_input_fuzz.py).

Which names are public (the rule, applied at collection time, so new chapters and new
functions are covered without editing this file):

1. every subpackage of ``effteach`` (found with :mod:`pkgutil`) that defines
   ``__all__``: the callables in its ``__all__`` (chapters, models, data, claims,
   and every chapter still to come);
2. ``effteach`` itself and the helper modules in :data:`HELPER_MODULES`: their
   ``__all__`` if they define one, else the public (no leading ``_``) functions and
   classes defined in the module itself (not imported into it);
3. every module of ``effteach.kernels``: the same rule as 2.

Constants, exception classes and typing aliases are not callables under test. Left
out as modules, because they are not a Python API but entry points or machinery:
``effteach.cli``, ``effteach.train``, ``effteach.bench`` (argparse ``main``),
``effteach.book`` (a Sphinx extension), ``effteach.pytest_plugin``,
``effteach.tools`` (build commands), ``effteach.lazy_import``.

What a call must do with one bad argument (the rest of the call valid):

* succeed, where the bad value has a documented meaning ("may" kinds only), or
* raise ``ValueError``/``TypeError``, or an exception class of the project itself
  (``effteach.*``), whose message names the parameter.

``None`` is a bad value only where it is not documented: a parameter whose default
is ``None``, or whose type hint admits ``None`` at the top level (``str | None``,
``Optional[...]``), takes it.

A check function (``grading.compare_arrays``, ``symbolic.assert_matches``, ...) says
that values do not match by raising its project's ``AssertionError`` subclass
(``CheckFailed``, ``IdentityError``): that is its documented result, not a refusal, so
it is accepted for the "may" kinds (a well-typed value that is wrong: another shape,
NaN, an empty array). A "must" kind (None, a str for a number) still needs a named
``ValueError``/``TypeError``.

One exception to the exception types, for lookups: a ``KeyError`` is accepted for a
key of the right type that names nothing (the kinds in :data:`LOOKUP_KINDS`, e.g. an
unknown question id for ``grading.get``, an unknown claim id for ``claims.get``, an
unknown tensor name for ``TwoLevelMemory.load``), as a mapping answers it, provided
its message names the parameter. A key of the wrong type (``None``, an int for a str)
is still a ``TypeError``.

And one for assertion helpers (functions named ``assert_*``, e.g.
``effteach.testing.assert_close``): an ``AssertionError`` is their documented answer
to values that do not match (a shape that differs, NaN), so it is accepted, provided
its message names the parameter. A path parameter (example value a ``Path``) takes a
``str`` too (``str | os.PathLike``), so its wrong objects are not strings.

A raw ``IndexError``/``KeyError``/``ZeroDivisionError``/``AttributeError``/
``RuntimeError`` from inside, any ``RuntimeWarning``/``UserWarning`` (turned into
errors), or success with a "must" kind (a float 2.5 taken as an int, NaN taken as a
number, a string taken as a tensor) is a failure.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import os
import pkgutil
import types
import typing
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import effteach

HELPER_MODULES = (
    "effteach.symbolic",
    "effteach.viz",
    "effteach.grading",
    "effteach.grading_triton",
    "effteach.io",
    "effteach.zoo",
    "effteach.metrics",
    "effteach.testing",
    "effteach.device",
    "effteach.source",
)
EXCLUDED_MODULES = (
    "effteach.cli",
    "effteach.train",
    "effteach.bench",
    "effteach.book",
    "effteach.pytest_plugin",
    "effteach.tools",
    "effteach.lazy_import",
)


def _defined_here(mod) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is not None:
        return list(names)
    return sorted(
        n
        for n, o in vars(mod).items()
        if not n.startswith("_")
        and (inspect.isfunction(o) or inspect.isclass(o))
        and getattr(o, "__module__", None) == mod.__name__
    )


def _is_api_callable(obj) -> bool:
    if inspect.isclass(obj):
        return not issubclass(obj, BaseException)
    return inspect.isfunction(obj) or inspect.isbuiltin(obj)


def public_api() -> dict[str, Any]:
    """Every public function and class, as ``"module.name" -> object``.

    Re-exports are listed once, under the first module that exports them (the
    chapter package's ``__all__`` comes before the defining module).
    """
    modules = ["effteach"]
    for info in pkgutil.iter_modules(effteach.__path__, "effteach."):
        if info.name in EXCLUDED_MODULES or info.name in HELPER_MODULES:
            continue
        if info.ispkg:
            mod = importlib.import_module(info.name)
            if hasattr(mod, "__all__"):
                modules.append(info.name)
    modules += list(HELPER_MODULES)
    import effteach.kernels as kernels

    modules += [
        i.name for i in pkgutil.iter_modules(kernels.__path__, "effteach.kernels.")
    ]
    seen: dict[int, str] = {}
    api: dict[str, Any] = {}
    for name in modules:
        mod = importlib.import_module(name)
        for attr in _defined_here(mod):
            obj = getattr(mod, attr)
            if not _is_api_callable(obj) or id(obj) in seen:
                continue
            seen[id(obj)] = name
            api[f"{name}.{attr}"] = obj
    return api


# ------------------------------------------------------------------ bad values
MUST = "must"  # the call must raise a named ValueError/TypeError
MAY = "may"  # the call may succeed; if it raises, the error must name the argument


@dataclasses.dataclass(frozen=True)
class Bad:
    """One kind of bad value for one parameter."""

    kind: str  # e.g. "float-for-int"
    severity: str  # MUST or MAY
    strategy: st.SearchStrategy


class _Junk:
    """An object of no expected type (its repr names it)."""

    def __repr__(self) -> str:
        return "<junk object>"


def _tensor_like(value) -> bool:
    return isinstance(value, (torch.Tensor, np.ndarray))


def _lib(value):
    return torch if isinstance(value, torch.Tensor) else np


def _cast(value, dtype_name: str):
    if isinstance(value, torch.Tensor):
        return value.to(getattr(torch, dtype_name))
    return value.astype(dtype_name)


def _fill(value, x):
    out = value.clone() if isinstance(value, torch.Tensor) else value.copy()
    out.reshape(-1)[:1] = x  # the first element only: one bad entry is enough
    return out


def _empty_like(value):
    shape = (0, *value.shape[1:]) if value.ndim else (0,)
    if isinstance(value, torch.Tensor):
        return torch.empty(shape, dtype=value.dtype, device=value.device)
    return np.empty(shape, dtype=value.dtype)


def _other_rank(value, up: bool):
    if up:
        return value[None]
    return value.reshape(-1) if value.ndim > 1 else value.reshape(1, -1)


def _size(value) -> int:
    return value.numel() if isinstance(value, torch.Tensor) else value.size


def _is_floating(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.is_floating_point()
    return value.dtype.kind == "f"


def _is_integer(value) -> bool:
    if isinstance(value, torch.Tensor):
        return not value.is_floating_point() and value.dtype != torch.bool
    return value.dtype.kind in "iu"


def _tensor_bads(value, device_kinds: bool) -> list[Bad]:
    out = [
        Bad("not-an-array", MUST, st.sampled_from(["abc", _Junk()])),
        Bad("empty", MAY, st.builds(lambda: _empty_like(value))),
        Bad("rank+1", MAY, st.builds(lambda: _other_rank(value, True))),
        Bad("rank-1", MAY, st.builds(lambda: _other_rank(value, False))),
    ]
    if value.ndim and value.shape[-1] > 1:
        out.append(Bad("shape", MAY, st.integers(1, value.shape[-1] - 1).map(
            lambda n: value[..., :n])))
    if _is_floating(value) and _size(value):
        out += [
            Bad("nan", MAY, st.sampled_from([math.nan, math.inf, -math.inf]).map(
                lambda x: _fill(value, x))),
            Bad("int-dtype", MAY, st.just(None).map(lambda _: _cast(value, "int64"))),
        ]
    if _is_integer(value) and _size(value):
        out += [
            Bad("float-dtype", MUST, st.sampled_from([0.5, 2.5]).map(
                lambda x: _cast(value, "float64") + x)),
            Bad("out-of-range", MAY, st.sampled_from([-1, 10**6]).map(
                lambda x: _fill(value, x))),
        ]
    if device_kinds and isinstance(value, torch.Tensor):
        # a CPU kernel path under the interpreter gets a meta tensor; on a GPU
        # machine a CPU tensor goes to the GPU path
        other = "cpu" if value.is_cuda else "meta"
        out.append(Bad("device", MAY, st.just(None).map(lambda _: value.to(other))))
    return out


def hint_allows_none(fn, name: str) -> bool:
    """Whether the type hint of parameter ``name`` of ``fn`` admits ``None``."""
    targets = [fn, fn.__init__] if inspect.isclass(fn) else [fn]
    for target in targets:
        try:
            hints = typing.get_type_hints(inspect.unwrap(target))
        except Exception:  # an unresolvable hint documents nothing
            continue
        if name in hints:
            hint = hints[name]
            if hint is type(None):
                return True
            union = typing.get_origin(hint) in (typing.Union, types.UnionType)
            return union and type(None) in typing.get_args(hint)
    return False


def bad_values(
    param: inspect.Parameter, value, device_kinds: bool = False,
    none_ok: bool = False,
) -> list[Bad]:
    """The kinds of bad value for ``param``, whose valid example is ``value``.

    ``none_ok``: None is documented for it (see :func:`hint_allows_none`).
    """
    none_ok = none_ok or param.default is None or value is None
    out: list[Bad] = []
    if not none_ok:
        out.append(Bad("none", MUST, st.none()))
    if isinstance(value, bool):
        out.append(Bad("not-bool", MUST, st.sampled_from(["yes", _Junk()])))
    elif isinstance(value, (int, np.integer)):
        out += [
            Bad("float-for-int", MUST, st.floats(0.1, 64.0).filter(
                lambda x: not x.is_integer())),
            Bad("nan-for-int", MUST, st.sampled_from([math.nan, math.inf])),
            Bad("str-for-int", MUST, st.sampled_from(["8", "x"])),
            Bad("bool-for-int", MAY, st.booleans()),
            Bad("negative", MAY, st.integers(-1000, -1)),
            Bad("zero", MAY, st.just(0)),
        ]
    elif isinstance(value, float):
        out += [
            Bad("nan", MUST, st.just(math.nan)),
            Bad("inf", MAY, st.sampled_from([math.inf, -math.inf])),
            Bad("str-for-float", MUST, st.sampled_from(["1.0", "x"])),
            Bad("negative", MAY, st.floats(-1e3, -1e-3)),
        ]
    elif isinstance(value, str):
        out += [
            Bad("int-for-str", MUST, st.integers(1, 9)),
            Bad("unknown-str", MAY, st.sampled_from(["no-such-name", ""])),
        ]
    elif _tensor_like(value):
        out += _tensor_bads(value, device_kinds)
    elif isinstance(value, (list, tuple)):
        out += [
            Bad("str-for-seq", MUST, st.just("abc")),
            Bad("empty-seq", MAY, st.just(type(value)())),
        ]
        if value and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                         for x in value):
            out.append(Bad("nan-in-seq", MAY, st.just(type(value)(
                [math.nan, *value[1:]]))))
    elif isinstance(value, torch.dtype):
        out.append(Bad("int-dtype", MAY, st.sampled_from([torch.int64, "float64"])))
    elif callable(value) and not inspect.isclass(value):
        out.append(Bad("not-callable", MUST, st.just(3)))
    elif isinstance(value, os.PathLike):  # a str is a path too (str | PathLike)
        out.append(Bad("wrong-object", MUST, st.sampled_from([3, _Junk()])))
    elif value is not None:  # an object of the library (Program, a model, ...)
        out.append(Bad("wrong-object", MUST, st.sampled_from(["abc", 3, _Junk()])))
    return out


# ------------------------------------------------------------------ the checker
@dataclasses.dataclass(frozen=True)
class Call:
    """A valid call: ``fn(*args, **kwargs)`` succeeds."""

    fn: Callable
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Failure:
    """One bad argument that was not refused properly."""

    param: str
    kind: str
    value: str
    problem: str

    def __str__(self) -> str:
        return f"{self.param} = {self.value} [{self.kind}]: {self.problem}"


def _short(value) -> str:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"{type(value).__name__}(shape={tuple(value.shape)}, {value.dtype})"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def call_quietly(fn, args, kwargs):
    """Call with RuntimeWarning/UserWarning as errors, numpy errors raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("error", UserWarning)
        with np.errstate(all="raise", under="ignore"):  # underflow to 0 is fine
            return fn(*args, **kwargs)


#: Bad kinds that are a well-typed key naming nothing: a lookup may refuse them with
#: a ``KeyError`` (naming the parameter), as a mapping does.
LOOKUP_KINDS = ("unknown-str",)


def judge(
    exc: BaseException | None,
    param: str,
    severity: str,
    kind: str = "",
    asserts: bool = False,
) -> str | None:
    """None if the outcome is acceptable, else what is wrong with it.

    ``asserts``: the function is an assertion helper (``assert_*``), whose
    ``AssertionError`` is a documented answer.
    """
    if exc is None:
        return "accepted silently" if severity == MUST else None
    own = type(exc).__module__.startswith("effteach")
    if own and isinstance(exc, AssertionError) and severity == MAY:
        return None  # a check function's "does not match" (module docstring)
    lookup = isinstance(exc, KeyError) and kind in LOOKUP_KINDS
    asserted = isinstance(exc, AssertionError) and asserts
    if not (isinstance(exc, (ValueError, TypeError)) or own or lookup or asserted):
        return f"raw {type(exc).__name__}: {str(exc)[:120]}"
    if param not in str(exc):
        return f"{type(exc).__name__} does not name '{param}': {str(exc)[:120]}"
    return None


def _signature_params(fn) -> list[inspect.Parameter]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    return list(sig.parameters.values())


def fuzz(
    make: Callable[[], Call],
    max_examples: int = 1,
    skip: tuple[str, ...] = (),
    device_kinds: bool = False,
) -> list[Failure]:
    """Feed every parameter of ``make().fn`` its bad values, one at a time.

    Args:
        make: returns a fresh valid :class:`Call` (fresh, since calls may mutate).
        max_examples: hypothesis examples; each one tries every (parameter, kind).
        skip: parameter names not to fuzz (each with a reason where it is listed).
        device_kinds: also pass tensors on another device (kernel wrappers).

    Returns:
        The failures, one per (parameter, kind) at most.
    """
    base = make()
    try:
        call_quietly(base.fn, base.args, base.kwargs)
    except Exception as err:  # the example itself must be a valid call
        return [Failure("<example>", "valid-call", "", f"{type(err).__name__}: {err}")]
    params = _signature_params(base.fn)
    bound_names = [p.name for p in params]
    failures: dict[tuple[str, str], Failure] = {}

    def plan():
        call = make()
        values = dict(zip(bound_names, call.args, strict=False))
        values.update(call.kwargs)
        items = []
        for p in params:
            if p.name in skip or p.kind is p.VAR_POSITIONAL:
                continue
            if p.kind is p.VAR_KEYWORD:
                items.append((p, "**", [Bad("unknown-kwarg", MUST, st.just(1))]))
                continue
            value = values.get(p.name, p.default)
            if value is inspect.Parameter.empty:
                continue
            items.append((p, p.name, bad_values(
                p, value, device_kinds, hint_allows_none(base.fn, p.name))))
        return items

    items = plan()
    asserts = getattr(inspect.unwrap(base.fn), "__name__", "").startswith("assert_")

    @settings(max_examples=max_examples, derandomize=True, deadline=None,
              database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        for p, name, bads in items:
            for bad in bads:
                if (name, bad.kind) in failures:
                    continue
                value = data.draw(bad.strategy, label=f"{name}:{bad.kind}")
                call = make()
                args, kwargs = list(call.args), dict(call.kwargs)
                if name == "**":
                    kwargs["bogus_kw"] = value
                    name_in_msg = "bogus_kw"
                else:
                    name_in_msg = name
                    idx = bound_names.index(name)
                    if idx < len(args) and p.kind is not p.KEYWORD_ONLY:
                        args[idx] = value
                    else:
                        kwargs[name] = value
                try:
                    call_quietly(call.fn, args, kwargs)
                    exc = None
                except Exception as err:  # judged below
                    exc = err
                problem = judge(exc, name_in_msg, bad.severity, bad.kind, asserts)
                if problem:
                    failures[(name, bad.kind)] = Failure(
                        name_in_msg, bad.kind, _short(value), problem
                    )

    run()
    return list(failures.values())
