"""Figures of the pebble_io chapter: the regime explorer and the pebble animation.

Two builders, each returning a ``go.Figure`` that works in the static book (plotly
sliders and frames need no kernel), and each wrapped by a live ipywidgets panel that
calls the same builder (:func:`effteach.viz.panel`):

* :func:`regime_figure` / :func:`regime_panel`: words moved against the cache size M
  (log-log) for every schedule, by the closed forms (which the simulator reproduces
  exactly, see the tests), with the Θ-bound, the explicit lower bound, and the lines
  M = d², M = nd and the M of a device preset;
* :func:`pebble_figure` / :func:`pebble_panel`: one schedule played on a traced
  :class:`~effteach.pebble_io.memory.TwoLevelMemory`, step by step: the tiles of Q, K,
  V, the outputs and the score block S resident in fast memory, with live load and
  store counters.

Paper: Li et al., arXiv 2410.09397, Figure 1 (I/O against M) [T]; the animation is
    ours [R].
Book: notebooks/pebble_io/lecture.md, "The method" and "Experiments".
"""

from __future__ import annotations

import functools

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from effteach.checks import check_int, check_sequence, typed
from effteach.pebble_io.bounds import backward_bound, forward_bound, lower_bound
from effteach.pebble_io.counts import _check_size
from effteach.pebble_io.experiments import cache_grid, closed_form_curve, random_qkv
from effteach.pebble_io.memory import TwoLevelMemory
from effteach.pebble_io.schedules import run_schedule
from effteach.pebble_io.tiles import SCHEDULE_NAMES, best_tiles, min_sram
from effteach.viz import COLORS, panel, slider_figure, use_theme

__all__ = [
    "DEVICE_SRAM",
    "DTYPE_BYTES",
    "preset_sram",
    "regime_figure",
    "regime_panel",
    "pebble_trace",
    "pebble_figure",
    "pebble_panel",
    "gpu_figure",
    "ablation_figure",
    "roofline_figure",
]

#: On-chip memory one thread block can use, in bytes (shared memory per SM; the
#: register file is of the same order). Published specifications, not measured.
DEVICE_SRAM: dict[str, int] = {
    "H200 (228 KiB smem/SM)": 228 * 1024,
    "A100 (164 KiB smem/SM)": 164 * 1024,
    "toy (4 KiB)": 4 * 1024,
}
#: Bytes per word.
DTYPE_BYTES: dict[str, int] = {"float32": 4, "bfloat16": 2, "float16": 2}

_FWD = ("standard_fwd", "fa1_fwd", "fa2_fwd", "square_fwd")
_BWD = ("standard_bwd", "fa2_bwd", "fa2_bwd_two_pass", "square_bwd")
#: traces per d_head in :func:`regime_figure`: 4 schedules, 2 bounds, 3 markers
REGIME_TRACES = 9


def preset_sram(device: str, dtype: str) -> int:
    """Words of fast memory of a device preset: bytes / bytes per element.

    >>> preset_sram("toy (4 KiB)", "float32")
    1024

    Raises:
        ValueError: for an unknown device or dtype, listing the known ones.

    Paper: none; M in the pebble game counts words, not bytes.
    Book: notebooks/pebble_io/lecture.md, "Experiments".
    """
    if device not in DEVICE_SRAM:
        raise ValueError(f"device: expected one of {list(DEVICE_SRAM)}, got {device!r}")
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype: expected one of {list(DTYPE_BYTES)}, got {dtype!r}")
    return DEVICE_SRAM[device] // DTYPE_BYTES[dtype]


