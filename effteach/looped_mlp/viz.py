"""Figures of the looped_mlp chapter: a whole run of the looped MLP, step by step.

:func:`run_figure` records a run of a program on the compiled loop body and draws,
for every (kept) step, three views of the machine:

* the program listing, with the instruction at the current PC highlighted;
* memory as signed integers (bars: the MLP's decoded state; diamonds: the reference
  interpreter's memory at the same step, so a wrong bit shows as a gap);
* the hidden activations of every ReLU layer of the step that executes that
  instruction (one heatmap row per layer; by default only the units the layer
  computes, not the identity units that carry the state along).

The figure has plotly frames, play/pause buttons and a slider, so it works in the
static book with no kernel. :func:`debugger_panel` wraps the same builder in ipywidgets
(step slider linked to a play button, dtype, noise and snap controls) for a live
kernel.

Paper: Liang et al. 2024 (arXiv 2410.09375), main result: one pass of the looped MLP
    executes one SUBLEQ instruction (section numbers unchecked: the full text was not
    available to us).
Book: notebooks/looped_mlp/lecture.md, "Watching the machine run".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from effteach.checks import check_sequence
from effteach.looped_mlp.asm import Program, disassemble
from effteach.looped_mlp.compiler import LoopedMLP, compile_machine
from effteach.looped_mlp.reference import Trace
from effteach.looped_mlp.reference import run as reference_run
from effteach.viz import panel

__all__ = [
    "Recording",
    "record_run",
    "run_figure",
    "step_figure",
    "debugger_panel",
    "throughput_figure",
]

DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
# activation 0 white, 1 blue, >= 2 dark blue (saturated); activations are >= 0
_COLORSCALE = [[0.0, "#ffffff"], [0.5, "#1f5fa8"], [1.0, "#08306b"]]
_HIGHLIGHT = "rgba(237, 174, 73, 0.55)"
_READ, _WRITE, _OTHER = "#edae49", "#d1495b", "#1f5fa8"


# ----------------------------------------------------------------- recording
@dataclasses.dataclass(frozen=True)
class Recording:
    """A run of a program on the looped MLP, with every layer's activations.

    Attributes:
        program: the program that ran.
        machine: the loop body it ran on.
        dtype: the arithmetic of the run.
        noise: standard deviation of the Gaussian noise added before every step.
        memory: decoded memory, int64 (T + 1, n_mem), for t = 0 .. T.
        pc: decoded PC, int64 (T + 1,).
        hidden: per layer, float64 (T + 1, width): the activations of the step that
            starts from state t (for t = T: the step that confirmed the fixed point,
            or the step past the limit).
        halted: whether the MLP reached a fixed point.
        reference: the interpreter's trace of the same program.
    """

    program: Program
    machine: LoopedMLP
    dtype: str
    noise: float
    memory: np.ndarray
    pc: np.ndarray
    hidden: tuple[np.ndarray, ...]
    halted: bool
    reference: Trace

    @property
    def steps(self) -> int:
        """Steps recorded (the last state is ``memory[steps]``)."""
        return len(self.pc) - 1

    def reference_at(self, t: int) -> tuple[np.ndarray, int]:
        """The interpreter's memory and PC at step ``t`` (its final state after it)."""
        k = min(t, self.reference.steps)
        return self.reference.memory[k], int(self.reference.pc[k])


def _check_program(program) -> Program:
    if not isinstance(program, Program):
        raise TypeError(
            "program: expected an assembled effteach.looped_mlp.Program (from "
            f"assemble or demo), got {type(program).__name__}"
        )
    return program


