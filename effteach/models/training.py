"""Deterministic trainers of the zoo models: ``python -m effteach.train <name>``.

Every trainer seeds torch, fixes the thread count, shows a tqdm bar, logs the loss,
measures the model's quality against its trivial baseline, and saves the checkpoint
with :func:`effteach.zoo.save`. ``quick=True`` runs a few steps only (tests).

Book: notebooks/zoo/models.md, "How they were trained".
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable

import torch
from torch import nn

#: CPU threads per training run (EFFTEACH_TRAIN_THREADS); recorded in the checkpoint
THREADS = int(os.environ.get("EFFTEACH_TRAIN_THREADS", "2"))


def fit(
    model: nn.Module,
    loss_fn: Callable[[int], torch.Tensor],
    steps: int,
    lr: float,
    desc: str,
    warmup: int = 100,
    weight_decay: float = 0.01,
    log_every: int = 50,
) -> list[list[float]]:
    """AdamW with linear warm-up and cosine decay; returns ``[[step, loss], ...]``.

    Args:
        model: the module to train (put in train mode).
        loss_fn: ``loss_fn(step) -> scalar loss`` (draws its own seeded batch).
        steps: optimiser steps.
        lr: peak learning rate.
        desc: the progress bar's label.
        warmup: warm-up steps.
        weight_decay: AdamW's decoupled weight decay.
        log_every: record the mean loss every this many steps.
    """
    from tqdm.auto import tqdm

    model.train()
    opt = torch.optim.AdamW(
        model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.95)
    )

    def lr_at(s: int) -> float:
        if s < warmup:
            return lr * (s + 1) / warmup
        return (
            lr * 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, steps - warmup)))
        )

    log, acc = [], []
    bar = tqdm(range(steps), desc=desc, mininterval=2.0)
    for s in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(s)
        loss = loss_fn(s)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        acc.append(float(loss.detach()))
        if (s + 1) % log_every == 0 or s + 1 == steps:
            log.append([s + 1, sum(acc) / len(acc)])
            bar.set_postfix(loss=f"{log[-1][1]:.4f}")
            acc = []
    model.eval()
    return log


def _info(name: str, seed: int, steps: int, seconds: float, log, **extra) -> dict:
    import triton

    return {
        "command": f"python -m effteach.train {name}",
        "seed": seed,
        "steps": steps,
        "threads": torch.get_num_threads(),
        "seconds": round(seconds, 1),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "loss_log": log,
        **extra,
    }


def _start(seed: int) -> float:
    torch.manual_seed(seed)
    torch.set_num_threads(THREADS)
    return time.perf_counter()


# --------------------------------------------------------------------- TinyGPT text
TEXT_SEQ = 128


def text_config():
    """The TinyGPT trained on the stdlib corpus."""
    from effteach.models.gpt import GPTConfig

    return GPTConfig(
        vocab_size=97, n_ctx=TEXT_SEQ, d_model=128, n_layers=3, n_heads=4, d_ff=256
    )


@torch.no_grad()
def evaluate_text(model, max_batches: int | None = None) -> dict:
    """Held-out perplexity of a text TinyGPT and of the n-gram baselines."""
    from effteach.data import eval_batches, text_splits
    from effteach.metrics import perplexity, unigram_bigram_baselines

    sp = text_splits(TEXT_SEQ)
    nll, n = 0.0, 0
    for i, (x, y) in enumerate(eval_batches(sp.val, 32, TEXT_SEQ)):
        if max_batches is not None and i >= max_batches:
            break
        k = y.numel()
        nll += math.log(perplexity(model(x), y)) * k
        n += k
    base = unigram_bigram_baselines(sp.train, sp.val, sp.tokenizer.vocab_size)
    return {
        "val_perplexity": math.exp(nll / n),
        "val_tokens": n,
        "unigram_perplexity": base.unigram,
        "bigram_perplexity": base.bigram,
    }


def train_tinygpt_text(quick: bool = False, seed: int = 0, save: bool = True):
    """Train TinyGPT on the stdlib corpus (character level)."""
    from effteach import zoo
    from effteach.data import batches, text_splits
    from effteach.models.gpt import TinyGPT

    t0 = _start(seed)
    steps = 20 if quick else 2500
    model = TinyGPT(text_config())
    sp = text_splits(TEXT_SEQ)
    stream = batches(sp.train, 24, TEXT_SEQ, steps, seed)

    def loss_fn(_s):
        x, y = next(stream)
        return nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())

    log = fit(model, loss_fn, steps, 3e-3, "tinygpt_text")
    seconds = time.perf_counter() - t0
    metrics = evaluate_text(model, max_batches=2 if quick else None)
    if save:
        zoo.save(
            "tinygpt_text",
            model,
            _info(
                "tinygpt_text",
                seed,
                steps,
                seconds,
                log,
                data="stdlib corpus, char level",
            ),
            metrics,
        )
    return model, metrics, log


# --------------------------------------------------------------------- TinyGPT copy
COPY_SEQ, COPY_VOCAB = 64, 32


def copy_config():
    """The TinyGPT trained on the Markov-plus-copy task."""
    from effteach.models.gpt import GPTConfig

    return GPTConfig(
        vocab_size=COPY_VOCAB,
        n_ctx=COPY_SEQ,
        d_model=96,
        n_layers=2,
        n_heads=4,
        d_ff=256,
    )


@torch.no_grad()
def evaluate_copy(model, n: int = 512, seed: int = 10_000) -> dict:
    """Copy-half accuracy and Markov-half perplexity on fresh sequences."""
    from effteach.data import markov_chain, markov_copy_batch
    from effteach.metrics import perplexity, unigram_bigram_baselines

    b = markov_copy_batch(n, COPY_SEQ, COPY_VOCAB, seed=seed)
    logits = model(b.tokens)[:, :-1]
    y = b.tokens[:, 1:]
    copy, markov = b.copy_mask[:, :-1], b.markov_mask[:, :-1]
    pred = logits.argmax(-1)
    # the best a model without attention can do: guess the chain's likeliest successor
    chain_pred = b.chain.transition.argmax(-1)[b.tokens[:, :-1]]
    train = markov_copy_batch(n, COPY_SEQ, COPY_VOCAB, seed=seed + 1)
    base = unigram_bigram_baselines(
        train.tokens, b.tokens, COPY_VOCAB, alpha=0.1, val_mask=b.copy_mask
    )
    return {
        "copy_accuracy": float((pred[copy] == y[copy]).float().mean()),
        "copy_perplexity": perplexity(logits, y, copy),
        "markov_perplexity": perplexity(logits, y, markov),
        "markov_entropy_perplexity": markov_chain(COPY_VOCAB).perplexity,
        "bigram_copy_perplexity": base.bigram,
        "chain_only_copy_accuracy": float((chain_pred[copy] == y[copy]).float().mean()),
    }


def train_tinygpt_copy(quick: bool = False, seed: int = 0, save: bool = True):
    """Train TinyGPT on the Markov-plus-copy task (the copy half needs attention)."""
    from effteach import zoo
    from effteach.data import markov_copy_batch
    from effteach.models.gpt import TinyGPT

    t0 = _start(seed)
    steps = 20 if quick else 3000
    model = TinyGPT(copy_config())

    def loss_fn(s):
        b = markov_copy_batch(32, COPY_SEQ, COPY_VOCAB, seed=seed * 1_000_003 + s)
        logits = model(b.tokens)[:, :-1]
        return nn.functional.cross_entropy(
            logits.flatten(0, 1), b.tokens[:, 1:].flatten()
        )

    log = fit(model, loss_fn, steps, 2e-3, "tinygpt_copy")
    seconds = time.perf_counter() - t0
    metrics = evaluate_copy(model, n=64 if quick else 512)
    if save:
        zoo.save(
            "tinygpt_copy",
            model,
            _info(
                "tinygpt_copy",
                seed,
                steps,
                seconds,
                log,
                data="Markov+copy, vocab 32, length 64",
            ),
            metrics,
        )
    return model, metrics, log


# --------------------------------------------------------------- digit classifier
def train_digit_classifier(quick: bool = False, seed: int = 0, save: bool = True):
    """Train the 8×8 digit classifier (the judge of generated digits)."""
    from effteach import zoo
    from effteach.data import load_digits_tensors
    from effteach.models.classifier import DigitClassifier, DigitClassifierConfig

    t0 = _start(seed)
    x, y = load_digits_tensors("train")
    steps = 20 if quick else 1500
    model = DigitClassifier(DigitClassifierConfig())
    g = torch.Generator().manual_seed(seed)

    def loss_fn(_s):
        idx = torch.randint(len(x), (64,), generator=g)
        xb = x[idx] + 0.05 * torch.randn(x[idx].shape, generator=g)  # light noise
        return nn.functional.cross_entropy(model(xb), y[idx])

    log = fit(model, loss_fn, steps, 2e-3, "digit_classifier", warmup=50)
    seconds = time.perf_counter() - t0
    metrics = evaluate_digit_classifier(model)
    if save:
        zoo.save(
            "digit_classifier",
            model,
            _info(
                "digit_classifier",
                seed,
                steps,
                seconds,
                log,
                data="sklearn digits, fixed train split",
            ),
            metrics,
        )
    return model, metrics, log


@torch.no_grad()
def evaluate_digit_classifier(model) -> dict:
    """Test accuracy, and the majority-class baseline."""
    from effteach.data import load_digits_tensors
    from effteach.metrics import accuracy

    x, y = load_digits_tensors("test")
    majority = float((y == torch.bincount(y).argmax()).float().mean())
    return {
        "test_accuracy": accuracy(model(x), y),
        "majority_baseline": majority,
        "n_test": len(y),
    }


# ---------------------------------------------------------------- TinyDiT digits
DIT_SAMPLE_STEPS, DIT_CFG = 50, 2.0


def dit_config():
    """The TinyDiT trained on 8×8 digits."""
    from effteach.models.dit import DiTConfig

    return DiTConfig(
        img_size=8,
        patch=2,
        in_channels=1,
        d_model=64,
        depth=4,
        n_heads=4,
        mlp_ratio=4.0,
        n_classes=10,
    )


@torch.no_grad()
def sample_digits(
    model,
    per_class: int = 50,
    seed: int = 0,
    n_steps: int = DIT_SAMPLE_STEPS,
    cfg_scale: float = DIT_CFG,
):
    """DDIM samples, ``per_class`` of each digit; returns (images, labels)."""
    from effteach.models.diffusion import Schedule, ddim_sample

    y = torch.arange(10).repeat_interleave(per_class)
    x = ddim_sample(
        model,
        (len(y), 1, 8, 8),
        y,
        Schedule(),
        n_steps=n_steps,
        cfg_scale=cfg_scale,
        null_class=model.null_class,
        seed=seed,
    )
    return x.clamp(-1, 1), y


@torch.no_grad()
def digit_quality(images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Classifier accuracy of images w.r.t. their labels and FD to the test digits."""
    from effteach import zoo
    from effteach.data import load_digits_tensors
    from effteach.metrics import accuracy, frechet_distance

    clf = zoo.load("digit_classifier")
    test_x, _ = load_digits_tensors("test")
    return {
        "class_accuracy": accuracy(clf(images), labels),
        "fd_to_test": frechet_distance(clf.features(images), clf.features(test_x)),
    }