def _regime_traces(n: int, d: int, srams: list[int], marker_m: int | None,
                   backward: bool) -> list[go.Scatter]:
    names = _BWD if backward else _FWD
    traces = []
    for i, s in enumerate(names):
        y = closed_form_curve(s, n, d, srams)
        traces.append(go.Scatter(
            x=srams, y=[np.nan if t is None else t for t in y], mode="lines",
            name=s, line={"color": COLORS[i]},
            hovertemplate=f"{s}<br>M=%{{x}}<br>words=%{{y:.3s}}<extra></extra>",
        ))
    m = np.asarray(srams, dtype=float)
    theta = (backward_bound if backward else forward_bound)(n, d, m)
    tag = "Li et al. [T]" if backward else "Saha & Ye [C]"
    traces.append(go.Scatter(x=srams, y=theta, mode="lines",
                             name=f"Θ-bound, constant 1 ({tag})",
                             line={"color": "black", "dash": "dash"}))
    traces.append(go.Scatter(x=srams, y=lower_bound(n, d, m, backward), mode="lines",
                             name="explicit lower bound [R]",
                             line={"color": COLORS[6], "dash": "dot"}))
    y_all = [t for tr in traces for t in np.asarray(tr.y, float) if np.isfinite(t)]
    lo, hi = min(y_all) / 2, max(y_all) * 2
    for label, x, color in (("M = d²", d * d, COLORS[4]), ("M = nd", n * d, COLORS[5]),
                            ("device M", marker_m, "#999")):
        xs = [x, x] if x is not None else [np.nan, np.nan]
        traces.append(go.Scatter(x=xs, y=[lo, hi], mode="lines", name=label,
                                 line={"color": color, "width": 1}))
    return traces


@typed
def regime_figure(n_ctx: int = 256, d_heads=(16, 32, 64), backward: bool = False,
                  device: str = "toy (4 KiB)", dtype: str = "float32",
                  active: int = 0, per_octave: int = 2) -> go.Figure:
    """Words moved against M, log-log, for every schedule and bound; a slider picks d.

    Each curve is the closed-form count of the schedule with its best tiles at that M
    (:func:`~effteach.pebble_io.experiments.closed_form_curve`); gaps are caches too
    small for the schedule. The dashed line is the Θ-bound with constant 1 (its
    constant is unknown), the dotted one the explicit lower bound derived here.
    Vertical lines mark M = d², M = nd and the M of the device preset.

    Args:
        n_ctx: sequence length.
        d_heads: head widths, one slider step each.
        backward: show the backward schedules and bound.
        device: a key of :data:`DEVICE_SRAM`.
        dtype: a key of :data:`DTYPE_BYTES`.
        active: index of the d shown first.
        per_octave: points per doubling of M.

    Returns:
        A figure with ``REGIME_TRACES`` traces per d and one slider step per d.

    Paper: Li et al., arXiv 2410.09397, Figure 1 [T]; curves computed here [R].
    Book: notebooks/pebble_io/lecture.md, "Experiments".
    """
    n = _check_size("n_ctx", n_ctx)
    ds = [check_int(f"d_heads[{i}]", d, 1)
          for i, d in enumerate(check_sequence("d_heads", d_heads))]
    m_dev = preset_sram(device, dtype)
    hi = max(4 * n * max(ds), 2 * m_dev)
    srams = cache_grid(8, hi, per_octave)
    use_theme()
    pas = "backward" if backward else "forward"
    return slider_figure(
        lambda d: _regime_traces(n, d, srams, m_dev, backward), ds, "d_head",
        active=active,
        title=f"{pas} I/O against cache size, n = {n} (closed forms = simulator)",
        layout={"xaxis": {"type": "log", "title": "fast memory M (words)"},
                "yaxis": {"type": "log", "title": "words moved (loads + stores)"},
                "height": 480},
    )


