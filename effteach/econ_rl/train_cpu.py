"""The CPU checkpoint: SFT then GRPO, ``python -m effteach.train econ_rl_gpt``.

A zoo :class:`~effteach.models.TinyGPT` over :mod:`effteach.econ_rl.lm`'s characters
is trained from scratch on 2x2 problems of difficulty 1 (payoffs 0..9):

1. **SFT** on worked solutions (:func:`~effteach.econ_rl.lm.target_text`), fresh
   seeded problems every step, uniformly over :data:`CPU_CATEGORIES`; half of the
   pure-Nash prompts carry one earlier round of play
   (:func:`~effteach.econ_rl.arena.game_prompt`), so the arena's prompts are in
   distribution.
2. **GRPO**: ``GROUP`` samples per prompt at temperature 1, the binary reward,
   group-normalised advantages (:func:`~effteach.econ_rl.grpo.group_advantages`),
   token ratios clipped at ``1 +- CLIP`` over ``MU`` inner updates, and the k3 KL to
   the frozen SFT model with weight ``BETA``.

Greedy exact-match accuracy per category (with bootstrap 95% intervals), after SFT
and after GRPO, on evaluation seeds disjoint from training, goes to the metrics file;
the SFT loss log and the GRPO log (step, mean reward, KL, clipped share) to the
config.  Deterministic: seeded, fixed thread count (``EFFTEACH_TRAIN_THREADS``).

Book: notebooks/econ_rl/lecture.md, "A checkpoint made on the CPU".
"""

from __future__ import annotations

import time

import numpy as np
import torch

from effteach.econ_rl.arena import game_prompt
from effteach.econ_rl.grpo import group_advantages
from effteach.econ_rl.lm import (
    EOS,
    N_TOK,
    batch,
    bootstrap_ci,
    complete,
    decode,
    encode,
    exact_flags,
    grpo_token_loss,
    sft_loss,
    target_text,
    token_logp,
)
from effteach.econ_rl.problems import (
    CATEGORIES,
    Problem,
    generate,
    grade,
)

NAME = "econ_rl_gpt"
#: the categories the CPU model trains on (all at difficulty 1)
CPU_CATEGORIES = ("dominant", "pure_nash")
#: evaluation groups: every category, plus pure-Nash prompts with one round of history
EVAL_GROUPS = CATEGORIES + ("pure_nash_history",)
SFT_STEPS, SFT_BATCH, SFT_LR = 1500, 16, 3e-3
RL_STEPS, PROMPTS, GROUP, MU, CLIP, BETA, RL_LR = 20, 4, 8, 2, 0.2, 0.04, 1e-4
N_NEW = 150
EVAL_SEED = 5_000_000


def config():
    """The TinyGPT of the chapter (about 0.12 M parameters)."""
    from effteach.models.gpt import GPTConfig

    return GPTConfig(vocab_size=N_TOK, n_ctx=384, d_model=64, n_layers=2,
                     n_heads=4, d_ff=192)


def scratchpad(p: Problem) -> str:
    """The CPU model's SFT target: every comparison written out, then the box.

    Dominant strategy: each row against each other row, entry by entry
    (``5>3y``); pure Nash: for each cell, the row player's and the column player's
    comparison with the other entries of its column and row (``5>=3y``).  A small
    model can copy two digits and compare them; deciding a whole game in one
    character, as the generator's one-line solution asks, it does not learn in
    minutes.  Other categories keep :func:`~effteach.econ_rl.lm.target_text`.
    """
    if p.category not in ("dominant", "pure_nash"):
        return target_text(p)
    A, B = np.array(p.params["A"]), np.array(p.params["B"])
    m, n = A.shape
    if p.category == "dominant":
        parts = [f"row {i + 1}: " + " ".join(
            f"{A[i, j]}>{A[k, j]}{'y' if A[i, j] > A[k, j] else 'n'}"
            for k in range(m) if k != i for j in range(n)) for i in range(m)]
        return f" {'; '.join(parts)}; dominant: {p.answer}. \\boxed{{{p.answer}}}"
    parts = []
    for i in range(m):
        for j in range(n):
            ca = " ".join(f"{A[i, j]}>={A[k, j]}{'y' if A[i, j] >= A[k, j] else 'n'}"
                          for k in range(m) if k != i)
            cb = " ".join(f"{B[i, j]}>={B[i, k]}{'y' if B[i, j] >= B[i, k] else 'n'}"
                          for k in range(n) if k != j)
            parts.append(f"({i + 1},{j + 1}): {ca} {cb}")
    return f" {'; '.join(parts)}; equilibria: {p.answer}. \\boxed{{{p.answer}}}"


def with_history(p: Problem, seed: int) -> Problem:
    """A pure-Nash problem with one seeded earlier round shown (same answer)."""
    rng = np.random.default_rng([seed, 7])
    hist = [tuple(int(a) for a in rng.integers(0, 2, 2))]
    prompt = game_prompt(np.array(p.params["A"]), np.array(p.params["B"]), hist)
    return Problem(p.category, p.difficulty, p.params, prompt, p.answer, p.solution)


def problem(group: str, seed: int) -> Problem:
    """One difficulty-1 problem of an evaluation group (see :data:`EVAL_GROUPS`)."""
    if group == "pure_nash_history":
        return with_history(generate("pure_nash", seed, 1), seed)
    return generate(group, seed, 1)


