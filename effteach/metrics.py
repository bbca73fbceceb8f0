"""Metrics of the model zoo, and the trivial baselines each model must beat.

* Language models: :func:`perplexity`, :func:`bits_per_token`, and
  :func:`unigram_bigram_baselines` (the add-alpha n-gram floor a transformer has to
  get under).
* Classifiers: :func:`accuracy`.
* Generative image models: :func:`frechet_distance` (the Fréchet distance behind
  FID, on any feature set), :func:`psnr`, :func:`ssim`.
* Video models: :func:`centroid_tracks` reads object positions off frames,
  :func:`trajectory_error` compares them with the truth of
  :func:`effteach.data.moving_shapes`, and :func:`static_frame_baseline` is the
  "nothing moves" prediction a video model has to beat.

All reductions run in float64 and return Python floats unless ``reduction="none"``.
Inputs may live on any device; nothing here builds an autograd graph.

Book: notebooks/zoo/models.md, "Metrics".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "perplexity",
    "bits_per_token",
    "NGramBaselines",
    "unigram_bigram_baselines",
    "accuracy",
    "frechet_distance",
    "psnr",
    "ssim",
    "centroid_tracks",
    "trajectory_error",
    "static_frame_baseline",
]


# ---------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------


def _tensor(name: str, x) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    return x.detach()  # metrics never build autograd graphs


def _float(name: str, x, min_dim: int = 1) -> torch.Tensor:
    x = _tensor(name, x)
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name}: expected a floating-point tensor, got {x.dtype}")
    if x.dim() < min_dim:
        raise ValueError(
            f"{name}: expected at least {min_dim} dimension(s), got shape "
            f"{tuple(x.shape)}"
        )
    return x


def _ints(name: str, x) -> torch.Tensor:
    x = _tensor(name, x)
    if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
        raise TypeError(f"{name}: expected an integer tensor, got {x.dtype}")
    return x.long()


def _mask(name: str, mask, shape: torch.Size) -> torch.Tensor | None:
    if mask is None:
        return None
    mask = _tensor(name, mask)
    if mask.dtype != torch.bool:
        raise TypeError(f"{name}: expected a bool tensor, got {mask.dtype}")
    if mask.shape != shape:
        raise ValueError(
            f"{name}: expected shape {tuple(shape)}, got {tuple(mask.shape)}"
        )
    if not mask.any():
        raise ValueError(f"{name}: selects no position; nothing to score")
    return mask


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a positive number, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name}: expected a finite number > 0, got {value}")
    return float(value)


# ---------------------------------------------------------------------------------
# Language models
# ---------------------------------------------------------------------------------


def _mean_nll(logits, targets, mask) -> float:
    logits = _float("logits", logits, min_dim=2)
    targets = _ints("targets", targets)
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets: expected shape {tuple(logits.shape[:-1])} (logits without its "
            f"last dim), got {tuple(targets.shape)}"
        )
    vocab = logits.shape[-1]
    if targets.numel() and (targets.min() < 0 or targets.max() >= vocab):
        raise ValueError(
            f"targets: expected ids in [0, {vocab}) (logits' last dim), got range "
            f"[{int(targets.min())}, {int(targets.max())}]"
        )
    mask = _mask("mask", mask, targets.shape)
    if mask is not None:
        logits, targets = logits[mask], targets[mask]
    if targets.numel() == 0:
        raise ValueError("targets: empty; nothing to score")
    work = logits if logits.dtype == torch.float64 else logits.float()
    nll = F.cross_entropy(
        work.reshape(-1, vocab), targets.reshape(-1), reduction="none"
    )
    return float(nll.double().mean())


def perplexity(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
) -> float:
    """Perplexity: ``exp`` of the mean negative log-likelihood of the targets.

    Args:
        logits: unnormalised scores, float, shape (..., vocab); ``logits[..., t, :]``
            predicts ``targets[..., t]``.
        targets: ids in ``[0, vocab)``, integer, shape (...).
        mask: optional bool, shape (...): score only the True positions (e.g.
            ``MarkovCopyBatch.copy_mask``).

    Returns:
        ``exp(mean NLL)`` (natural log inside), >= 1; equals ``vocab`` for uniform
        logits.

    Raises:
        TypeError, ValueError: if a shape, dtype or id range is wrong, or ``mask``
            selects nothing.

    Paper: Jelinek et al. 1977, "Perplexity - a measure of the difficulty of speech
        recognition tasks".
    Book: notebooks/zoo/models.md, "Metrics".
    """
    return math.exp(_mean_nll(logits, targets, mask))


def bits_per_token(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
) -> float:
    """Mean negative log2-likelihood (bits per character for a char model).

    Same arguments as :func:`perplexity`; ``perplexity == 2 ** bits_per_token``.
    """
    return _mean_nll(logits, targets, mask) / math.log(2)


@dataclass(frozen=True)
class NGramBaselines:
    """Held-out perplexities of add-alpha n-gram models.

    Attributes:
        unigram: perplexity of ``p(x_t)``.
        bigram: perplexity of ``p(x_t | x_{t-1})``.
        n_scored: number of predicted tokens (the same positions for both).
    """

    unigram: float
    bigram: float
    n_scored: int


def _rows(name: str, tokens, vocab_size: int) -> torch.Tensor:
    tokens = _ints(name, tokens)
    if tokens.dim() == 1:
        tokens = tokens[None]
    if tokens.dim() != 2 or tokens.shape[1] < 2:
        raise ValueError(
            f"{name}: expected shape (n,) or (batch, n) with n >= 2, got "
            f"{tuple(tokens.shape)}"
        )
    if tokens.min() < 0 or tokens.max() >= vocab_size:
        raise ValueError(
            f"{name}: expected ids in [0, {vocab_size}) (vocab_size), got range "
            f"[{int(tokens.min())}, {int(tokens.max())}]"
        )
    return tokens


def unigram_bigram_baselines(
    train_tokens: torch.Tensor,
    val_tokens: torch.Tensor,
    vocab_size: int,
    alpha: float = 1.0,
    val_mask: torch.Tensor | None = None,
) -> NGramBaselines:
    """Held-out perplexity of add-alpha unigram and bigram models.

    Counts come from ``train_tokens``; the models are
    ``p(b) = (c_b + alpha) / (N + alpha V)`` and
    ``p(b | a) = (c_ab + alpha) / (c_a. + alpha V)`` with ``c_a.`` the number of
    training pairs starting with ``a``. Both are scored on the same held-out
    transitions ``val[..., t] -> val[..., t + 1]``, so the numbers compare with a
    model's :func:`perplexity` on next-token targets. A language model that does
    not beat the bigram has learnt nothing beyond character pairs.

    Args:
        train_tokens: ids, integer, shape (n,) or (batch, n); rows are separate
            sequences (no pair spans two rows).
        val_tokens: held-out ids, same layout.
        vocab_size: number of ids V, >= 1 (the count table has V * V entries).
        alpha: additive smoothing, > 0 (1 is Laplace).
        val_mask: optional bool of ``val_tokens``' shape; True at input position
            ``t`` scores the prediction of ``val[..., t + 1]`` (the convention of
            :class:`~effteach.data.MarkovCopyBatch` masks); the last column is
            ignored.

    Returns:
        An :class:`NGramBaselines`.

    Raises:
        TypeError, ValueError: for a wrong dtype, shape, id range, ``alpha`` or
            an empty mask.

    Paper: Chen and Goodman 1999, "An empirical study of smoothing techniques for
        language modeling" (additive smoothing).
    Book: notebooks/zoo/models.md, "Baselines".
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise TypeError(f"vocab_size: expected an int, got {type(vocab_size).__name__}")
    if not 1 <= vocab_size <= 65536:
        raise ValueError(f"vocab_size: expected an int in [1, 65536], got {vocab_size}")
    alpha = _positive("alpha", alpha)
    train = _rows("train_tokens", train_tokens, vocab_size)
    val = _rows("val_tokens", val_tokens, vocab_size)
    V = vocab_size
    uni = torch.bincount(train.reshape(-1), minlength=V).double()
    pairs = (train[:, :-1] * V + train[:, 1:]).reshape(-1)
    bi = torch.bincount(pairs, minlength=V * V).double().reshape(V, V)
    log_p_uni = torch.log((uni + alpha) / (uni.sum() + alpha * V))
    log_p_bi = torch.log((bi + alpha) / (bi.sum(dim=1, keepdim=True) + alpha * V))
    prev, nxt = val[:, :-1], val[:, 1:]
    if val_mask is not None:
        shape = val_tokens.shape
        val_mask = _mask("val_mask", val_mask, torch.Size(shape))
        keep = (val_mask if val_mask.dim() == 2 else val_mask[None])[:, :-1]
        if not keep.any():
            raise ValueError("val_mask: selects no position before the last column")
        prev, nxt = prev[keep], nxt[keep]
    prev, nxt = prev.reshape(-1), nxt.reshape(-1)
    return NGramBaselines(
        unigram=math.exp(float(-log_p_uni[nxt].mean())),
        bigram=math.exp(float(-log_p_bi[prev, nxt].mean())),
        n_scored=int(nxt.numel()),
    )


