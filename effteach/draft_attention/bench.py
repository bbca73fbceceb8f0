"""H200 benchmark of DraftAttention: ``python -m effteach.draft_attention.bench``.

Times, in one run and interleaved (:func:`effteach.bench.time_interleaved`): the
Triton block-sparse forward at 0 % (all blocks), 50 % and 90 % sparsity of a real
draft mask; FlexAttention on the identical mask (``BlockMask.from_kv_blocks``);
dense SDPA with the cuDNN and FLASH backends forced; and the full pipeline (draft +
mask + permute + sparse attention + restore) with its parts. Checks the kernel
against the masked dense reference in fp32 (n not a multiple of the block too).
Writes ``results/gpu/draft_attention.json`` with the environment.

Book: notebooks/draft_attention/lecture.md, "On a GPU".
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from pathlib import Path

import torch

SLUG = "draft_attention"
SIZES = ((32, 32, 32), (16, 64, 64), (32, 64, 64))  # (frames, height, width)
WINDOW = (8, 16)
BLOCK = 128
HEADS, D = 8, 128
CONFIGS = ((128, 64, 8, 3), (128, 64, 4, 3), (64, 64, 4, 3), (128, 128, 8, 2))
DEV = "cuda"
DTYPES = (torch.float16, torch.bfloat16)
CHECK_N = (32768 + 77, 32768)


def smoke_setup():
    """Shrink every size for a CPU run under ``TRITON_INTERPRET=1`` (tests only)."""
    global SIZES, WINDOW, BLOCK, HEADS, D, CONFIGS, DEV, DTYPES, CHECK_N
    SIZES, WINDOW, BLOCK, HEADS, D = ((2, 4, 8),), (4, 4), 16, 2, 16
    CONFIGS, DEV, DTYPES = ((16, 16, 1, 1),), "cpu", (torch.float32,)
    CHECK_N = (16 * 5 + 3, 16 * 4)


def _masked_ref_rows(q, k, v, bm, block, rows=2048):
    """fp32 masked dense attention, computed a slab of query rows at a time."""
    n = q.shape[2]
    ids = torch.arange(n, device=q.device) // block
    out = torch.empty(q.shape, dtype=torch.float32, device=q.device)
    kf, vf = k.float(), v.float()
    for s in range(0, n, rows):
        qs = q[:, :, s:s + rows].float()
        logit = qs @ kf.transpose(-1, -2) / math.sqrt(q.shape[-1])
        keep = bm[:, :, ids[s:s + rows]][:, :, :, ids]
        p = torch.softmax(logit.masked_fill(~keep, float("-inf")), -1).nan_to_num(0)
        out[:, :, s:s + rows] = p @ vf
    return out


def _time(fns, rounds, rep_ms):
    """:func:`effteach.bench.time_interleaved` on the GPU; one call each on CPU."""
    from effteach.bench import time_interleaved

    if DEV == "cuda":
        return time_interleaved(fns, rounds=rounds, rep_ms=rep_ms)
    import time

    out = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        out[name] = (time.perf_counter() - t0) * 1e3
    return out


def correctness(config) -> list[dict]:
    """Kernel vs masked fp32 reference, fp16 and bf16, ragged and whole n."""
    from effteach.draft_attention import kv_block_lists
    from effteach.kernels.draft_attention import block_sparse_attn

    out = []
    g = torch.Generator(device=DEV).manual_seed(0)
    for n in CHECK_N:
        for dtype in DTYPES:
            q, k, v = (torch.randn(1, 2, n, D, device=DEV, dtype=dtype,
                                   generator=g) for _ in range(3))
            m = math.ceil(n / BLOCK)
            for sp in (0.5, 0.9):
                bm = torch.rand(1, 2, m, m, device=DEV, generator=g) >= sp
                bm[..., 0] = True
                idx, cnt = kv_block_lists(bm)
                o = block_sparse_attn(q, k, v, idx, cnt, BLOCK, config)
                ref = _masked_ref_rows(q, k, v, bm, BLOCK)
                err = (o.float() - ref).abs().max().item()
                tol = {torch.bfloat16: 2e-2, torch.float16: 5e-3}.get(dtype, 1e-4)
                out.append({"n": n, "dtype": str(dtype).split(".")[1],
                            "sparsity": sp, "max_abs_err": err, "tol": tol,
                            "ok": err < tol})
    return out


def run(quick: bool = False, dump=None):
    """Records and method of the benchmark (see the module docstring)."""
    from torch.nn.attention.flex_attention import flex_attention

    from effteach.draft_attention import kv_block_lists
    from effteach.kernels.draft_attention import (
        block_sparse_attn,
    )

    flex = (torch.compile(flex_attention, dynamic=False) if DEV == "cuda"
            else flex_attention)
    rounds, rep = (2, 20) if quick else (3, 40)
    sizes = SIZES[:1] if quick else SIZES
    records: list[dict] = []
    method: dict = {"heads": HEADS, "d_head": D, "batch": 1, "window": WINDOW,
                    "block": BLOCK, "mask": "draft map of the inputs, per-head "
                    "top-(1-s) of the map plus each row's argmax",
                    "inputs": "q, k, v ~ N(0, 1) plus a per-frame smooth offset"}
    # pick the kernel tiles on the all-blocks run at the smallest size
    f, h, w = SIZES[0]
    n = f * h * w
    q = torch.randn(1, HEADS, n, D, device=DEV, dtype=DTYPES[0])
    full = torch.ones(1, HEADS, n // BLOCK, n // BLOCK, dtype=torch.bool,
                      device=DEV)
    idx, cnt = kv_block_lists(full)
    tiles = _time({str(c): (lambda c=c: block_sparse_attn(
        q, q, q, idx, cnt, BLOCK, c)) for c in CONFIGS}, 2, 20)
    best = min(CONFIGS, key=lambda c: tiles[str(c)])
    method["tile_search_ms"] = tiles
    method["tiles"] = best
    method["correctness"] = correctness(best)
    if dump:
        dump(records, method)
    for (f, h, w) in sizes:
        for dtype in DTYPES:
            if f * h * w == 65536 and dtype == torch.bfloat16:
                continue
            rec = _one(f, h, w, dtype, best, rounds, rep, flex)
            records.append(rec)
            print(rec, flush=True)
            if dump:
                dump(records, method)
            torch.cuda.empty_cache()
    return records, method


def _one(f, h, w, dtype, best, rounds, rep, flex):
    """Time every contender at one size and dtype; return the record."""
    from torch.nn.attention import SDPBackend
    from torch.nn.attention.flex_attention import BlockMask

    from effteach.draft_attention import (
        draft_map,
        kv_block_lists,
        select_blocks,
        sparse_pipeline,
        window_permutation,
    )
    from effteach.kernels.draft_attention import (
        _launch_permute,
        block_sparse_attn,
        gather_rows,
    )

    sdpa = torch.nn.functional.scaled_dot_product_attention
    n = f * h * w
    gen = torch.Generator(device=DEV).manual_seed(n)
    # frame-local structure: a smooth offset per (frame, window) so the
    # draft map is not uniform
    def make():
        x = torch.randn(1, HEADS, n, D, device=DEV, generator=gen)
        ids = torch.arange(n, device=DEV) // (n // f)
        off = torch.randn(1, HEADS, f, D, device=DEV, generator=gen)
        return (x + 2 * off[:, :, ids]).to(dtype)
    q, k, v = make(), make(), make()
    perm, _ = window_permutation(f, h, w, WINDOW)
    perm = perm.to(DEV)
    qp, kp, vp = (gather_rows(t, perm) for t in (q, k, v))
    m = n // BLOCK
    qd = qp.view(1, HEADS, m, BLOCK, D).float().mean(3)
    kd = kp.view(1, HEADS, m, BLOCK, D).float().mean(3)
    dmap = draft_map(qd, kd)
    fns = {}
    _with(SDPBackend.CUDNN_ATTENTION, sdpa, q, k, v)  # warm up cuDNN's plan
    fns["sdpa_cudnn"] = lambda: _with(SDPBackend.CUDNN_ATTENTION, sdpa,
                                      q, k, v)
    fns["sdpa_flash"] = lambda: _with(SDPBackend.FLASH_ATTENTION, sdpa,
                                      q, k, v)
    info = {}
    for sp in (0.0, 0.5, 0.9):
        bm = (torch.ones_like(dmap, dtype=torch.bool) if sp == 0
              else select_blocks(dmap, sp))
        idx, cnt = kv_block_lists(bm)
        info[sp] = float(bm.float().mean())
        fns[f"triton_{sp}"] = (lambda idx=idx, cnt=cnt: block_sparse_attn(
            qp, kp, vp, idx, cnt, BLOCK, best))
        full_idx = torch.zeros(1, HEADS, m, m, dtype=torch.int32,
                               device=DEV)
        full_idx[..., : idx.shape[-1]] = idx
        try:
            mask = BlockMask.from_kv_blocks(
                torch.zeros_like(cnt), torch.zeros_like(full_idx),
                full_kv_num_blocks=cnt, full_kv_indices=full_idx,
                BLOCK_SIZE=BLOCK, seq_lengths=(n, n),
                mask_mod=None if DEV == "cuda" else _lookup_mod(bm))
            of = flex(qp, kp, vp, block_mask=mask)
            ot = block_sparse_attn(qp, kp, vp, idx, cnt, BLOCK, best)
            info[f"flex_vs_triton_err_{sp}"] = float(
                (of.float() - ot.float()).abs().max())
            fns[f"flex_{sp}"] = (lambda mask=mask: flex(
                qp, kp, vp, block_mask=mask))
        except Exception as e:  # noqa: BLE001  (record, keep going)
            info[f"flex_error_{sp}"] = repr(e)[:300]
        if sp > 0:
            fns[f"pipeline_{sp}"] = (lambda sp=sp: sparse_pipeline(
                q, k, v, f, h, w, sp, WINDOW, config=best))
            fns[f"draftmask_{sp}"] = (lambda sp=sp: kv_block_lists(
                select_blocks(draft_map(
                    qp.view(1, HEADS, m, BLOCK, D).float().mean(3),
                    kp.view(1, HEADS, m, BLOCK, D).float().mean(3)), sp)))
    p32 = perm.to(torch.int32)  # the pipeline's own launches, without checks
    if n <= CHECK_N[1]:  # the whole pipeline vs the masked fp32 reference
        parts: dict = {}
        o = sparse_pipeline(q, k, v, f, h, w, 0.9, WINDOW, config=best,
                            parts=parts)
        ref = _masked_ref_rows(qp, kp, vp, parts["block_mask"], BLOCK)
        ref = ref[:, :, torch.argsort(perm)]
        info["pipeline_err_0.9"] = float((o.float() - ref).abs().max())
    fns["permute_qkv"] = lambda: [_launch_permute(t, p32, False)
                                  for t in (q, k, v)]
    fns["restore_o"] = lambda: _launch_permute(qp, p32, True)
    ms = _time(fns, rounds, rep)
    flops = 4 * HEADS * n * n * D
    rec = {"n": n, "frames": f, "height": h, "width": w,
           "dtype": str(dtype).split(".")[1], "ms": ms,
           "density": {str(k): v for k, v in info.items()
                       if not isinstance(k, str)},
           "notes": {k: v for k, v in info.items() if isinstance(k, str)},
           "dense_tflops_cudnn": flops / ms["sdpa_cudnn"] / 1e9}
    for sp in (0.5, 0.9):
        rec[f"speedup_vs_allblocks_{sp}"] = ms["triton_0.0"] / ms[
            f"triton_{sp}"]
        if f"flex_{sp}" in ms:
            rec[f"ratio_vs_flex_{sp}"] = ms[f"flex_{sp}"] / ms[
                f"triton_{sp}"]
        rec[f"pipeline_vs_cudnn_{sp}"] = ms["sdpa_cudnn"] / ms[
            f"pipeline_{sp}"]
        rec[f"pipeline_vs_flash_{sp}"] = ms["sdpa_flash"] / ms[
            f"pipeline_{sp}"]
        over = ms[f"draftmask_{sp}"] + ms["permute_qkv"] + ms["restore_o"]
        rec[f"overhead_share_{sp}"] = over / ms[f"pipeline_{sp}"]
    if "flex_0.0" in ms:
        rec["ratio_vs_flex_0.0"] = ms["flex_0.0"] / ms["triton_0.0"]
    rec["allblocks_vs_cudnn"] = ms["sdpa_cudnn"] / ms["triton_0.0"]
    return rec


def _lookup_mod(bm):
    """The mask_mod of a block mask, for eager FlexAttention on CPU.

    Eager mode applies it to every score; compiled on the GPU, every kept block is
    a full block and the default (keep all) mask_mod is never applied, so one
    compile serves all masks of a size.
    """
    def mod(b, h, q_idx, kv_idx):
        return bm[b, h, q_idx // BLOCK, kv_idx // BLOCK]
    return mod


def _with(backend, fn, *args):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    if DEV != "cuda":  # the smoke run: whichever CPU backend
        backend = [backend, SDPBackend.MATH]
    with sdpa_kernel(backend):
        return fn(*args)


def main(argv=None) -> int:
    """Run on a GPU and write ``<out>/draft_attention.json``."""
    from effteach.bench import RESULTS_DIR, environment, write_json_atomic

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(RESULTS_DIR))
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA GPU: benchmarks run on a GPU machine only")
    env = environment()
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")

    def dump(records, method):
        method = dict(method)
        checks = method.pop("correctness", None)
        data = {"slug": SLUG, "created": created, "env": env,
                "method": {"timer": "triton.testing.do_bench",
                           "stat": "median of round medians", "l2_flush": True,
                           "interleaved": True, **method},
                "records": records, "correctness": checks}
        write_json_atomic(Path(a.out) / f"{SLUG}.json", data)

    run(quick=a.quick, dump=dump)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