def regime_panel(n_ctx: int = 256, d_head: int = 16):
    """Live version of :func:`regime_figure`: n, d, direction and device preset.

    In the static book it shows the figure for the defaults and a "Live in
    JupyterLab" note (:func:`effteach.viz.panel`).

    Returns:
        An ipywidgets box; ``.figure`` holds the latest figure (for tests).

    Paper: Li et al., arXiv 2410.09397, Figure 1 [T]; curves computed here [R].
    Book: notebooks/pebble_io/lecture.md, "Experiments".
    """
    import ipywidgets as w

    for name, value, options in (("n_ctx", n_ctx, (64, 128, 256, 512)),
                                 ("d_head", d_head, (8, 16, 32, 64))):
        if isinstance(value, bool) or value not in options:
            raise ValueError(f"{name}: expected one of {options}, got {value!r}")

    def build(n_ctx, d_head, backward, device, dtype):
        return regime_figure(n_ctx, (d_head,), backward, device, dtype)

    return panel(
        build,
        launch=f"regime_panel(n_ctx={n_ctx}, d_head={d_head})",
        n_ctx=w.Dropdown(options=[64, 128, 256, 512], value=n_ctx, description="n"),
        d_head=w.Dropdown(options=[8, 16, 32, 64], value=d_head, description="d"),
        backward=w.Checkbox(value=False, description="backward"),
        device=w.Dropdown(options=list(DEVICE_SRAM), value="toy (4 KiB)",
                          description="device"),
        dtype=w.Dropdown(options=list(DTYPE_BYTES), value="float32",
                         description="dtype"),
    )


# ---- the pebble animation -------------------------------------------------------
_SCORE_LABELS = ("S", "P", "dS", "A")


@functools.lru_cache(maxsize=16)
def _played(schedule, n, d, sram, tiles):
    q, k, v, do = random_qkv(n, d, seed=0)
    mem = TwoLevelMemory(sram, trace="tiles")
    backward = schedule.endswith(("_bwd", "_two_pass"))
    run_schedule(schedule, mem, q, k, v, do if backward else None, **dict(tiles))
    return mem