def _machine_for(program: Program, machine) -> LoopedMLP:
    if machine is None:
        return compile_machine(program.n_mem, program.bits, program.n_instr)
    if not isinstance(machine, LoopedMLP):
        raise TypeError(
            "machine: expected a LoopedMLP from compile_machine, got "
            f"{type(machine).__name__}"
        )
    lay = machine.layout
    if (lay.n_mem, lay.bits, lay.n_instr) != (
        program.n_mem, program.bits, program.n_instr
    ):
        raise ValueError(
            f"machine: compiled for n_mem={lay.n_mem}, bits={lay.bits}, "
            f"n_instr={lay.n_instr}, but the program was assembled for "
            f"n_mem={program.n_mem}, bits={program.bits}, n_instr={program.n_instr}"
        )
    return machine


def _dtype_name(dtype, arg: str = "dtype") -> str:
    for name, dt in DTYPES.items():
        if dtype == name or dtype == dt:
            return name
    raise ValueError(f"{arg}: expected one of {sorted(DTYPES)}, got {dtype!r}")


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value}")
    return int(value)


def _rounded_bits(x: torch.Tensor, idx: np.ndarray) -> np.ndarray:
    # the rounding of Layout.decode (nan -> 0, clip to {0, 1}) on the chosen coords
    v = np.nan_to_num(x.double().numpy()[0, idx], nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(np.rint(v), 0, 1)


def record_run(
    program: Program,
    machine: LoopedMLP | None = None,
    dtype="float64",
    noise: float = 0.0,
    seed: int = 0,
    max_steps: int = 1000,
) -> Recording:
    """Run ``program`` on the looped MLP, keeping every layer's activations.

    The loop is :meth:`LoopedMLP.run`'s (same noise draws, same fixed-point test on
    the decoded memory and PC), but it also keeps the hidden activations, which
    ``run`` discards.

    Args:
        program: an assembled program.
        machine: the loop body; by default ``compile_machine`` of the program's
            sizes (``fused5``).
        dtype: ``"float64"``, ``"float32"``, ``"float16"`` or ``"bfloat16"`` (or the
            torch dtype).
        noise: standard deviation (>= 0) of Gaussian noise added to the state before
            every step.
        seed: seed of the noise.
        max_steps: stop after this many steps if no fixed point is reached.

    Returns:
        A :class:`Recording`.

    Raises:
        TypeError, ValueError: naming the bad argument.

    Paper: Liang et al. 2024 (arXiv 2410.09375), main result (the looped MLP).
    Book: notebooks/looped_mlp/lecture.md, "Watching the machine run".
    """
    program = _check_program(program)
    machine = _machine_for(program, machine)
    name = _dtype_name(dtype)
    dt = DTYPES[name]
    if not isinstance(noise, (int, float, np.floating)) or isinstance(noise, bool):
        raise TypeError(f"noise: expected a float, got {type(noise).__name__}")
    if not noise >= 0:
        raise ValueError(f"noise: expected >= 0, got {noise}")
    max_steps = _check_int("max_steps", max_steps, 1)
    seed = _check_int("seed", seed, 0)
    lay = machine.layout
    watched = np.r_[0 : lay.n_mem * lay.bits, lay.pc(0) : lay.pc(0) + lay.lc]

    g = torch.Generator().manual_seed(seed)
    x = machine.encode(program).to(dt)[None]
    states, hidden = [x], []
    halted = False
    with torch.no_grad():
        for _ in range(max_steps + 1):
            inp = x + noise * torch.randn(x.shape, generator=g).to(dt) if noise else x
            nxt, hid = machine.step(inp, trace=True)
            hidden.append([h[0].double().numpy() for h in hid])
            if np.array_equal(_rounded_bits(nxt, watched), _rounded_bits(x, watched)):
                halted = True
                break
            if len(states) > max_steps:
                break
            states.append(nxt)
            x = nxt
    mem, pc, _ = lay.decode(torch.cat(states).double().numpy())
    ref = reference_run(program, max_steps=max_steps, strict=False)
    layers = tuple(np.stack([h[i] for h in hidden]) for i in range(machine.net.depth))
    return Recording(program, machine, name, float(noise), mem, pc, layers, halted,
                     ref)


# ------------------------------------------------------------- the traces
def _cell_names(program: Program) -> list[str]:
    starts = sorted(program.symbols.items(), key=lambda kv: kv[1])
    names = [str(i) for i in range(program.n_mem)]
    for j, (name, at) in enumerate(starts):
        end = starts[j + 1][1] if j + 1 < len(starts) else at + 1
        for i in range(at, end):
            names[i] = name if i == at else f"{name}+{i - at}"
    return names


def _listing(program: Program, n_show: int) -> list[str]:
    src = program.source.splitlines()
    text = [ln.split(":", 1)[1].strip() for ln in disassemble(program)]
    out = []
    for k in range(n_show):
        if k < len(text):
            # the source statement, on the first instruction it expands to
            first = k == 0 or program.lines[k] != program.lines[k - 1]
            line = " ".join(src[program.lines[k] - 1].split(";", 1)[0].split())
            note = f"  <span style='color:#888'>{line}</span>" if first else ""
            out.append(f"{k}: {text[k]}{note}")
        else:
            out.append(f"{k}: halt <span style='color:#888'>(padding)</span>")
    return out


def _units(machine: LoopedMLP, carried: bool) -> list[np.ndarray]:
    net = machine.net
    if carried:
        return [np.arange(w) for w in net.widths]
    return [np.flatnonzero(c) for c in net.computed]


def _heat_z(rec: Recording, t: int, layer: int, units: np.ndarray):
    if len(units) == 0:
        return [[None]]  # a layer that only carries the state
    z = np.nan_to_num(rec.hidden[layer][t, units], nan=0.0, posinf=1e4, neginf=0.0)
    if np.array_equal(z, np.rint(z)) and np.abs(z).max() < 2**15:
        return z.astype(np.int16)[None]  # exact runs: compact in the page's JSON
    return z.astype(np.float32)[None]


def _layer_labels(machine: LoopedMLP) -> list[str]:
    net = machine.net
    return [
        f"L{i + 1}" + (f" {st}" if st else "") for i, st in enumerate(net.stages)
    ]


def _title(rec: Recording, t: int, listing: list[str]) -> str:
    pc = int(rec.pc[t])
    instr = listing[pc].split("<span")[0].split(":", 1)[1].strip()
    state = "halted (fixed point)" if rec.halted and t == rec.steps else "running"
    ref_mem, ref_pc = rec.reference_at(t)
    agree = pc == ref_pc and np.array_equal(rec.memory[t], ref_mem)
    return (
        f"step {t}/{rec.steps}, pc = {pc}: {instr}  ({state}; "
        f"{'agrees with' if agree else 'DIFFERS from'} the interpreter)"
    )


def _frame_traces(rec: Recording, t: int, units, names) -> list[go.BaseTraceType]:
    """The traces that change from step to step: pc, memory, interpreter, layers."""
    pc = int(rec.pc[t])
    a, b, _ = (int(v) for v in rec.program.code[pc])
    colors = [_OTHER] * rec.program.n_mem
    colors[a] = _READ
    colors[b] = _WRITE  # b after a: "subleq X, X" writes the cell it reads
    ref_mem, _ = rec.reference_at(t)
    return [
        go.Bar(
            x=[1.0], y=[pc], orientation="h", width=0.9, base=0,
            marker={"color": _HIGHLIGHT}, name="pc", hoverinfo="skip",
            showlegend=False,
        ),
        go.Bar(
            x=names, y=rec.memory[t].tolist(), marker={"color": colors},
            name="memory (MLP)", text=[str(v) for v in rec.memory[t]],
            textposition="outside",
            hovertemplate="%{x} = %{y}<extra>MLP</extra>",
        ),
        go.Scatter(
            x=names, y=ref_mem.tolist(), mode="markers", name="interpreter",
            marker={"symbol": "diamond-open", "size": 10, "color": "black"},
            hovertemplate="%{x} = %{y}<extra>interpreter</extra>",
        ),
    ] + [
        go.Heatmap(
            z=_heat_z(rec, t, layer, u), zmin=0, zmax=2, colorscale=_COLORSCALE,
            showscale=False, name=f"layer {layer + 1}",
        )
        for layer, u in enumerate(units)
    ]


def _listing_trace(listing: list[str]) -> go.Scatter:
    return go.Scatter(
        x=[0.02] * len(listing), y=list(range(len(listing))), mode="text",
        text=listing, textposition="middle right",
        textfont={"family": "monospace", "size": 11}, hoverinfo="skip",
        showlegend=False, name="listing",
    )


def _layer_hover(machine: LoopedMLP, units: list[np.ndarray]) -> list[dict]:
    """Per layer: the static heatmap attributes (row label, unit names for hover)."""
    names = machine.net.unit_names
    out = []
    for layer, (label, u) in enumerate(zip(_layer_labels(machine), units,
                                           strict=True)):
        unit = [names[layer][j] for j in u] or ["(this layer only carries the state)"]
        # numeric rows: plotly.js fails on several 1-row heatmaps on a category axis
        out.append({
            "y": [layer], "customdata": [[f"{label}: {n}" for n in unit]],
            "hovertemplate": "%{customdata}, unit %{x} = %{z}<extra></extra>",
        })
    return out


def _base_figure(rec: Recording, t: int, carried: bool) -> tuple[go.Figure, dict]:
    """The figure at step ``t``; also returns what the frames need."""
    prog = rec.program
    n_show = max(prog.n_used, int(rec.pc.max()) + 1)
    listing = _listing(prog, n_show)
    units = _units(rec.machine, carried)
    names = _cell_names(prog)
    fig = make_subplots(
        rows=2, cols=2, column_widths=[0.38, 0.62], row_heights=[0.45, 0.55],
        specs=[[{"rowspan": 2}, {}], [None, {}]],
        horizontal_spacing=0.06, vertical_spacing=0.2,
        # two short lines each: one line ran into the next title and past the figure
        subplot_titles=(
            "program<br>(highlight: pc)",
            "memory: bars MLP, diamonds interpreter<br>"
            "orange mem[a], red mem[b]",
            f"the step's {rec.machine.net.depth} ReLU layers: "
            f"{'all' if carried else 'computed'} units<br>"
            "white 0, blue 1, dark >= 2",
        ),
    )
    fig.update_annotations(font_size=13)
    fig.add_trace(_listing_trace(listing), row=1, col=1)
    dyn = _frame_traces(rec, t, units, names)
    fig.add_trace(dyn[0], row=1, col=1)
    fig.add_trace(dyn[1], row=1, col=2)
    fig.add_trace(dyn[2], row=1, col=2)
    for heat, extra in zip(dyn[3:], _layer_hover(rec.machine, units), strict=True):
        heat.update(**extra)
        fig.add_trace(heat, row=2, col=2)
    lo = min(0, int(rec.memory.min()), int(rec.reference.memory.min()))
    hi = max(1, int(rec.memory.max()), int(rec.reference.memory.max()))
    pad = 0.15 * (hi - lo)
    fig.update_xaxes(range=[0, 1], visible=False, row=1, col=1)
    fig.update_yaxes(range=[n_show - 0.5, -0.5], visible=False, row=1, col=1)
    fig.update_yaxes(range=[lo - pad, hi + pad], title_text="value", row=1, col=2)
    fig.update_xaxes(type="category", row=1, col=2)
    fig.update_xaxes(title_text="unit (in the layer's order)", row=2, col=2)
    depth = rec.machine.net.depth
    fig.update_yaxes(
        range=[depth - 0.5, -0.5], tickvals=list(range(depth)),
        ticktext=_layer_labels(rec.machine), row=2, col=2,
    )
    fig.update_layout(
        title={"text": _title(rec, t, listing), "font": {"size": 14},
               "y": 0.99, "yanchor": "top"},
        height=min(1200, max(600, 16 * n_show + 260, 33 * depth + 240)),
        showlegend=False, bargap=0.15,
        margin={"l": 20, "r": 20, "t": 100, "b": 60},
    )
    return fig, {"units": units, "names": names, "listing": listing}


def _frame_indices(steps: int, max_frames: int) -> list[int]:
    if steps + 1 <= max_frames:
        return list(range(steps + 1))
    return sorted({int(round(v)) for v in np.linspace(0, steps, max_frames)})


# ------------------------------------------------------------ public figures
def run_figure(
    program: Program,
    machine: LoopedMLP | None = None,
    max_frames: int = 80,
    dtype="float64",
    noise: float = 0.0,
    seed: int = 0,
    max_steps: int = 1000,
    carried: bool = False,
    frame_ms: int = 400,
) -> go.Figure:
    """A whole run of ``program`` on the looped MLP, as an animated figure.

    One frame per step (at most ``max_frames``, evenly spaced, first and last kept):
    the listing with the PC highlighted, memory as signed integers next to the
    interpreter's, and the hidden activations of each layer of the step. Play/pause
    buttons and a slider drive the frames, in the static book too.

    Args:
        program: an assembled program (``assemble`` or ``demo``).
        machine: the loop body; by default ``compile_machine`` of the program's
            sizes (the 5-layer ``fused5``).
        max_frames: the most frames to keep, >= 2 (long runs are decimated, which
            keeps the page small).
        dtype: arithmetic of the run (``"float64"``, ``"float32"``, ``"float16"``,
            ``"bfloat16"``).
        noise: Gaussian noise added to the state before every step (>= 0).
        seed: seed of the noise.
        max_steps: stop after this many steps if the MLP never reaches a fixed point.
        carried: show the identity units that carry the state too (default: only
            the units each layer computes).
        frame_ms: milliseconds per frame when playing.

    Returns:
        A ``go.Figure`` with ``frames`` named by step number and one slider step per
        frame.

    Raises:
        TypeError, ValueError: naming the bad argument.

    Paper: Liang et al. 2024 (arXiv 2410.09375), main result (one pass = one
        instruction).
    Book: notebooks/looped_mlp/lecture.md, "Watching the machine run".
    """
    max_frames = _check_int("max_frames", max_frames, 2)
    frame_ms = _check_int("frame_ms", frame_ms, 1)
    if not isinstance(carried, bool):
        raise TypeError(f"carried: expected a bool, got {type(carried).__name__}")
    rec = record_run(program, machine, dtype, noise, seed, max_steps)
    keep = _frame_indices(rec.steps, max_frames)
    fig, parts = _base_figure(rec, keep[0], carried)
    frames = []
    for t in keep:
        dyn = _frame_traces(rec, t, parts["units"], parts["names"])
        frames.append(
            go.Frame(
                name=str(t), data=dyn, traces=list(range(1, 1 + len(dyn))),
                layout={"title": {"text": _title(rec, t, parts["listing"])}},
            )
        )
    fig.frames = frames
    play = {"frame": {"duration": frame_ms, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": 0}}
    pause = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate",
             "transition": {"duration": 0}}
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons", "direction": "left", "showactive": False,
                "x": 0.0, "y": -0.02, "xanchor": "left", "yanchor": "top",
                "pad": {"t": 30, "r": 10},
                "buttons": [
                    {"label": "▶ play", "method": "animate", "args": [None, play]},
                    {"label": "❚❚ pause", "method": "animate",
                     "args": [[None], pause]},
                ],
            }
        ],
        sliders=[
            {
                "active": 0, "x": 0.26, "len": 0.74, "y": -0.02, "yanchor": "top",
                "pad": {"t": 30},
                "currentvalue": {"prefix": "step "},
                "steps": [
                    {
                        "label": str(t), "method": "animate",
                        "args": [[str(t)], {"mode": "immediate",
                                            "frame": {"duration": 0, "redraw": True},
                                            "transition": {"duration": 0}}],
                    }
                    for t in keep
                ],
            }
        ],
    )
    fig.update_layout(margin={"b": 110}, height=fig.layout.height + 50)
    return fig