# ---------------------------------------------------------------------------------
# Classifiers
# ---------------------------------------------------------------------------------


def accuracy(logits_or_labels: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of correct predictions.

    Args:
        logits_or_labels: either scores, float, shape (..., n_classes) (the argmax
            is the prediction), or predicted labels, integer, shape (...).
        labels: true labels, integer, shape (...).

    Returns:
        The accuracy in [0, 1].

    Raises:
        TypeError, ValueError: if dtypes or shapes do not match either form.
    """
    pred = _tensor("logits_or_labels", logits_or_labels)
    labels = _ints("labels", labels)
    if pred.dtype.is_floating_point:
        if pred.shape[:-1] != labels.shape or pred.dim() == 0:
            raise ValueError(
                f"logits_or_labels: float scores must have shape labels.shape + "
                f"(n_classes,) = {tuple(labels.shape)} + (n,), got {tuple(pred.shape)}"
            )
        pred = pred.argmax(dim=-1)
    else:
        pred = _ints("logits_or_labels", pred)
        if pred.shape != labels.shape:
            raise ValueError(
                f"logits_or_labels: integer labels must have labels' shape "
                f"{tuple(labels.shape)}, got {tuple(pred.shape)}"
            )
    if labels.numel() == 0:
        raise ValueError("labels: empty; nothing to score")
    return float((pred == labels).double().mean())


# ---------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------


def _features(name: str, x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(
            f"{name}: expected shape (n, d) with n >= 2 samples, got {x.shape}"
        )
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: contains inf or nan")
    return x


def _trace_sqrt_product(a: np.ndarray, b: np.ndarray) -> float:
    """``tr sqrt(a b)`` for symmetric PSD ``a``, ``b`` via ``a^1/2 b a^1/2``.

    ``a b`` is similar to the symmetric PSD ``a^1/2 b a^1/2`` (same eigenvalues,
    all >= 0), so the trace of the square root is the sum of the square roots of
    that matrix's eigenvalues: two ``eigh`` calls, real throughout, no ``sqrtm``
    (whose Schur form picks up complex round-off on nearly singular covariances).
    """
    w, v = np.linalg.eigh(a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root_a @ b @ root_a
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(ev, 0, None)).sum())


def frechet_distance(feats_a, feats_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})`` with the sample means
    and (unbiased) covariances. FID is this distance on Inception features; the
    book uses small features (raw pixels or a tiny classifier's penultimate layer)
    on the 8x8 digits. Computed in float64; the trace term is the average of its
    two symmetric forms, so the result is exactly symmetric, and it is clipped at
    0 (round-off can make it ``-1e-13`` for identical sets).

    Args:
        feats_a: features, shape (n_a, d), n_a >= 2 (torch or numpy).
        feats_b: features, shape (n_b, d), n_b >= 2.

    Returns:
        The squared Fréchet (2-Wasserstein) distance, >= 0; 0 for identical sets.

    Raises:
        TypeError, ValueError: for a wrong shape, mismatched ``d`` or non-finite
            values.

    Paper: Dowson and Landau 1982 (the closed form); Heusel et al. 2017, "GANs
        Trained by a Two Time-Scale Update Rule Converge to a Local Nash
        Equilibrium" (FID), eq. (6).
    Book: notebooks/zoo/models.md, "Metrics".
    """
    a = _features("feats_a", feats_a)
    b = _features("feats_b", feats_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"feats_b: expected {a.shape[1]} features per sample (as feats_a), got "
            f"{b.shape[1]}"
        )
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    tr_sqrt = 0.5 * (
        _trace_sqrt_product(cov_a, cov_b) + _trace_sqrt_product(cov_b, cov_a)
    )
    diff = mu_a - mu_b
    fd = float(diff @ diff) + float(np.trace(cov_a) + np.trace(cov_b)) - 2 * tr_sqrt
    return max(fd, 0.0)


def _pair(a, b, min_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    a = _float("a", a, min_dim=min_dim)
    b = _float("b", b, min_dim=min_dim)
    if a.shape != b.shape:
        raise ValueError(
            f"b: expected a's shape {tuple(a.shape)}, got {tuple(b.shape)}"
        )
    if a.shape[0] == 0:
        raise ValueError("a: empty batch")
    return a.double(), b.double()


def _reduce(values: torch.Tensor, reduction: str):
    if reduction == "mean":
        return float(values.mean())
    return values


def _check_reduction(reduction: str) -> None:
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction: expected 'mean' or 'none', got {reduction!r}")


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float, reduction: str = "mean"):
    """Peak signal-to-noise ratio, per image, in dB.

    ``10 log10(data_range^2 / MSE)`` with the MSE over each image (all dims but the
    first); ``inf`` where the images are identical.

    Args:
        a: images, float, shape (N, ...).
        b: images, same shape.
        data_range: max minus min possible value: 1 for [0, 1], 2 for [-1, 1].
        reduction: ``"mean"`` (a float, the mean of per-image PSNRs) or ``"none"``
            (float64 tensor, shape (N,)).

    Returns:
        PSNR in dB (``inf`` for identical images).
    """
    _check_reduction(reduction)
    data_range = _positive("data_range", data_range)
    a, b = _pair(a, b, min_dim=1)
    mse = ((a - b) ** 2).reshape(a.shape[0], -1).mean(dim=1)
    values = 10 * torch.log10(data_range**2 / mse)  # mse 0 -> inf
    return _reduce(values, reduction)


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g /= g.sum()
    return torch.outer(g, g)  # (size, size), sums to 1


def ssim(
    a: torch.Tensor,
    b: torch.Tensor,
    data_range: float,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    reduction: str = "mean",
):
    """Structural similarity with a Gaussian window (Wang et al. 2004).

    Local means, variances and covariance are Gaussian-weighted averages over
    ``window_size x window_size`` patches ("valid" positions only, as in the
    authors' reference code); the SSIM map
    ``(2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2))``
    with ``C1 = (k1 L)^2``, ``C2 = (k2 L)^2`` is averaged over positions and
    channels.

    Small images: the window side is ``min(window_size, H, W)``, made odd (one
    smaller if even), with ``sigma`` unchanged. So 8x8 digits use a 7x7 window
    (a 2x2 map of positions) and 16x16 frames the standard 11x11 (a 6x6 map).
    Numbers on such tiny images are comparable among themselves, not with SSIMs
    published for large images.

    Args:
        a: images, float, shape (N, C, H, W), H, W >= 3.
        b: images, same shape.
        data_range: L, max minus min possible value (1 for [0, 1], 2 for [-1, 1]).
        window_size: nominal window side, odd, >= 3 (11 in the paper).
        sigma: Gaussian standard deviation in pixels (1.5 in the paper).
        k1: luminance constant (0.01).
        k2: contrast constant (0.03).
        reduction: ``"mean"`` (a float) or ``"none"`` (float64 tensor, shape (N,)).

    Returns:
        SSIM, 1 for identical images, lower (down to -1) as structure differs.

    Paper: Wang, Bovik, Sheikh and Simoncelli 2004, "Image Quality Assessment: From
        Error Visibility to Structural Similarity", eq. (13) and sec. III-C.
    Book: notebooks/zoo/models.md, "Metrics".
    """
    _check_reduction(reduction)
    data_range = _positive("data_range", data_range)
    sigma = _positive("sigma", sigma)
    k1, k2 = _positive("k1", k1), _positive("k2", k2)
    if (
        isinstance(window_size, bool)
        or not isinstance(window_size, int)
        or window_size < 3
        or window_size % 2 == 0
    ):
        raise ValueError(f"window_size: expected an odd int >= 3, got {window_size!r}")
    a, b = _pair(a, b, min_dim=4)
    if a.dim() != 4:
        raise ValueError(f"a: expected shape (N, C, H, W), got {tuple(a.shape)}")
    n, c, h, w = a.shape
    if min(h, w) < 3:
        raise ValueError(f"a: expected H, W >= 3, got shape {tuple(a.shape)}")
    win = min(window_size, h, w)
    win -= 1 - win % 2  # largest odd side that fits
    kernel = _gaussian_window(win, sigma).to(a.device).expand(c, 1, win, win)

    def filt(x: torch.Tensor) -> torch.Tensor:  # depthwise, "valid"
        return F.conv2d(x, kernel, groups=c)

    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return _reduce(ssim_map.reshape(n, -1).mean(dim=1), reduction)


# ---------------------------------------------------------------------------------
# Videos
# ---------------------------------------------------------------------------------


def _video(name: str, video) -> torch.Tensor:
    video = _float(name, video, min_dim=4)
    if video.dim() == 5:
        if video.shape[2] != 1:
            raise ValueError(
                f"{name}: expected one channel, shape (n, T, 1, H, W), got "
                f"{tuple(video.shape)}"
            )
        video = video[:, :, 0]
    if video.dim() != 4:
        raise ValueError(
            f"{name}: expected shape (n, T, 1, H, W) or (n, T, H, W), got "
            f"{tuple(video.shape)}"
        )
    return video


def centroid_tracks(video: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Estimate one object's centre in every frame: the intensity centroid.

    Pixels at or below ``threshold`` are ignored (use a threshold above
    :data:`effteach.data.OCCLUDER_LEVEL` to ignore the occluding bar). For a single
    object on a black background this recovers
    ``MovingShapes.positions[:, 0]`` to float precision; with several objects it
    returns their intensity-weighted mean position.

    Args:
        video: frames, float, shape (n, T, 1, H, W) or (n, T, H, W), background 0
            (for [-1, 1] data pass ``(video + 1) / 2``).
        threshold: intensity that counts as background, >= 0.

    Returns:
        ``(x, y)`` centres in pixels (pixel centres at integers), float32, shape
        (n, T, 2); NaN in frames with nothing above the threshold.

    Book: notebooks/zoo/models.md, "Scoring video rollouts".
    """
    v = _video("video", video).double()
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"threshold: expected a number, got {threshold!r}")
    if not threshold >= 0:
        raise ValueError(f"threshold: expected a number >= 0, got {threshold}")
    weights = torch.where(v > threshold, v, torch.zeros_like(v))
    h, w = v.shape[-2:]
    mass = weights.sum(dim=(-2, -1))
    cols = torch.arange(w, dtype=torch.float64, device=v.device)
    rows = torch.arange(h, dtype=torch.float64, device=v.device)[:, None]
    x = (weights * cols).sum(dim=(-2, -1)) / mass
    y = (weights * rows).sum(dim=(-2, -1)) / mass
    out = torch.stack([x, y], dim=-1)  # (n, T, 2)
    out[mass <= 0] = float("nan")
    return out.float()


def trajectory_error(
    pred_positions: torch.Tensor,
    true_positions: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> float:
    """Mean Euclidean distance between predicted and true positions, in pixels.

    Args:
        pred_positions: float, shape (..., 2), e.g. :func:`centroid_tracks` of a
            rollout, (n, T, 2).
        true_positions: float, the same shape, e.g.
            ``MovingShapes.positions[:, 0]`` for a single object.
        mask: optional bool, shape (...): score only True entries (e.g. the
            predicted frames, or ``MovingShapes.visible[:, 0]``).

    Returns:
        The mean distance; NaN if a scored prediction is NaN (an empty frame).

    Raises:
        TypeError, ValueError: for mismatched shapes or a last dim other than 2.
    """
    pred = _float("pred_positions", pred_positions)
    true = _float("true_positions", true_positions)
    if pred.shape[-1] != 2:
        raise ValueError(
            f"pred_positions: expected shape (..., 2), got {tuple(pred.shape)}"
        )
    if true.shape != pred.shape:
        raise ValueError(
            f"true_positions: expected pred_positions' shape {tuple(pred.shape)}, "
            f"got {tuple(true.shape)}"
        )
    dist = torch.linalg.vector_norm(pred.double() - true.double(), dim=-1)
    m = _mask("mask", mask, dist.shape)
    if m is not None:
        dist = dist[m]
    if dist.numel() == 0:
        raise ValueError("pred_positions: empty; nothing to score")
    return float(dist.mean())


def static_frame_baseline(video: torch.Tensor, n_context: int) -> torch.Tensor:
    """Predict that nothing moves: repeat the last context frame.

    A video model that sees ``n_context`` frames must beat this on the remaining
    ones (in MSE/PSNR/SSIM and in :func:`trajectory_error`), or it has not learnt
    motion.

    Args:
        video: frames, shape (n, T, ...), any dtype.
        n_context: frames given to the model, in [1, T - 1].

    Returns:
        Predictions for frames ``n_context .. T - 1``: shape
        (n, T - n_context, ...), each equal to ``video[:, n_context - 1]``.

    Raises:
        ValueError: if ``n_context`` is out of range.
    """
    video = _tensor("video", video)
    if video.dim() < 2:
        raise ValueError(f"video: expected shape (n, T, ...), got {tuple(video.shape)}")
    t = video.shape[1]
    if t < 2:
        raise ValueError(
            f"video: expected T >= 2 frames (n, T, ...), got {tuple(video.shape)}"
        )
    if isinstance(n_context, bool) or not isinstance(n_context, int):
        raise TypeError(f"n_context: expected an int, got {type(n_context).__name__}")
    if not 1 <= n_context <= t - 1:
        raise ValueError(
            f"n_context: expected an int in [1, {t - 1}] (T - 1), got {n_context}"
        )
    last = video[:, n_context - 1 : n_context]
    return last.expand(-1, t - n_context, *video.shape[2:]).clone()
