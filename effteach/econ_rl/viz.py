"""The chapter's figures: problem explorer, training curves, game arena.

Each figure has two faces (:mod:`effteach.viz`): a plotly figure with a slider that
works in the static book, and an ipywidgets panel (``*_panel``) for JupyterLab built
on the same builder, so the two cannot disagree.

Book: notebooks/econ_rl/lecture.md, "A checkpoint made on the CPU" and "A game arena".
"""

from __future__ import annotations

import dataclasses

import plotly.graph_objects as go

from effteach.checks import check_int
from effteach.econ_rl.arena import (
    GAMES,
    STRATEGIES,
    CheckpointPlayer,
    _strategy,
    play,
)
from effteach.econ_rl.problems import CATEGORIES, generate, parse_answer
from effteach.econ_rl.rewards import binary_reward, recon_reward
from effteach.viz import panel, slider_figure

__all__ = ["arena_figure", "arena_panel", "curves_figure", "explore",
           "explorer_figure", "explorer_panel"]

_HEIGHT = 430


def _check_model(model):
    from torch import nn

    if not isinstance(model, nn.Module) or not hasattr(model, "new_cache"):
        raise TypeError("model: expected a TinyGPT (effteach.zoo.load(...))")


def explore(model, category: str, seed: int = 0, difficulty: int = 1) -> dict:
    """One problem, its verified solution and the model's scored greedy answer.

    Returns:
        ``problem``, ``completion`` (the model's text), ``parsed`` (its boxed answer,
        canonical, or None), ``grade``, ``binary`` and ``recon`` (Recon's reward
        without the think-block stage: the small model writes none).
    """
    from effteach.econ_rl.lm import complete, decode, encode
    from effteach.econ_rl.problems import grade

    _check_model(model)
    p = generate(category, seed, difficulty)
    text = decode(complete(model, [encode(p.prompt)], 260)[0])
    return {"problem": p, "completion": text, "parsed": parse_answer(text),
            "grade": grade(p, text), "binary": binary_reward(p, text),
            "recon": recon_reward(p, text, require_think=False)}


def _wrap(s: str, width: int = 70) -> str:
    import textwrap

    return "<br>".join(textwrap.fill(line, width).replace("\n", "<br>")
                       for line in s.split("\n"))


def _table_height(tables) -> int:
    """Pixels the tallest of these tables needs: 24 px a row, 17 px a wrapped line.

    A fixed figure height left a blank band under short tables (the book at 1280 px).
    """
    def one(t):
        cells = t.cells.values[1]
        return 30 + sum(24 + 17 * str(c).count("<br>") for c in cells)
    return max(one(t) for t in tables)


def _explore_trace(r: dict) -> go.Table:
    p = r["problem"]
    rows = [("problem", _wrap(p.prompt)), ("verified answer", p.answer),
            ("worked solution", _wrap(p.solution)),
            ("model's answer", _wrap(r["completion"].strip() or "(empty)")),
            ("parsed", str(r["parsed"])), ("grade", r["grade"]),
            ("binary reward", f"{r['binary']:g}"),
            ("Recon reward", f"{r['recon']:+g}")]
    return go.Table(columnwidth=[1, 4],
                    header={"values": ["", f"{p.category}, difficulty {p.difficulty}"],
                            "align": "left"},
                    cells={"values": [[a for a, _ in rows], [b for _, b in rows]],
                           "align": "left", "height": 24})