def step_figure(rec: Recording, step: int, carried: bool = False) -> go.Figure:
    """The figure of one step of a recording (the live panel draws this).

    Args:
        rec: a :class:`Recording` from :func:`record_run`.
        step: the step, clipped to ``[0, rec.steps]``.
        carried: show the carried identity units too.

    Raises:
        TypeError, ValueError: naming the bad argument.

    Paper: Liang et al. 2024 (arXiv 2410.09375), main result.
    Book: notebooks/looped_mlp/lecture.md, "Watching the machine run".
    """
    if not isinstance(rec, Recording):
        raise TypeError(f"rec: expected a Recording, got {type(rec).__name__}")
    step = _check_int("step", step, 0)
    fig, _ = _base_figure(rec, min(step, rec.steps), carried)
    return fig


def debugger_panel(
    program: Program,
    machine: LoopedMLP | None = None,
    max_steps: int = 1000,
    dtypes: Sequence[str] = ("float64", "float32", "float16", "bfloat16"),
):
    """A live step debugger for ``program`` on the looped MLP (ipywidgets).

    The same figure as :func:`run_figure`, one step at a time: a step slider linked
    to a play button, the arithmetic (dtype), the noise added before every step and
    the clean-up (snap) layer. Each setting's run is recorded once and cached. The
    play button is linked to the slider in Python, so in the static book the panel
    shows its current figure and a "Live in JupyterLab" note instead
    (:func:`effteach.viz.panel`); :func:`run_figure` is the animation that plays
    without a kernel.

    Args:
        program: an assembled program.
        machine: the loop body; by default ``compile_machine`` of the program's
            sizes. The snap checkbox switches to the same machine with the clean-up
            layer.
        max_steps: stop a run that never reaches a fixed point after this many steps.
        dtypes: the choices of the dtype menu.

    Returns:
        An ``ipywidgets.VBox``; ``.figure`` is the current figure, and ``.step``,
        ``.play``, ``.dtype``, ``.noise``, ``.snap`` are the controls.

    Raises:
        TypeError, ValueError: naming the bad argument.

    Paper: Liang et al. 2024 (arXiv 2410.09375), main result.
    Book: notebooks/looped_mlp/lecture.md, "Watching the machine run".
    """
    import ipywidgets as widgets

    program = _check_program(program)
    machine = _machine_for(program, machine)
    max_steps = _check_int("max_steps", max_steps, 1)
    dtypes = [_dtype_name(d, f"dtypes[{i}]")
              for i, d in enumerate(check_sequence("dtypes", dtypes))]
    lay = machine.layout
    variants = {
        machine.with_snap: machine,
        not machine.with_snap: compile_machine(
            lay.n_mem, lay.bits, lay.n_instr, machine.variant,
            snap=not machine.with_snap,
        ),
    }
    cache: dict[tuple, Recording] = {}

    def recording(dtype: str, noise: float, snap: bool) -> Recording:
        key = (dtype, round(float(noise), 6), bool(snap))
        if key not in cache:
            cache[key] = record_run(program, variants[bool(snap)], dtype, key[1],
                                    max_steps=max_steps)
        return cache[key]

    first = recording(dtypes[0], 0.0, machine.with_snap)
    step = widgets.IntSlider(value=0, min=0, max=first.steps, description="step",
                             continuous_update=True)
    play = widgets.Play(value=0, min=0, max=first.steps, interval=400,
                        description="play")
    widgets.link((play, "value"), (step, "value"))
    dtype = widgets.Dropdown(options=dtypes, value=dtypes[0], description="dtype")
    noise = widgets.FloatSlider(value=0.0, min=0.0, max=0.3, step=0.05,
                                description="noise σ", continuous_update=False)
    snap = widgets.Checkbox(value=machine.with_snap, description="snap layer")

    def resize(_change=None) -> None:  # registered before the panel's redraw
        rec = recording(dtype.value, noise.value, snap.value)
        play.max = step.max = rec.steps

    for w in (dtype, noise, snap):
        w.observe(resize, names="value")

    def builder(step: int, dtype: str, noise: float, snap: bool) -> go.Figure:
        return step_figure(recording(dtype, noise, snap), step)

    box = panel(builder, launch="debugger_panel(program, machine)", step=step,
                dtype=dtype, noise=noise, snap=snap)
    box.controls["play"] = play
    out = box.children[-1]
    box.children = (
        widgets.HBox([play, step]),
        widgets.HBox([dtype, noise, snap]),
        out,
    )
    box.step, box.play, box.dtype, box.noise, box.snap = step, play, dtype, noise, snap
    return box


