r"""Repeated 2x2 games against fixed opponents: equilibrium play and payoffs.

A *game* is a pair of payoff matrices ``(A, B)``, row player's and column player's,
indexed ``[row action, column action]``; :data:`GAMES` holds three classics with
payoffs in 0..9 (the digits the generator's 2x2 problems use).  A *strategy* is a
callable ``strategy(own, other, mine, theirs, rng) -> action`` that sees the game
from its own side: ``own[i, j]`` is its payoff when it plays ``i`` and the opponent
``j``, ``other[i, j]`` the opponent's; ``mine`` and ``theirs`` are the earlier
actions (0-indexed) and ``rng`` a seeded NumPy generator.  The column player sees the
transposed game, so every strategy can play either side.

Scripted strategies (:data:`STRATEGIES`): ``always_cooperate`` (action 0),
``always_defect`` (action 1), ``tit_for_tat`` (0, then the opponent's last action),
``grim_trigger`` (0 until the opponent has ever played 1), ``random`` (uniform),
``nash`` (its row of the first pure equilibrium of the stage game; with none, the
mixed equilibrium's probabilities) and ``best_response`` (best response to the
opponent's last action, to a uniform opponent in round 1; ties to the lower index).

:class:`CheckpointPlayer` lets a trained language model play: it is prompted with the
stage game as a pure-Nash problem (:func:`game_prompt`, the generator's exact text)
plus the last ``memory`` rounds, and plays the row of the first profile in its boxed
answer (parsed by :func:`~effteach.econ_rl.problems.parse_answer`).  Any other answer
(``none``, a number, nothing parseable) gives the **fallback action 0**, counted in
``fallbacks``.

:func:`play` reports the equilibrium-play rate (share of rounds whose profile is a
pure Nash equilibrium of the stage game, by
:func:`~effteach.econ_rl.problems.pure_nash`) and the mean payoffs.

Paper: Recon (arXiv 2506.00577), multi-agent game evaluation.
Book: notebooks/econ_rl/lecture.md, "A game arena".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from effteach.checks import check_int
from effteach.econ_rl.problems import (
    INSTRUCTION,
    _check_matrix,
    _game_text,
    mixed_nash_2x2,
    parse_answer,
    pure_nash,
)

__all__ = ["GAMES", "STRATEGIES", "CheckpointPlayer", "MatchResult", "game_prompt",
           "play", "tournament"]

#: name -> (A, B); action 0 is "cooperate" / the first row or column
GAMES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "prisoners_dilemma": (np.array([[3, 0], [5, 1]]), np.array([[3, 5], [0, 1]])),
    "coordination": (np.array([[2, 0], [0, 1]]), np.array([[2, 0], [0, 1]])),
    "matching_pennies": (np.array([[2, 0], [0, 2]]), np.array([[0, 2], [2, 0]])),
}

QUESTION = "List all pure-strategy Nash equilibria as (row,column) pairs."


def _always(a):
    def strategy(own, other, mine, theirs, rng):
        return a
    return strategy


def _tit_for_tat(own, other, mine, theirs, rng):
    return int(theirs[-1]) if len(theirs) else 0


def _grim(own, other, mine, theirs, rng):
    return 1 if 1 in theirs else 0


def _random(own, other, mine, theirs, rng):
    return int(rng.integers(own.shape[0]))


def _nash(own, other, mine, theirs, rng):
    eq = pure_nash(own, other)
    if eq:
        return eq[0][0]
    try:
        p, _q = mixed_nash_2x2(own, other)
    except ValueError:
        return int(rng.integers(own.shape[0]))
    return 0 if rng.random() < float(p) else 1


def _best_response(own, other, mine, theirs, rng):
    if len(theirs):
        vals = own[:, int(theirs[-1])]
    else:
        vals = own.mean(axis=1)
    return int(np.argmax(vals))


#: name -> scripted strategy (see the module docstring)
STRATEGIES: dict[str, Callable] = {
    "always_cooperate": _always(0),
    "always_defect": _always(1),
    "tit_for_tat": _tit_for_tat,
    "grim_trigger": _grim,
    "random": _random,
    "nash": _nash,
    "best_response": _best_response,
}


def _game(game):
    if isinstance(game, str):
        if game not in GAMES:
            raise ValueError(f"game: unknown game {game!r}; expected one of "
                             f"{tuple(GAMES)} or a pair (A, B)")
        return GAMES[game]
    if not isinstance(game, (tuple, list)) or len(game) != 2:
        raise TypeError("game: expected a name or a pair (A, B) of payoff matrices")
    A = _check_matrix("game", game[0])
    B = _check_matrix("game", game[1])
    if A.shape != (2, 2) or B.shape != (2, 2):
        raise ValueError(f"game: expected two 2x2 matrices, got {A.shape} and "
                         f"{B.shape}")
    return A, B


def _history(name, history):
    if isinstance(history, (str, bytes)) or not isinstance(history, (list, tuple)):
        raise TypeError(f"{name}: expected a sequence of (row, column) action pairs")
    out = []
    for h in history:
        if (not isinstance(h, (list, tuple)) or len(h) != 2
                or not all(isinstance(a, (int, np.integer)) and not isinstance(
                    a, bool) for a in h)):
            raise TypeError(f"{name}: expected (row, column) pairs of ints, got {h!r}")
        if not all(0 <= a <= 1 for a in h):
            raise ValueError(f"{name}: actions must be 0 or 1, got {h!r}")
        out.append((int(h[0]), int(h[1])))
    return out


def game_prompt(A, B, history=()) -> str:
    """The stage game as the generator's pure-Nash problem, plus earlier rounds.

    With no history the text equals :func:`~effteach.econ_rl.problems.generate`'s
    ``pure_nash`` prompt for the same payoffs; otherwise a line
    ``Previous rounds (row,column): (1,2),(2,2).`` (1-indexed, oldest first) comes
    before the question.

    Raises:
        ValueError/TypeError: naming ``A``, ``B`` or ``history``.
    """
    A = _check_matrix("A", A)
    B = _check_matrix("B", B)
    if A.shape != B.shape:
        raise ValueError(f"B: shape {B.shape} differs from A's {A.shape}")
    for nm, M in (("A", A), ("B", B)):
        if not np.all(M == np.round(M)):
            raise ValueError(f"{nm}: expected integer payoffs")
    A, B = A.astype(int), B.astype(int)
    hist = _history("history", history)
    m, n = A.shape
    text = (f"Two players play a {m}x{n} game. Entries are (row payoff, "
            f"column payoff):\n{_game_text(A, B)}\n")
    if hist:
        text += ("Previous rounds (row,column): "
                 + ",".join(f"({i + 1},{j + 1})" for i, j in hist) + ".\n")
    return text + QUESTION + " " + INSTRUCTION


class CheckpointPlayer:
    """A language model as a strategy: it answers :func:`game_prompt` greedily.

    Args:
        model: a TinyGPT over :mod:`effteach.econ_rl.lm`'s characters (e.g.
            ``effteach.zoo.load("econ_rl_gpt")``).
        memory: how many earlier rounds the prompt shows (0: none).
        n_new: the most characters generated per answer.

    Attributes:
        calls, fallbacks: rounds played and rounds that fell back to action 0
            (answer ``none``, another kind of answer, or nothing parseable).
        answers: prompt -> (completion, parsed answer); greedy decoding is
            deterministic, so a repeated prompt is answered from here.
    """

    def __init__(self, model, memory: int = 1, n_new: int = 160):
        from torch import nn

        if not isinstance(model, nn.Module) or not hasattr(model, "new_cache"):
            raise TypeError("model: expected a TinyGPT (effteach.zoo.load(...))")
        self.model = model
        self.memory = check_int("memory", memory, low=0, high=8)
        self.n_new = check_int("n_new", n_new, low=1)
        self.calls = self.fallbacks = 0
        self.answers: dict[str, tuple[str, str | None]] = {}

    def __call__(self, own, other, mine, theirs, rng) -> int:
        """Play one round (the strategy signature of the module docstring)."""
        from effteach.econ_rl.lm import complete, decode, encode

        k = self.memory
        hist = list(zip(mine, theirs, strict=True))[-k:] if k else []
        prompt = game_prompt(own, other, hist)
        if prompt not in self.answers:
            out = complete(self.model, [encode(prompt)], self.n_new)[0]
            text = decode(out)
            self.answers[prompt] = (text, parse_answer(text))
        ans = self.answers[prompt][1]
        self.calls += 1
        if ans is not None and ans.startswith("{("):
            row = int(ans[2:].split(",")[0]) - 1
            if 0 <= row < own.shape[0]:
                return row
        self.fallbacks += 1
        return 0


@dataclass(frozen=True)
class MatchResult:
    """The record of one repeated game.

    ``actions`` and ``payoffs`` have shape (rounds, 2), row player first;
    ``equilibrium`` flags the rounds whose profile is a pure Nash equilibrium.
    """

    game: str
    row: str
    col: str
    actions: np.ndarray
    payoffs: np.ndarray
    equilibrium: np.ndarray

    @property
    def equilibrium_rate(self) -> float:
        """Share of rounds played at a pure Nash equilibrium of the stage game."""
        return float(self.equilibrium.mean())

    @property
    def mean_payoffs(self) -> tuple[float, float]:
        """Average payoff per round of the row and of the column player."""
        m = self.payoffs.mean(axis=0)
        return float(m[0]), float(m[1])


def _strategy(name, s):
    if isinstance(s, str):
        if s not in STRATEGIES:
            raise ValueError(f"{name}: unknown strategy {s!r}; expected one of "
                             f"{tuple(STRATEGIES)} or a callable")
        return s, STRATEGIES[s]
    if not callable(s):
        raise TypeError(f"{name}: expected a strategy name or a callable, got "
                        f"{type(s).__name__}")
    return getattr(s, "__name__", type(s).__name__), s


def play(game, row, col, rounds: int = 20, seed: int = 0) -> MatchResult:
    """Play ``rounds`` rounds of ``game`` between strategies ``row`` and ``col``.

    Args:
        game: a name of :data:`GAMES` or a pair ``(A, B)`` of 2x2 payoff matrices.
        row: the row player, a name of :data:`STRATEGIES` or a strategy callable.
        col: the column player, likewise.
        rounds: number of rounds (at least 1).
        seed: seeds each side's generator (row ``[seed, 0]``, column ``[seed, 1]``).

    Raises:
        ValueError/TypeError: naming ``game``, ``row``, ``col``, ``rounds`` or
            ``seed``; ``row``/``col`` if a strategy returns an invalid action.
    """
    gname = game if isinstance(game, str) else "custom"
    A, B = _game(game)
    rname, rs = _strategy("row", row)
    cname, cs = _strategy("col", col)
    rounds = check_int("rounds", rounds, low=1, high=10_000)
    seed = check_int("seed", seed, low=0)
    rr, rc = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    eq = set(pure_nash(A, B))
    hr: list[int] = []
    hc: list[int] = []
    for _ in range(rounds):
        a = rs(A, B, tuple(hr), tuple(hc), rr)
        b = cs(B.T, A.T, tuple(hc), tuple(hr), rc)
        for nm, x in (("row", a), ("col", b)):
            if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not (
                    0 <= x <= 1):
                raise ValueError(f"{nm}: strategy returned {x!r}, expected 0 or 1")
        hr.append(int(a))
        hc.append(int(b))
    acts = np.array([hr, hc]).T
    pay = np.array([[A[i, j], B[i, j]] for i, j in acts], dtype=float)
    flags = np.array([(i, j) in eq for i, j in acts], dtype=float)
    return MatchResult(gname, rname, cname, acts, pay, flags)


def tournament(players: dict, opponents: Sequence[str] | None = None,
               games: Sequence[str] | None = None, rounds: int = 20,
               seed: int = 0) -> list[dict]:
    """Every player (as row) against every opponent (as column) in every game.

    Args:
        players: label -> strategy (name or callable).
        opponents: names of :data:`STRATEGIES` (default: all but ``best_response``).
        games: names of :data:`GAMES` (default: all).
        rounds: rounds per match.
        seed: the seed of every match (:func:`play`).

    Returns:
        One dict per match: ``game``, ``player``, ``opponent``, ``eq_rate``,
        ``payoff`` (row's mean), ``opp_payoff`` and the :class:`MatchResult`.
    """
    if not isinstance(players, dict) or not players:
        raise TypeError("players: expected a non-empty dict label -> strategy")
    for s in players.values():
        _strategy("players", s)
    if opponents is None:
        opponents = [s for s in STRATEGIES if s != "best_response"]
    if games is None:
        games = list(GAMES)
    for nm, seq in (("opponents", opponents), ("games", games)):
        if isinstance(seq, str) or not isinstance(seq, (list, tuple)) or not seq:
            raise TypeError(f"{nm}: expected a non-empty list of names")
    for o in opponents:
        _strategy("opponents", o)
    for g in games:
        if not isinstance(g, str):
            raise TypeError(f"games: expected names of GAMES, got {g!r}")
        if g not in GAMES:
            raise ValueError(f"games: unknown game {g!r}; expected one of "
                             f"{tuple(GAMES)}")
    rows = []
    for g in games:
        for label, s in players.items():
            for o in opponents:
                r = play(g, s, o, rounds, seed)
                rows.append({"game": g, "player": label, "opponent": o,
                             "eq_rate": r.equilibrium_rate,
                             "payoff": r.mean_payoffs[0],
                             "opp_payoff": r.mean_payoffs[1], "result": r})
    return rows