@torch.no_grad()
def evaluate_dit(model, per_class: int = 50) -> dict:
    """Samples' class accuracy and FD, against real digits and pure noise."""
    from effteach.data import load_digits_tensors

    x, y = sample_digits(model, per_class)
    out = {f"samples_{k}": v for k, v in digit_quality(x, y).items()}
    train_x, train_y = load_digits_tensors("train")
    real = digit_quality(train_x[:500], train_y[:500])
    noise = torch.randn(500, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    out.update(
        {
            "real_train_class_accuracy": real["class_accuracy"],
            "real_train_fd_to_test": real["fd_to_test"],
            "noise_fd_to_test": digit_quality(noise.clamp(-1, 1), train_y[:500])[
                "fd_to_test"
            ],
            "ddim_steps": DIT_SAMPLE_STEPS,
            "cfg_scale": DIT_CFG,
            "n_samples": len(y),
        }
    )
    return out


def train_tinydit_digits(quick: bool = False, seed: int = 0, save: bool = True):
    """Train TinyDiT (DDPM, class-conditional with label dropout) on 8×8 digits."""
    from effteach import zoo
    from effteach.data import load_digits_tensors
    from effteach.models.diffusion import Schedule, ddpm_loss
    from effteach.models.dit import TinyDiT

    t0 = _start(seed)
    x, y = load_digits_tensors("train")
    steps = 20 if quick else 4000
    model = TinyDiT(dit_config())
    g = torch.Generator().manual_seed(seed)
    sched = Schedule()

    def loss_fn(_s):
        idx = torch.randint(len(x), (128,), generator=g)
        return ddpm_loss(model, x[idx], y[idx], sched, g, null_class=model.null_class)

    log = fit(
        model, loss_fn, steps, 1e-3, "tinydit_digits", warmup=200, weight_decay=0.0
    )
    seconds = time.perf_counter() - t0
    metrics = evaluate_dit(model, per_class=2 if quick else 50)
    if save:
        zoo.save(
            "tinydit_digits",
            model,
            _info(
                "tinydit_digits",
                seed,
                steps,
                seconds,
                log,
                data="sklearn digits, fixed train split, scaled to [-1, 1]",
            ),
            metrics,
        )
    return model, metrics, log


# ------------------------------------------------------------------ video models
VIDEO = {
    "n_frames": 8,
    "size": 16,
    "n_objects": 1,
    "motion": "bounce",
    "objects": "shapes",
}
N_CONTEXT = 2
VIDEO_TEST_SEED = 999_983


def video_batch(n: int, seed: int):
    """Moving-shapes clips of the zoo's video models (8 frames of 16×16, bouncing)."""
    from effteach.data import moving_shapes

    return moving_shapes(n, seed=seed, **VIDEO)


#: the video models' recipe: fresh clips per step, AdamW peak lr, cosine decay
VIDEO_TRAIN = {"steps": 15_000, "batch": 64, "lr": 2e-3}


class _ClipStream(torch.utils.data.Dataset):
    """Item ``s`` is the batch of training step ``s``: a function of (seed, s)."""

    def __init__(self, steps: int, batch: int, seed: int):
        self.steps, self.batch, self.seed = steps, batch, seed

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, s: int) -> torch.Tensor:
        return video_batch(self.batch, seed=self.seed * 1_000_003 + s).video