# ------------------------------------------------------------ GPU results
_RECORD_KEYS = ("device", "dtype", "bits", "batch", "program_steps_per_s", "exact")


def throughput_figure(result: dict) -> go.Figure:
    """Program-steps per second against batch size, from a results file.

    Args:
        result: the parsed ``results/gpu/looped_mlp.json``: ``records`` with
            ``device``, ``dtype``, ``bits``, ``batch``, ``program_steps_per_s`` and
            ``exact`` (and ``n_mem``, ``n_instr``).

    Returns:
        One line per (device, dtype, word size); a run that was not exact against
        the interpreter is drawn with an ``x`` marker. The title names the GPU and
        the date.

    Raises:
        ValueError: if ``result`` has no records or a record lacks a field.

    Paper: Liang et al. 2024 (arXiv 2410.09375) claim O(n log n) time per pass; these
        are dense passes, as a GPU runs them.
    Book: notebooks/looped_mlp/lecture.md, "On a GPU".
    """
    records = result.get("records") if isinstance(result, dict) else None
    if not records:
        raise ValueError("result: expected a dict with a non-empty 'records' list")
    for r in records:
        missing = [k for k in _RECORD_KEYS if k not in r]
        if missing:
            raise ValueError(f"result: a record lacks {missing}: {r}")
    fig = go.Figure()
    keys = sorted({(r["device"], r["dtype"], r["bits"]) for r in records})
    for device, dtype, bits in keys:
        rs = sorted(
            (r for r in records
             if (r["device"], r["dtype"], r["bits"]) == (device, dtype, bits)),
            key=lambda r: r["batch"],
        )
        size = f"m={rs[0].get('n_mem', '?')}, N={bits}, K={rs[0].get('n_instr', '?')}"
        fig.add_trace(
            go.Scatter(
                x=[r["batch"] for r in rs],
                y=[r["program_steps_per_s"] for r in rs],
                mode="lines+markers",
                name=f"{device} {dtype} ({size})",
                marker={
                    "symbol": ["circle" if r["exact"] else "x" for r in rs],
                    "size": [8 if r["exact"] else 12 for r in rs],
                },
                line={"dash": "solid" if device == "cuda" else "dot"},
                customdata=[["exact" if r["exact"] else "WRONG"] for r in rs],
                hovertemplate="batch %{x}: %{y:.3s} steps/s, %{customdata[0]}"
                "<extra>%{fullData.name}</extra>",
            )
        )
    env = result.get("env", {})
    fig.update_layout(
        # two lines: on one, the title ran past the figure before saying what x means
        title=f"Looped MLP (fused5), batched random programs<br>"
        f"<sup>{env.get('gpu', '?')}, {str(result.get('created', '?'))[:10]}; "
        "× = a run not exact against the interpreter</sup>",
        margin={"t": 80},
        xaxis={"type": "log", "title": "batch (programs run at once)"},
        yaxis={"type": "log", "title": "program steps per second"},
        legend={"font": {"size": 11}},
    )
    return fig