def pebble_trace(schedule: str = "fa2_fwd", n_ctx: int = 16, d_head: int = 4,
                 sram: int | None = None, **tiles) -> dict:
    """Replay a traced run as frames: what is resident after each load or store.

    Args:
        schedule: a name in :data:`~effteach.pebble_io.tiles.SCHEDULE_NAMES`.
        n_ctx: sequence length (keep it tiny: 8 to 32).
        d_head: head width.
        sram: capacity M; by default 8 d², or the least that fits tiles of n/4.
        **tiles: tile sizes; by default the best tiles at ``sram`` with blocks of at
            least n/4.

    Returns:
        ``{"tensors": [names of the 2-D slow tensors], "frames": [...],
        "sram", "tiles", "loads", "stores"}``; each frame is a dict with
        ``resident`` (tensor -> bool array of its shape), ``moved`` (same, this step),
        ``score`` (bool (n, n): the score block in fast memory, placed at the
        resident query and key rows), ``loads``, ``stores``, ``words`` (resident)
        and ``text``.

    Paper: the red-blue pebble game (Hong & Kung 1981) at tile granularity [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    if schedule not in SCHEDULE_NAMES:
        raise ValueError(
            f"schedule: expected one of {', '.join(SCHEDULE_NAMES)}, got {schedule!r}"
        )
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    block = max(1, n // 4)
    if sram is None:
        sram = max(8 * d * d, min_sram(schedule, d, min_block=block))
    sram = _check_size("sram", sram)
    if not tiles:
        tiles = best_tiles(schedule, n, d, sram, min_block=block)
    mem = _played(schedule, n, d, sram, tuple(sorted(tiles.items())))
    shapes = {t: mem._slow[t].shape for t in mem.tensors}  # 2-D tensors are drawn
    names = [t for t in mem.tensors if len(shapes[t]) == 2]
    # a tensor's tile may be resident twice (loaded twice); count the copies
    count = {t: np.zeros(shapes[t], int) for t in names}
    score = np.zeros((n, n), bool)
    last_rows = {"Q": (0, 0), "K": (0, 0)}
    loads = stores = 0
    frames = []
    for ev in mem.trace:
        r0, r1 = ev.rows
        c0, c1 = ev.cols
        moved = {t: np.zeros(shapes[t], bool) for t in names}
        if ev.tensor in names:
            if ev.op == "load":
                count[ev.tensor][r0:r1, c0:c1] += 1
                if ev.tensor in last_rows:
                    last_rows[ev.tensor] = (r0, r1)
            elif ev.op == "free":
                count[ev.tensor][r0:r1, c0:c1] -= 1
            if ev.op in ("load", "store"):
                moved[ev.tensor][r0:r1, c0:c1] = True
        if ev.op == "load":
            loads += ev.words
        elif ev.op == "store":
            stores += ev.words
        if ev.tensor in _SCORE_LABELS and ev.op in ("alloc", "free"):
            (a0, a1), (b0, b1) = last_rows["Q"], last_rows["K"]
            score[:] = False
            if ev.op == "alloc":
                score[a0:a1, b0:b1] = True
        if ev.op not in ("load", "store") and not (
                ev.tensor in _SCORE_LABELS and ev.op == "alloc"):
            continue
        frames.append({
            "resident": {t: count[t] > 0 for t in names},
            "moved": moved, "score": score.copy(),
            "loads": loads, "stores": stores, "words": ev.resident,
            "text": f"{ev.op} {ev.tensor}[{r0}:{r1}, {c0}:{c1}]",
        })
    return {"tensors": names, "frames": frames, "sram": sram, "tiles": dict(tiles),
            "loads": mem.loads, "stores": mem.stores}


_PEBBLE_SCALE = [[0.0, "#e9eef6"], [0.33, "#e9eef6"], [0.33, "#d1495b"],
                 [0.66, "#d1495b"], [0.66, "#edae49"], [1.0, "#edae49"]]


def _pebble_heatmaps(rec: dict, i: int) -> list[go.Heatmap]:
    fr = rec["frames"][i]
    out = []
    for t in rec["tensors"]:
        z = fr["resident"][t].astype(float) + fr["moved"][t]  # 0 slow, 1 red, 2 moved
        out.append(go.Heatmap(z=np.minimum(z, 2), zmin=0, zmax=2,
                              colorscale=_PEBBLE_SCALE, showscale=False,
                              hovertemplate=f"{t}[%{{y}}, %{{x}}]<extra></extra>"))
    out.append(go.Heatmap(z=fr["score"].astype(float), zmin=0, zmax=2,
                          colorscale=_PEBBLE_SCALE, showscale=False,
                          hovertemplate="S[%{y}, %{x}]<extra></extra>"))
    return out


def _pebble_title(rec: dict, i: int, schedule: str) -> str:
    fr = rec["frames"][i]
    tiles = ", ".join(f"{k} = {v}" for k, v in sorted(rec["tiles"].items()))
    return (f"{schedule}, M = {rec['sram']}, tiles {tiles}<br>step {i + 1}/"
            f"{len(rec['frames'])}: {fr['text']} | loads {fr['loads']}, "
            f"stores {fr['stores']}, resident {fr['words']}")


@typed
def pebble_figure(schedule: str = "fa2_fwd", n_ctx: int = 16, d_head: int = 4,
                  sram: int | None = None, step: int = 0, **tiles) -> go.Figure:
    """The pebble animation: resident tiles step by step, with live counters.

    One heatmap per (n, d) tensor of the run and one for the n x n score matrix:
    pale = only in slow memory (blue pebble), red = resident in fast memory (red
    pebble), yellow = moved in this step. The title carries the running load and
    store counts. Plotly frames, a play button and a slider step through the run.

    Args:
        schedule: a name in :data:`~effteach.pebble_io.tiles.SCHEDULE_NAMES`.
        n_ctx: sequence length (tiny).
        d_head: head width.
        sram: capacity M (default: see :func:`pebble_trace`).
        step: the frame shown first (0-based).
        **tiles: tile sizes (default: see :func:`pebble_trace`).

    Returns:
        A figure with one frame per load/store (and per score-block allocation).

    Paper: the red-blue pebble game (Hong & Kung 1981) [C]; the animation is ours.
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    rec = pebble_trace(schedule, n_ctx, d_head, sram, **tiles)
    nf = len(rec["frames"])
    if not 0 <= step < nf:
        raise ValueError(f"step: expected 0 <= step < {nf}, got {step}")
    names = rec["tensors"]
    cols = len(names) + 1
    widths = [rec["frames"][0]["resident"][t].shape[1] for t in names] + [n_ctx]
    use_theme()
    fig = make_subplots(rows=1, cols=cols, column_widths=widths,
                        subplot_titles=[*names, "S = QKᵀ (scratch)"],
                        horizontal_spacing=0.02)
    for j, tr in enumerate(_pebble_heatmaps(rec, step)):
        fig.add_trace(tr, row=1, col=j + 1)
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    fig.frames = [
        go.Frame(data=_pebble_heatmaps(rec, i), name=str(i),
                 layout={"title": {"text": _pebble_title(rec, i, schedule)}})
        for i in range(nf)
    ]
    anim = {"frame": {"duration": 250, "redraw": True}, "mode": "immediate",
            "transition": {"duration": 0}}
    fig.update_layout(
        title={"text": _pebble_title(rec, step, schedule), "font": {"size": 12},
               "y": 0.96, "yanchor": "top"},
        height=380, margin={"t": 80},
        updatemenus=[{"type": "buttons", "x": 0, "y": -0.15, "showactive": False,
                      "buttons": [
                          {"label": "play", "method": "animate",
                           "args": [None, {**anim, "fromcurrent": True}]},
                          {"label": "pause", "method": "animate",
                           "args": [[None], {**anim, "mode": "immediate"}]}]}],
        sliders=[{"active": step, "pad": {"t": 50}, "x": 0.1, "len": 0.9,
                  "currentvalue": {"prefix": "step "},
                  "steps": [{"method": "animate", "label": str(i + 1),
                             "args": [[str(i)], anim]} for i in range(nf)]}],
    )
    return fig