def explorer_figure(model, cases, difficulty: int = 1) -> go.Figure:
    """A slider over ``cases`` (``(category, seed)`` pairs), one table per case."""
    _check_model(model)
    if isinstance(cases, str) or not isinstance(cases, (list, tuple)) or not cases:
        raise TypeError("cases: expected a non-empty list of (category, seed) pairs")
    for c in cases:
        if not isinstance(c, (list, tuple)) or len(c) != 2:
            raise TypeError(f"cases: expected (category, seed) pairs, got {c!r}")
        try:
            generate(c[0], c[1], 1)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"cases: {exc}") from exc
    cases = [tuple(c) for c in cases]
    results = {c: explore(model, c[0], c[1], difficulty) for c in cases}
    height = _table_height([_explore_trace(r) for r in results.values()])
    return slider_figure(lambda c: [_explore_trace(results[tuple(c)])],
                         [tuple(c) for c in cases], "problem",
                         title="A problem, its verified answer, the model's answer",
                         # short tick labels: long ones leave the figure at its ends
                         # (the table's header names the category)
                         fmt=lambda c: str(cases.index(c) + 1),
                         layout={"height": height + 170, "autosize": True,
                                 "margin": {"l": 10, "r": 10, "t": 50, "b": 10}})


def explorer_panel(model):
    """Live explorer: category, seed and difficulty controls (ipywidgets)."""
    import ipywidgets as widgets

    _check_model(model)
    category = widgets.Dropdown(options=list(CATEGORIES), value="dominant",
                                description="category")
    seed = widgets.IntSlider(value=0, min=0, max=200, description="seed",
                             continuous_update=False)
    difficulty = widgets.IntSlider(value=1, min=1, max=3, description="difficulty",
                                   continuous_update=False)

    def builder(category, seed, difficulty):
        r = explore(model, category, seed, difficulty)
        trace = _explore_trace(r)
        fig = go.Figure([trace])
        fig.update_layout(title=f"{category}, seed {seed}, difficulty {difficulty}",
                          height=_table_height([trace]) + 70, autosize=True,
                          margin={"l": 10, "r": 10, "t": 50, "b": 10})
        return fig

    box = panel(builder, launch="explorer_panel(model)", category=category,
                seed=seed, difficulty=difficulty)
    box.category, box.seed, box.difficulty = category, seed, difficulty
    return box


_CURVES = ("SFT loss", "GRPO mean reward", "KL to the SFT model",
           "share of clipped tokens")


def curves_figure(train: dict) -> go.Figure:
    """The checkpoint's training curves; the slider picks the quantity.

    Args:
        train: the ``"train"`` entry of the checkpoint's config
            (``zoo.read_json(name, "config")["train"]``), with ``loss_log``,
            ``rl_log`` and ``sft_steps``.
    """
    if not isinstance(train, dict) or not {"loss_log", "rl_log", "sft_steps"} <= set(
            train):
        raise TypeError("train: expected the config's 'train' dict with loss_log, "
                        "rl_log and sft_steps")
    sft, rl, n = train["loss_log"], train["rl_log"], train["sft_steps"]

    def traces(which):
        if which == _CURVES[0]:
            return [go.Scatter(x=[s for s, _ in sft], y=[v for _, v in sft],
                               mode="lines+markers", name=which)]
        col = _CURVES.index(which)
        return [go.Scatter(x=[n + r[0] for r in rl], y=[r[col] for r in rl],
                           mode="lines+markers", name=which)]

    short = dict(zip(_CURVES, ("SFT loss", "reward", "KL", "clipped"), strict=True))
    return slider_figure(traces, list(_CURVES), "curve",
                         title="Training of the CPU checkpoint: SFT, then GRPO",
                         fmt=short.__getitem__,
                         layout={"height": _HEIGHT, "autosize": True,
                                 "xaxis": {"title": "optimiser step (GRPO: "
                                                    "after the SFT steps)"},
                                 "yaxis": {"title": "value"}, "showlegend": False})


#: short opponent names for slider ticks (long ones leave the figure)
_SHORT = {"always_cooperate": "all-C", "always_defect": "all-D", "tit_for_tat": "TFT",
          "grim_trigger": "grim", "best_response": "best resp."}
#: legend on the right: above the plot it collides with the title
_LEGEND = {"x": 1.02, "y": 1.0, "xanchor": "left"}


