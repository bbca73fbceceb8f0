"""The character codec and the language-model pieces shared by both trainers.

One tokenizer (printable ASCII and newline, then BOS, EOS, PAD), the SFT target
(worked solution, then the boxed answer), completion-only cross-entropy, per-token
log-probabilities, cached sampling for the zoo's :class:`~effteach.models.TinyGPT`,
exact-match evaluation and the percentile bootstrap.  Used by the GPU run
(:mod:`effteach.econ_rl.train_gpu`) and the CPU checkpoint
(:mod:`effteach.econ_rl.train_cpu`), so both see the same text the same way.

Book: notebooks/econ_rl/lecture.md, "A checkpoint made on the CPU".
"""

from __future__ import annotations

import numpy as np
import torch

from effteach.econ_rl.problems import grade

VOCAB = [chr(i) for i in range(32, 127)] + ["\n"]
BOS, EOS, PAD = len(VOCAB), len(VOCAB) + 1, len(VOCAB) + 2
N_TOK = len(VOCAB) + 3
STOI = {c: i for i, c in enumerate(VOCAB)}


def encode(s: str) -> list[int]:
    """Characters to ids (unknown characters dropped)."""
    return [STOI[c] for c in s if c in STOI]


def decode(ids) -> str:
    """Ids to text, stopping at EOS."""
    out = []
    for i in ids:
        if i == EOS:
            break
        if i < len(VOCAB):
            out.append(VOCAB[i])
    return "".join(out)


def target_text(p) -> str:
    """The SFT completion: the worked solution, then the boxed answer."""
    return f" {p.solution} \\boxed{{{p.answer}}}"


def batch(pairs, device="cpu"):
    """Pad (prompt ids, completion ids) pairs; return tokens and completion mask.

    Each row is ``BOS prompt completion EOS`` padded on the right with PAD; the mask
    is 1 at the completion's tokens and at EOS.
    """
    seqs = [[BOS] + a + b + [EOS] for a, b in pairs]
    n = max(map(len, seqs))
    x = torch.full((len(seqs), n), PAD, dtype=torch.long)
    m = torch.zeros(len(seqs), n)
    for k, ((a, _b), s) in enumerate(zip(pairs, seqs, strict=True)):
        x[k, :len(s)] = torch.tensor(s)
        m[k, 1 + len(a):len(s)] = 1.0  # positions of completion tokens (+EOS)
    return x.to(device), m.to(device)


def token_logp(model, x):
    """Log-probabilities log p(x_t | x_<t) for t >= 1, shape (B, T-1)."""
    logits = model(x[:, :-1]).float()
    return torch.log_softmax(logits, -1).gather(-1, x[:, 1:, None])[..., 0]


def grpo_token_loss(lp, lp_old, lp_ref, adv, mask, clip: float, beta: float):
    """GRPO's loss over completion tokens, as both trainers minimise it.

    Per token: the clipped surrogate ``min(w A, clip(w, 1 +- clip) A)`` with
    ``w = exp(lp - lp_old)``, minus ``beta`` times the k3 KL to the reference
    (:func:`effteach.econ_rl.grpo.k3_kl`); averaged over each sequence's ``mask``,
    then over sequences, and negated.

    Returns:
        ``(loss, kl, clipped)``: the scalar loss, the per-token KL, and the share of
        completion tokens whose ratio left ``1 +- clip`` (a float).
    """
    ratio = torch.exp(lp - lp_old)
    surr = torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
    d = lp_ref - lp
    kl = torch.exp(d) - d - 1
    per_seq = ((surr - beta * kl) * mask).sum(1) / mask.sum(1).clamp(min=1)
    clipped = float((((ratio - 1).abs() > clip).float() * mask).sum() / mask.sum())
    return -per_seq.mean(), kl, clipped


def sft_loss(model, pairs, device="cpu"):
    """Cross-entropy on completion tokens only."""
    x, m = batch(pairs, device)
    lp = token_logp(model, x)
    mm = m[:, 1:]
    return -(lp * mm).sum() / mm.sum()


@torch.no_grad()
def complete(model, prompts, n_new: int, temperature: float = 0.0,
             generator: torch.Generator | None = None) -> list[list[int]]:
    """Complete prompts (lists of ids) with a TinyGPT and its KV cache.

    Prompts of equal length run as one batch (no padding, so every row sees exactly
    the positions it was trained on); PAD and BOS are never sampled; a row stops at
    EOS.  ``temperature=0`` is greedy.  Returns the new ids of each prompt, in order.
    """
    out: list[list[int] | None] = [None] * len(prompts)
    groups: dict[int, list[int]] = {}
    for k, p in enumerate(prompts):
        groups.setdefault(len(p), []).append(k)
    was_training = model.training
    model.eval()
    for _n, idx in sorted(groups.items()):
        x = torch.tensor([[BOS] + prompts[k] for k in idx], dtype=torch.long)
        n_max = min(n_new, model.cfg.n_ctx - x.shape[1])
        cache = model.new_cache()
        logits = model(x, cache)[:, -1].float()
        done = torch.zeros(len(idx), dtype=torch.bool)
        new = []
        for t in range(n_max):
            logits[:, PAD] = -torch.inf
            logits[:, BOS] = -torch.inf
            if temperature == 0:
                nxt = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / temperature, -1)
                nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]
            nxt = torch.where(done, torch.full_like(nxt, EOS), nxt)
            new.append(nxt)
            done |= nxt == EOS
            if bool(done.all()) or t + 1 == n_max:
                break
            logits = model(nxt[:, None], cache)[:, -1].float()
        ids = torch.stack(new, 1) if new else torch.zeros(len(idx), 0, dtype=torch.long)
        for row, k in enumerate(idx):
            seq = ids[row].tolist()
            out[k] = seq[:seq.index(EOS) + 1] if EOS in seq else seq
    model.train(was_training)
    return out  # type: ignore[return-value]


def exact_flags(model, problems, n_new: int = 120) -> np.ndarray:
    """Greedy exact-match flags (1.0 or 0.0) of ``model`` on ``problems``."""
    outs = complete(model, [encode(p.prompt) for p in problems], n_new)
    return np.array([grade(p, decode(o)) == "exact"
                     for p, o in zip(problems, outs, strict=True)], dtype=float)


def bootstrap_ci(flags, n_boot=2000, seed=0):
    """Mean and percentile 95% interval by resampling problems."""
    flags = np.asarray(flags, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(flags), (n_boot, len(flags)))
    means = flags[idx].mean(1)
    return [float(flags.mean()), float(np.quantile(means, 0.025)),
            float(np.quantile(means, 0.975))]


def bootstrap_diff(a, b, n_boot=2000, seed=0):
    """Paired difference mean(a - b) with a 95% interval."""
    return bootstrap_ci(np.asarray(a, float) - np.asarray(b, float), n_boot, seed)