def _clip_loader(steps: int, batch: int, seed: int, device: torch.device):
    """The training clips in step order.

    On a GPU machine worker processes render them; the batches are the same.
    """
    workers = min(4, (os.cpu_count() or 1) - 1) if device.type == "cuda" else 0
    return torch.utils.data.DataLoader(
        _ClipStream(steps, batch, seed),
        batch_size=None,
        num_workers=workers,
        prefetch_factor=8 if workers else None,
    )


def _train_device(device: str) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'auto', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' requested but torch sees no CUDA device")
    return torch.device(device)


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu ({torch.get_num_threads()} threads)"


@torch.no_grad()
def score_rollouts(pred: torch.Tensor, clips) -> dict:
    """Trajectory error, PSNR and SSIM of predicted frames, and of the static baseline.

    Args:
        pred: rollouts in [0, 1], shape (n, n_frames, 1, H, W); the first
            ``N_CONTEXT`` frames are the given context.
        clips: the ground-truth :class:`~effteach.data.MovingShapes`.
    """
    from effteach.metrics import (
        centroid_tracks,
        psnr,
        ssim,
        static_frame_baseline,
        trajectory_error,
    )

    truth = clips.video[:, N_CONTEXT:]
    pos = clips.positions[:, 0, N_CONTEXT:]
    static = static_frame_baseline(clips.video, N_CONTEXT)
    # a blob in the middle of the frame: what a model that learnt nothing about the
    # object's position scores (its centroid sits near the centre)
    size = clips.video.shape[-1]
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    r2 = (xx - (size - 1) / 2) ** 2 + (yy - (size - 1) / 2) ** 2
    center = (r2 <= 9).float().expand_as(truth)
    out = {}
    for label, frames in (("model", pred[:, N_CONTEXT:]), ("static", static),
                          ("center", center)):
        tracks = centroid_tracks(frames.clamp(0, 1), threshold=0.1)
        found = ~torch.isnan(tracks).any(-1)
        out[f"{label}_trajectory_error_px"] = (
            trajectory_error(torch.nan_to_num(tracks), pos, mask=found)
            if bool(found.any())
            else float("nan")  # the object vanished from every predicted frame
        )
        out[f"{label}_object_found"] = float(found.float().mean())
        flat = frames.flatten(0, 1).clamp(0, 1)
        out[f"{label}_psnr"] = float(psnr(flat, truth.flatten(0, 1), 1.0))
        out[f"{label}_ssim"] = float(ssim(flat, truth.flatten(0, 1), 1.0))
    return out


