"""SFT -> GRPO on the generated problems, with both controls; torch only.

``python3 -m effteach.econ_rl.train_gpu --out DIR [--tiny]`` trains a character
-level decoder from scratch: SFT on worked solutions, then GRPO (G samples per
prompt, group-normalised binary rewards, clipped token ratios over ``mu`` inner
updates, k3 KL to the SFT reference).  Controls start from the same SFT weights and
take the same number of optimiser steps: (a) compute-matched SFT on the same
labelled set, (b) SFT on fresh labelled problems.  Exact-match accuracy (greedy) on
held-out problems of the training categories and on held-out categories, with
bootstrap 95% intervals, goes to ``DIR/econ_rl.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time

import numpy as np
import torch
from torch import nn

from effteach.econ_rl.grpo import group_advantages
from effteach.econ_rl.lm import (  # noqa: F401  (re-exported for the tests)
    BOS,
    EOS,
    N_TOK,
    PAD,
    VOCAB,
    bootstrap_ci,
    bootstrap_diff,
    decode,
    encode,
    grpo_token_loss,
    sft_loss,
    target_text,
    token_logp,
)
from effteach.econ_rl.lm import batch as _batch
from effteach.econ_rl.problems import HELD_OUT, TRAIN_CATEGORIES, generate, grade


class GPT(nn.Module):
    """A small pre-norm causal transformer over characters."""

    def __init__(self, d=128, layers=4, heads=4, ctx=512):
        super().__init__()
        self.ctx = ctx
        self.emb = nn.Embedding(N_TOK, d)
        self.pos = nn.Embedding(ctx, d)
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, 0.0, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, N_TOK, bias=False)

    def forward(self, x):  # noqa: D102
        t = x.shape[1]
        h = self.emb(x) + self.pos(torch.arange(t, device=x.device))
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=x.device)
        return self.head(self.norm(self.body(h, mask=mask, is_causal=True)))


@torch.no_grad()
def sample(model, prompts, n_new, temp, device, gen=None):
    """Complete each prompt (list of ids); temp 0 is greedy. Returns id lists."""
    model.eval()
    lens = [len(p) + 1 for p in prompts]
    L = max(lens)
    x = torch.full((len(prompts), L + n_new), PAD, dtype=torch.long, device=device)
    for k, p in enumerate(prompts):  # right-align prompts so all end at L
        x[k, L - len(p) - 1:L] = torch.tensor([BOS] + p, device=device)
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    for t in range(L, L + n_new):
        logits = model(x[:, max(0, t - model.ctx):t])[:, -1].float()
        logits[:, PAD] = -1e9
        logits[:, BOS] = -1e9
        if temp == 0:
            nxt = logits.argmax(-1)
        else:
            probs = torch.softmax(logits / temp, -1)
            nxt = torch.multinomial(probs, 1, generator=gen)[:, 0]
        nxt = torch.where(done, torch.full_like(nxt, EOS), nxt)
        x[:, t] = nxt
        done |= nxt == EOS
        if bool(done.all()):
            break
    model.train()
    return [x[k, L:].tolist() for k in range(len(prompts))]


def evaluate(model, probs, device, n_new, bs=64):
    """Exact-match flags (greedy) on problems."""
    flags = []
    for i in range(0, len(probs), bs):
        chunk = probs[i:i + bs]
        outs = sample(model, [encode(p.prompt) for p in chunk], n_new, 0, device)
        flags += [grade(p, decode(o)) == "exact" for p, o in zip(chunk, outs,
                                                                    strict=True)]
    return np.array(flags, dtype=float)


def run(out, tiny=False, seed=0):
    """Train SFT, GRPO and the two controls; write ``out/econ_rl.json``."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    if tiny:
        cfg = dict(d=32, layers=1, heads=2, ctx=512)
        n_lab, sft_steps, rl_steps, bs, G, n_eval, n_new = 60, 6, 2, 4, 4, 6, 24
    else:
        cfg = dict(d=512, layers=8, heads=8, ctx=512)
        n_lab, sft_steps, rl_steps, bs, G, n_eval, n_new = (
            3000, 2500, 150, 16, 8, 100, 64)
    mu, clip, beta, lr_rl = 2, 0.2, 0.04, 1e-5
    t0 = time.time()
    lab = [generate(c, s, 1 + s % 2) for s in range(n_lab) for c in TRAIN_CATEGORIES]
    fresh = [generate(c, 10**6 + s, 1 + s % 2)
             for s in range(n_lab) for c in TRAIN_CATEGORIES]
    ev_in = [generate(c, 2 * 10**6 + s, 1 + s % 2)
             for s in range(n_eval) for c in TRAIN_CATEGORIES]
    ev_out = [generate(c, 2 * 10**6 + s, 1 + s % 2)
              for s in range(n_eval) for c in HELD_OUT]
    pairs = [(encode(p.prompt), encode(target_text(p))) for p in lab]
    fresh_pairs = [(encode(p.prompt), encode(target_text(p))) for p in fresh]
    rng = np.random.default_rng(seed)
    model = GPT(**cfg).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    amp = dict(device_type="cuda", dtype=torch.bfloat16, enabled=dev == "cuda")

    def sft(m, data, steps, lr, log, budget=None):
        opt = torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.01)
        for s in range(steps):
            if budget is not None and time.time() - t0 > budget:
                log.append(["stopped_at_budget", s])
                break
            w = min(1.0, (s + 1) / 50) * 0.5 * (1 + math.cos(math.pi * s / steps))
            for g in opt.param_groups:
                g["lr"] = lr * w
            idx = rng.integers(0, len(data), 32)
            with torch.autocast(**amp):
                loss = sft_loss(m, [data[i] for i in idx], dev)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            if s % max(1, steps // 20) == 0:
                log.append([s, float(loss)])
        return m

    sft_log = []
    sft(model, pairs, sft_steps, 1e-3 if not tiny else 3e-3, sft_log,
        None if tiny else 170)
    t_sft = time.time() - t0
    base_state = {k: v.clone() for k, v in model.state_dict().items()}

    def fresh_model():
        m = GPT(**cfg).to(dev)
        m.load_state_dict(base_state)
        return m

    # ---- GRPO
    policy, ref = fresh_model(), fresh_model()
    ref.requires_grad_(False)
    opt = torch.optim.AdamW(policy.parameters(), lr=lr_rl, betas=(0.9, 0.99),
                            weight_decay=0.0)
    gen = torch.Generator(device=dev).manual_seed(seed)
    rl_log = []
    rl_pool = [generate(c, 3 * 10**6 + s, 1 + s % 2)
               for s in range(rl_steps * bs) for c in TRAIN_CATEGORIES]
    for step in range(rl_steps):
        if not tiny and time.time() - t0 > 360:
            break
        batch = [rl_pool[i] for i in rng.integers(0, len(rl_pool), bs)]
        prompts = [encode(p.prompt) for p in batch for _ in range(G)]
        outs = sample(policy, prompts, n_new, 1.0, dev, gen)
        rewards = np.array([1.0 if grade(p, decode(o)) == "exact" else 0.0
                            for p, o in zip([p for p in batch for _ in range(G)],
                                            outs, strict=True)]).reshape(bs, G)
        adv = group_advantages(rewards)
        comp = []
        for o in outs:
            o = o[:o.index(EOS)] if EOS in o else o
            comp.append(o)
        x, m = _batch(list(zip(prompts, comp, strict=True)), dev)
        mm = m[:, 1:]
        A = torch.tensor(adv.reshape(-1), dtype=torch.float32, device=dev)[:, None]
        with torch.no_grad(), torch.autocast(**amp):
            lp_old = token_logp(policy, x)
            lp_ref = token_logp(ref, x)
        clipped = 0.0
        for _ in range(mu):
            with torch.autocast(**amp):
                lp = token_logp(policy, x)
            loss, kl, clipped = grpo_token_loss(lp, lp_old, lp_ref, A, mm, clip, beta)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt.step()
        rl_log.append([step, float(rewards.mean()), float((kl * mm).sum()
                                                          / mm.sum()), clipped])
    t_rl = time.time() - t0 - t_sft
    # ---- controls: same number of optimiser steps as GRPO
    rl_steps = len(rl_log)
    n_ctrl = rl_steps * mu
    ctrl_same = sft(fresh_model(), pairs, n_ctrl, lr_rl * 10, [])
    ctrl_more = sft(fresh_model(), fresh_pairs, n_ctrl, lr_rl * 10, [])
    sft_model = fresh_model()
    res = {}
    flags = {}
    for name, mdl in [("sft", sft_model), ("grpo", policy),
                      ("sft_compute_matched", ctrl_same),
                      ("sft_more_data", ctrl_more)]:
        fi = evaluate(mdl, ev_in, dev, n_new)
        fo = evaluate(mdl, ev_out, dev, n_new)
        flags[name] = fi
        res[name] = {"held_out_problems": bootstrap_ci(fi),
                     "held_out_categories": bootstrap_ci(fo),
                     "per_category": {c: float(fi[k::len(TRAIN_CATEGORIES)].mean())
                                      for k, c in enumerate(TRAIN_CATEGORIES)}}
    diffs = {f"grpo_minus_{k}": bootstrap_diff(flags["grpo"], flags[k])
             for k in ("sft", "sft_compute_matched", "sft_more_data")}
    out_json = {
        "config": cfg, "n_params": n_params, "tiny": tiny, "seed": seed,
        "n_labelled_problems": len(lab), "sft_steps": sft_steps,
        "rl_steps": rl_steps, "group_size": G, "prompts_per_step": bs, "mu": mu,
        "clip": clip, "beta": beta, "control_steps": n_ctrl,
        "n_eval_in": len(ev_in), "n_eval_out": len(ev_out),
        "accuracy": res, "paired_differences": diffs,
        "sft_log": sft_log, "rl_log": rl_log,
        "seconds": {"sft": t_sft, "rl": t_rl, "total": time.time() - t0},
        "env": {"torch": torch.__version__, "python": platform.python_version(),
                "device": (torch.cuda.get_device_name() if dev == "cuda"
                           else platform.processor() or "cpu")},
    }
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "econ_rl.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out_json, f, indent=1)
    os.replace(path + ".tmp", path)
    return out_json


def main(argv=None):
    """Command line entry."""
    ap = argparse.ArgumentParser(prog="effteach.econ_rl.train_gpu")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tiny", action="store_true")
    a = ap.parse_args(argv)
    r = run(a.out, tiny=a.tiny)
    print(json.dumps({k: r[k] for k in ("accuracy", "paired_differences",
                                        "seconds", "n_params")}, indent=1))


if __name__ == "__main__":
    main()