def _match_traces(r):
    x = list(range(1, len(r.actions) + 1))
    eq = [i for i, f in zip(x, r.equilibrium, strict=True) if f]
    m0, m1 = r.mean_payoffs
    return [go.Bar(x=x, y=r.payoffs[:, 0], name=f"{r.row} (row), mean {m0:.2f}"),
            go.Bar(x=x, y=r.payoffs[:, 1], name=f"{r.col} (column), mean {m1:.2f}"),
            go.Scatter(x=eq, y=[-0.3] * len(eq), mode="markers",
                       marker={"symbol": "diamond", "size": 7, "color": "#2e933c"},
                       name=f"Nash profile ({r.equilibrium_rate:.0%} of rounds)")]


def arena_figure(player, player_name: str, game: str, opponents=None,
                 rounds: int = 20, seed: int = 0) -> go.Figure:
    """Payoffs per round of ``player`` (row) against each opponent; slider over them.

    Diamonds mark the rounds whose profile is a pure Nash equilibrium of the stage
    game; the legend gives the equilibrium-play rate and the mean payoffs.
    """
    if not isinstance(player_name, str):
        raise TypeError("player_name: expected a str")
    _strategy("player", player)
    if opponents is None:
        opponents = [s for s in STRATEGIES if s != "best_response"]
    if isinstance(opponents, str) or not isinstance(opponents, (list, tuple)) or (
            not opponents):
        raise TypeError("opponents: expected a non-empty list of strategy names")
    for o in opponents:
        if not isinstance(o, str):
            raise TypeError(f"opponents: expected strategy names, got {o!r}")
        _strategy("opponents", o)
    res = {o: play(game, player, o, rounds, seed) for o in opponents}
    res = {o: dataclasses.replace(r, row=player_name) for o, r in res.items()}
    return slider_figure(
        lambda o: _match_traces(res[o]), list(opponents), "opponent",
        title=f"{player_name} in {game.replace('_', ' ')}: payoff per round",
        fmt=lambda o: _SHORT.get(o, o),
        layout={"height": _HEIGHT + 40, "autosize": True, "barmode": "group",
                "xaxis": {"title": "round"}, "yaxis": {"title": "payoff"},
                "legend": _LEGEND})


def arena_panel(model=None, rounds: int = 20):
    """Live arena: player, game, opponent and seed controls (ipywidgets).

    ``model`` (a TinyGPT) adds the player ``checkpoint``
    (:class:`~effteach.econ_rl.arena.CheckpointPlayer`).
    """
    import ipywidgets as widgets

    rounds = check_int("rounds", rounds, low=1, high=200)
    players = {s: s for s in ("nash", "best_response", "random", "tit_for_tat")}
    if model is not None:
        _check_model(model)
        players = {"checkpoint": CheckpointPlayer(model), **players}
    player = widgets.Dropdown(options=list(players), description="player")
    game = widgets.Dropdown(options=list(GAMES), description="game")
    opponent = widgets.Dropdown(options=list(STRATEGIES), value="tit_for_tat",
                                description="opponent")
    seed = widgets.IntSlider(value=0, min=0, max=20, description="seed",
                             continuous_update=False)

    def builder(player, game, opponent, seed):
        r = play(game, players[player], opponent, rounds, seed)
        r = dataclasses.replace(r, row=player)
        fig = go.Figure(_match_traces(r))
        fig.update_layout(
            title=(f"{player} vs {opponent}, {game.replace('_', ' ')}: eq "
                   f"{r.equilibrium_rate:.0%}, mean {r.mean_payoffs[0]:.2f} : "
                   f"{r.mean_payoffs[1]:.2f}"),
            height=_HEIGHT, autosize=True, barmode="group",
            xaxis={"title": "round"}, yaxis={"title": "payoff"}, legend=_LEGEND)
        return fig

    box = panel(builder, launch="arena_panel(model)", player=player, game=game,
                opponent=opponent, seed=seed)
    box.player, box.game, box.opponent, box.seed = player, game, opponent, seed
    return box