def video_dit_config():
    """The TinyVideoDiT of the zoo."""
    from effteach.models.video import VideoDiTConfig

    return VideoDiTConfig(
        n_frames=8,
        img_size=16,
        patch=4,
        in_channels=1,
        n_context=N_CONTEXT,
        d_model=64,
        depth=4,
        n_heads=4,
    )


@torch.no_grad()
def video_dit_rollout(model, clips, seed: int = 0, n_steps: int = 25) -> torch.Tensor:
    """Sample the frames after the context with DDIM; returns clips in [0, 1]."""
    from effteach.models.diffusion import Schedule, ddim_sample

    x = clips.video * 2 - 1  # the model works in [-1, 1]
    ctx = model.context_input(x)
    y = torch.zeros(len(x), dtype=torch.long)
    ab = Schedule().alphas_cumprod().float()

    def eps_fn(xt, t, _y):
        pred = model(xt, t, ctx)
        if model.cfg.prediction == "eps":
            return pred
        a_t = ab[t].view(-1, 1, 1, 1, 1)  # x0 prediction -> the implied noise
        return (xt - a_t.sqrt() * pred) / (1 - a_t).sqrt()

    out = ddim_sample(
        eps_fn,
        tuple(x.shape),
        y,
        Schedule(),
        n_steps=n_steps,
        seed=seed,
    )
    out[:, :N_CONTEXT] = x[:, :N_CONTEXT]
    return ((out + 1) / 2).clamp(0, 1)