def train_problem(s: int, k: int) -> Problem:
    """The ``k``-th SFT problem of step ``s`` (a pure function of s and k)."""
    cat = CPU_CATEGORIES[(s * SFT_BATCH + k) % len(CPU_CATEGORIES)]
    seed = s * SFT_BATCH + k
    p = generate(cat, seed, 1)
    return with_history(p, seed) if cat == "pure_nash" and (seed // 2) % 2 else p


def evaluate(model, n: int = 100, seed: int = EVAL_SEED,
             groups=EVAL_GROUPS) -> dict:
    """Greedy exact-match flags per evaluation group, ``n`` problems each."""
    return {g: exact_flags(model, [problem(g, seed + k) for k in range(n)], N_NEW)
            for g in groups}


def _summary(flags: dict) -> dict:
    return {g: bootstrap_ci(f) for g, f in flags.items()}


def grpo(policy, ref, steps: int, seed: int, desc: str = "econ_rl_gpt grpo"):
    """GRPO from the SFT weights (``ref`` frozen); returns the per-step log."""
    from tqdm.auto import tqdm

    opt = torch.optim.AdamW(policy.parameters(), lr=RL_LR, betas=(0.9, 0.99),
                            weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    log = []
    for step in tqdm(range(steps), desc=desc, mininterval=2.0):
        probs = [generate(CPU_CATEGORIES[(step * PROMPTS + k) % len(CPU_CATEGORIES)],
                          3_000_000 + step * PROMPTS + k, 1) for k in range(PROMPTS)]
        group = [p for p in probs for _ in range(GROUP)]
        prompts = [encode(p.prompt) for p in group]
        outs = complete(policy, prompts, N_NEW, 1.0, gen)
        rewards = np.array([float(grade(p, decode(o)) == "exact")
                            for p, o in zip(group, outs, strict=True)])
        adv = group_advantages(rewards.reshape(PROMPTS, GROUP)).reshape(-1)
        comp = [o[:o.index(EOS)] if EOS in o else o for o in outs]
        x, m = batch(list(zip(prompts, comp, strict=True)))
        mm = m[:, 1:]
        A = torch.tensor(adv, dtype=torch.float32)[:, None]
        with torch.no_grad():
            lp_old = token_logp(policy, x)
            lp_ref = token_logp(ref, x)
        policy.train()
        for _ in range(MU):
            loss, kl, clipped = grpo_token_loss(token_logp(policy, x), lp_old, lp_ref,
                                                A, mm, CLIP, BETA)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt.step()
        log.append([step + 1, float(rewards.mean()),
                    float((kl.detach() * mm).sum() / mm.sum()), clipped])
    policy.eval()
    return log


def train_econ_rl_gpt(quick: bool = False, seed: int = 0, save: bool = True):
    """Train the chapter's CPU model: SFT, then GRPO (about 4 min on 2 CPU cores).

    ``quick=True`` runs a few steps of each phase and evaluates on 4 problems per
    group; nothing is saved then.
    """
    from effteach import zoo
    from effteach.models import training as T
    from effteach.models.gpt import TinyGPT

    t0 = T._start(seed)
    sft_steps, rl_steps, n_eval = (6, 2, 4) if quick else (SFT_STEPS, RL_STEPS, 100)
    model = TinyGPT(config())

    def loss_fn(s):
        ps = [train_problem(seed * 10**7 + s, k) for k in range(SFT_BATCH)]
        return sft_loss(model, [(encode(p.prompt), encode(scratchpad(p)))
                                for p in ps])

    log = T.fit(model, loss_fn, sft_steps, SFT_LR, "econ_rl_gpt sft",
                warmup=min(100, sft_steps), log_every=min(50, sft_steps))
    t_sft = time.perf_counter() - t0
    sft_flags = evaluate(model, n_eval)
    ref = TinyGPT(config())
    ref.load_state_dict(model.state_dict())
    ref.requires_grad_(False).eval()
    t1 = time.perf_counter()
    rl_log = grpo(model, ref, rl_steps, seed)
    t_rl = time.perf_counter() - t1
    rl_flags = evaluate(model, n_eval)
    seconds = time.perf_counter() - t0
    metrics = {
        "accuracy": _summary(rl_flags),
        "sft_accuracy": _summary(sft_flags),
        "grpo_minus_sft": {g: bootstrap_ci(rl_flags[g] - sft_flags[g])
                           for g in EVAL_GROUPS},
        "n_eval_per_group": n_eval,
        "eval_seed": EVAL_SEED,
        "train_mean_accuracy": float(np.mean([rl_flags[g].mean()
                                              for g in CPU_CATEGORIES])),
        "sft_train_mean_accuracy": float(np.mean([sft_flags[g].mean()
                                                  for g in CPU_CATEGORIES])),
    }
    if save:
        zoo.save(NAME, model, T._info(
            NAME, seed, sft_steps + rl_steps, seconds, log,
            sft_steps=sft_steps, rl_steps=rl_steps, rl_log=rl_log,
            sft_seconds=round(t_sft, 1), rl_seconds=round(t_rl, 1),
            data=f"difficulty-1 problems of {', '.join(CPU_CATEGORIES)}; fresh "
                 f"seeds per step; half the pure-Nash prompts with one round of "
                 f"history",
            recipe={"sft_batch": SFT_BATCH, "sft_lr": SFT_LR,
                    "prompts_per_step": PROMPTS, "group_size": GROUP, "mu": MU,
                    "clip": CLIP, "beta": BETA, "rl_lr": RL_LR,
                    "temperature": 1.0, "reward": "binary"}), metrics)
    return model, metrics, log