@typed
def pebble_panel(schedule: str = "fa2_fwd", n_ctx: int = 16, d_head: int = 4):
    """Live version of :func:`pebble_figure`: pick the schedule and M.

    The figure's own play button and slider step through the run (one step control,
    the same in JupyterLab and in the book, where the panel shows its figure and a
    "Live in JupyterLab" note: :func:`effteach.viz.panel`).

    Returns:
        An ipywidgets box; ``.figure`` holds the latest figure (for tests), and
        ``.schedule``, ``.sram`` are the controls.

    Paper: the red-blue pebble game (Hong & Kung 1981) [C]; the animation is ours.
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    import ipywidgets as w

    if schedule not in SCHEDULE_NAMES:
        raise ValueError(
            f"schedule: expected one of {', '.join(SCHEDULE_NAMES)}, got {schedule!r}"
        )
    n_ctx, d_head = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    sched = w.Dropdown(options=list(SCHEDULE_NAMES), value=schedule,
                       description="schedule")
    sram = w.IntSlider(value=8 * d_head * d_head, min=4 * d_head * d_head,
                       max=32 * d_head * d_head, step=d_head * d_head,
                       description="M")

    def build(schedule, sram):
        # raise M to the least that fits tiles of n/4 rather than fail
        sram = max(sram, min_sram(schedule, d_head, min_block=max(1, n_ctx // 4)))
        return pebble_figure(schedule, n_ctx, d_head, sram)

    box = panel(build, launch=f"pebble_panel({schedule!r}, n_ctx={n_ctx}, "
                f"d_head={d_head})", schedule=sched, sram=sram)
    box.schedule, box.sram = sched, sram
    return box


# ---- GPU results ----------------------------------------------------------------
_IMPLS = ("triton", "sdpa_flash", "sdpa_cudnn", "flex")


@typed
def gpu_figure(result: dict) -> go.Figure:
    """TFLOP/s against n_ctx per implementation; a slider picks pass, dtype, d, mask.

    Args:
        result: the parsed ``results/gpu/pebble_io.json`` (records with ``impl``,
            ``pass``, ``dtype``, ``d_head``, ``causal``, ``n_ctx``, ``tflops``).

    Returns:
        One slider step per (pass, dtype, d_head, causal) in the file, four traces
        each (Triton, SDPA FLASH, SDPA cuDNN, FlexAttention; empty if not measured).

    Raises:
        ValueError: if the file has no records.

    Paper: none; our kernel against PyTorch's (FlashAttention-2 algorithm, Dao 2023).
    Book: notebooks/pebble_io/lecture.md, "On a GPU".
    """
    recs = result.get("records") or []
    if not recs:
        raise ValueError("result: expected a non-empty 'records' list")
    def key_of(r):
        return (r["pass"], r["dtype"], r["d_head"], bool(r["causal"]))

    keys = sorted({key_of(r) for r in recs},
                  key=lambda k: (k[0] != "fwd", k[1], k[2], k[3]))

    def traces(key):
        out = []
        for i, impl in enumerate(_IMPLS):
            rs = sorted((r for r in recs if r["impl"] == impl and key_of(r) == key),
                        key=lambda r: r["n_ctx"])
            out.append(go.Scatter(x=[r["n_ctx"] for r in rs],
                                  y=[r["tflops"] for r in rs], mode="lines+markers",
                                  name=impl, line={"color": COLORS[i]}))
        return out

    env = result.get("env", {})
    use_theme()
    return slider_figure(
        traces, keys, "pass, dtype, d, causal",
        title=f"attention TFLOP/s on {env.get('gpu', 'GPU')} "
              f"({str(result.get('created', ''))[:10]})",
        fmt=lambda k: f"{k[0]} {k[1]} d={k[2]}{' causal' if k[3] else ''}",
        layout={"xaxis": {"type": "log", "title": "n_ctx"},
                "yaxis": {"title": "TFLOP/s"}, "height": 420},
    )


def _kernel_records(result: dict, kind: str) -> list[dict]:
    if not isinstance(result, dict):
        raise TypeError(f"result: expected the parsed kernels.json dict, got "
                        f"{type(result).__name__}")
    recs = [r for r in result.get("records") or [] if r.get("kind") == kind]
    if not recs:
        raise ValueError(f"result: expected records of kind {kind!r} "
                         "(results/gpu/kernels.json)")
    return recs


def ablation_figure(result: dict) -> go.Figure:
    """Forward TFLOP/s of the tuned kernel, one switch added at a time.

    Args:
        result: the parsed ``results/gpu/kernels.json`` (records of kind
            ``"ablation"``: ``ms`` per step, forward and forward + backward).

    Returns:
        Grouped bars: one group per step (teaching kernel first, cuDNN last), one
        bar per shape; the forward only (forward + backward in the hover text).

    Paper: none; our kernels (FlashAttention-2, Dao 2023) against PyTorch's [R].
    Book: notebooks/pebble_io/lecture.md, "Making the kernel fast".
    """
    recs = _kernel_records(result, "ablation")
    timed = dict.fromkeys(k[:-4] for r in recs for k in r["ms"] if k.endswith("_fwd"))
    steps = ["teaching", *(s for s in timed if s not in ("teaching", "sdpa_cudnn")),
             "sdpa_cudnn"]
    names = {"teaching": "teaching kernel", "sdpa_cudnn": "SDPA cuDNN"}
    use_theme()
    fig = go.Figure()
    for i, r in enumerate(recs):
        fl = 4 * r["batch"] * r["heads"] * r["n_q"] * r["n_k"] * r["d"] / (
            2 if r["causal"] else 1)
        xs, ys, hover = [], [], []
        for s in steps:
            if f"{s}_fwd" not in r["ms"]:
                continue
            xs.append(names.get(s, s))
            ys.append(fl / r["ms"][f"{s}_fwd"] / 1e9)
            hover.append(f"fwd {r['ms'][f'{s}_fwd']:.2f} ms, fwd+bwd "
                         f"{r['ms'][f'{s}_fwdbwd']:.2f} ms")
        fig.add_trace(go.Bar(
            x=xs, y=ys, hovertext=hover, marker_color=COLORS[i % len(COLORS)],
            name=f"n={r['n_q'] // 1024}k {'causal' if r['causal'] else 'full'}"))
    fig.update_layout(
        barmode="group", height=430,
        title="forward TFLOP/s, d = 128, bf16: each switch added in turn",
        yaxis={"title": "TFLOP/s"},
        xaxis={"tickangle": -20, "categoryorder": "array",
               "categoryarray": [names.get(s, s) for s in steps]},
        legend={"orientation": "h", "y": -0.35})
    return fig


def roofline_figure(result: dict) -> go.Figure:
    """Every timed forward on the H200's measured roofline.

    The floor of attention's memory traffic is reading q, k, v and writing o once;
    its arithmetic is ``4 n_q n_k d`` per head (halved when causal). Their ratio is
    the arithmetic intensity: about ``n/2`` FLOP per byte for prefill, about
    ``n_q`` for decoding, so prefill sits far right of the ridge (compute-bound) and
    single-token decoding far left (memory-bound).

    Args:
        result: the parsed ``results/gpu/kernels.json`` (dense and decode records,
            and a ``ceilings`` record: ``matmul_tflops``, ``copy_tb_per_s``).

    Returns:
        Log-log: the two ceilings as lines, one marker per (shape, contender).

    Paper: none; the roofline model (Williams, Waterman and Patterson 2009) with the
        ceilings measured on the GPU [R].
    Book: notebooks/pebble_io/lecture.md, "Making the kernel fast".
    """
    (ceil,) = _kernel_records(result, "ceilings")
    recs = _kernel_records(result, "dense") + _kernel_records(result, "decode")
    peak, bw = ceil["matmul_tflops"], ceil["copy_tb_per_s"]
    use_theme()
    fig = go.Figure()
    xs = np.logspace(-0.5, 5, 200)
    fig.add_trace(go.Scatter(x=xs, y=np.minimum(peak, bw * xs), mode="lines",
                             name=f"roof: {peak:.0f} TFLOP/s, {bw:.1f} TB/s",
                             line={"color": "black", "dash": "dash"}))
    series = {"tuned": "tuned kernel", "teaching": "teaching kernel",
              "sdpa_cudnn": "SDPA cuDNN", "sdpa_flash": "SDPA FLASH",
              "sdpa_efficient": "SDPA efficient (mask)"}
    for i, (key, label) in enumerate(series.items()):
        px, py, txt = [], [], []
        for r in recs:
            ms = r["ms"].get(f"{key}_fwd")
            if not ms:
                continue
            b, h, nq, nk, d = r["batch"], r["heads"], r["n_q"], r["n_k"], r["d"]
            fl = 4 * b * h * nq * nk * d / (2 if r["causal"] and nq == nk else 1)
            by = 2 * b * h * d * (2 * nq + 2 * nk)  # bf16: q, o and k, v once
            px.append(fl / by)
            py.append(fl / ms / 1e9)
            txt.append(f"B={b} H={h} n_q={nq} n_k={nk} d={d}"
                       f"{' causal' if r['causal'] else ''}: {ms * 1e3:.0f} us")
        fig.add_trace(go.Scatter(x=px, y=py, mode="markers", name=label,
                                 hovertext=txt, marker={"color": COLORS[i],
                                                        "size": 8}))
    fig.update_layout(
        height=450, title="attention forward on the measured roofline",
        xaxis={"type": "log", "title": "FLOP per byte of the minimal traffic"},
        yaxis={"type": "log", "title": "TFLOP/s"},
        legend={"orientation": "h", "y": -0.25})
    return fig