def train_tinyvideodit(
    quick: bool = False, seed: int = 0, save: bool = True, device: str = "auto"
):
    """Train TinyVideoDiT to continue 2 context frames of moving shapes.

    The recipe (:data:`VIDEO_TRAIN`: 15 000 steps of 64 fresh clips) takes about
    5 min on an H200 and about 2 h on 2 CPU cores; the committed checkpoint was
    trained on the H200 (its config records the device). 4 000 steps of 16 clips,
    which fit the 15-minute CPU budget, leave the model at 0.8x the static-frame
    error: too little data, not too small a model. The noise and diffusion steps
    are drawn on the CPU, so a CPU run sees the same batches, steps and noise.

    Args:
        quick: a few steps (tests); nothing is saved unless ``save``.
        seed: seed of the weights, the data stream and the noise.
        save: write the checkpoint.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
    """
    from effteach import zoo
    from effteach.models.diffusion import Schedule
    from effteach.models.video import TinyVideoDiT

    t0 = _start(seed)
    dev = _train_device(device)
    steps, batch = (20, 8) if quick else (VIDEO_TRAIN["steps"], VIDEO_TRAIN["batch"])
    model = TinyVideoDiT(video_dit_config()).to(dev)
    sched = Schedule()
    ab_all = sched.alphas_cumprod().float()
    g = torch.Generator().manual_seed(seed)
    clips = iter(_clip_loader(steps, batch, seed, dev))

    def loss_fn(_s):
        x0 = next(clips).to(dev) * 2 - 1
        t = torch.randint(0, sched.n_train_steps, (len(x0),), generator=g)
        eps = torch.randn(x0.shape, generator=g).to(dev)
        ab = ab_all[t].view(-1, 1, 1, 1, 1).to(dev)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        pred = model(xt, t.to(dev), model.context_input(x0))
        # all frames: the context frames are easy (the clean frame is an input), and
        # learning them keeps them in distribution while DDIM runs
        return ((pred - (x0 if model.cfg.prediction == "x0" else eps)) ** 2).mean()

    log = fit(model, loss_fn, steps, VIDEO_TRAIN["lr"], "tinyvideodit", warmup=200,
              weight_decay=0.0)
    seconds = time.perf_counter() - t0
    model = model.cpu()  # scored on the CPU, like every reload
    test = video_batch(8 if quick else 64, VIDEO_TEST_SEED)
    metrics = score_rollouts(video_dit_rollout(model, test), test)
    metrics.update(
        {"n_test_clips": len(test.video), "ddim_steps": 25, "n_context": N_CONTEXT}
    )
    if save:
        zoo.save(
            "tinyvideodit",
            model,
            _info(
                "tinyvideodit",
                seed,
                steps,
                seconds,
                log,
                batch=batch,
                device=_device_name(dev),
                data=f"moving_shapes {VIDEO}, {batch} fresh clips every step",
            ),
            metrics,
        )
    return model, metrics, log


def ar_video_config():
    """The TinyARVideo of the zoo."""
    from effteach.models.video import ARVideoConfig

    return ARVideoConfig(
        n_frames=8,
        img_size=16,
        patch=4,
        n_codes=128,
        d_model=96,
        n_layers=3,
        n_heads=4,
        d_ff=256,
    )


def train_tinyarvideo(
    quick: bool = False, seed: int = 0, save: bool = True, device: str = "auto"
):
    """Fit the patch VQ codebook, then train the AR decoder on token sequences.

    Like :func:`train_tinyvideodit`, the recipe (:data:`VIDEO_TRAIN`) takes about
    6 min on an H200 and hours on 2 CPU cores; the committed checkpoint was
    trained on the H200. The codebook is fitted on the CPU either way.

    Args:
        quick: a few steps (tests); nothing is saved unless ``save``.
        seed: seed of the weights, the codebook and the data stream.
        save: write the checkpoint.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
    """
    from effteach import zoo
    from effteach.metrics import psnr
    from effteach.models.video import TinyARVideo

    t0 = _start(seed)
    dev = _train_device(device)
    steps, batch = (20, 8) if quick else (VIDEO_TRAIN["steps"], VIDEO_TRAIN["batch"])
    model = TinyARVideo(ar_video_config())
    fit_clips = video_batch(32 if quick else 256, seed=seed + 7)
    vq_mse = model.vq.fit(
        fit_clips.video.flatten(0, 1), n_iter=5 if quick else 20, seed=seed
    )
    model = model.to(dev)
    clips = iter(_clip_loader(steps, batch, seed, dev))

    def loss_fn(_s):
        with torch.no_grad():
            tokens = model.tokenize(next(clips).to(dev))
        logits = model.gpt(tokens)[:, :-1]
        return nn.functional.cross_entropy(
            logits.flatten(0, 1), tokens[:, 1:].flatten()
        )

    log = fit(model.gpt, loss_fn, steps, VIDEO_TRAIN["lr"], "tinyarvideo", warmup=200)
    model = model.cpu()  # scored on the CPU, like every reload
    seconds = time.perf_counter() - t0
    test = video_batch(8 if quick else 64, VIDEO_TEST_SEED)
    with torch.no_grad():
        recon = model.detokenize(model.tokenize(test.video))
    metrics = score_rollouts(model.rollout(test.video, N_CONTEXT), test)
    metrics.update(
        {
            "vq_fit_mse": vq_mse,
            "n_test_clips": len(test.video),
            "vq_reconstruction_psnr": float(
                psnr(recon.flatten(0, 1), test.video.flatten(0, 1), 1.0)
            ),
            "n_context": N_CONTEXT,
        }
    )
    if save:
        zoo.save(
            "tinyarvideo",
            model,
            _info(
                "tinyarvideo",
                seed,
                steps,
                seconds,
                log,
                batch=batch,
                device=_device_name(dev),
                data=f"moving_shapes {VIDEO}, {batch} fresh clips every step",
            ),
            metrics,
        )
    return model, metrics, log
