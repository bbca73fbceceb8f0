import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from effteach.data import (
    OCCLUDER_LEVEL,
    load_digits_tensors,
    markov_copy_batch,
    moving_shapes,
)
from effteach.metrics import (
    NGramBaselines,
    accuracy,
    bits_per_token,
    centroid_tracks,
    frechet_distance,
    perplexity,
    psnr,
    ssim,
    static_frame_baseline,
    trajectory_error,
    unigram_bigram_baselines,
)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------
# language models
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("vocab", [2, 17, 97])
def test_perplexity_of_uniform_logits_is_vocab_size(vocab):
    targets = torch.randint(vocab, (3, 11), generator=_gen(vocab))
    for dtype in (torch.float32, torch.float64):
        logits = torch.full((3, 11, vocab), 0.3, dtype=dtype)
        assert perplexity(logits, targets) == pytest.approx(vocab, rel=1e-6)
    assert bits_per_token(logits, targets) == pytest.approx(math.log2(vocab))


def test_perplexity_mask_and_confident_logits():
    targets = torch.tensor([[1, 2, 0, 3]])
    logits = torch.full((1, 4, 4), -30.0).scatter(-1, targets[..., None], 30.0)
    assert perplexity(logits, targets) == pytest.approx(1.0, abs=1e-6)
    logits[0, 3] = 0.0  # uniform at the last position only
    mask = torch.tensor([[False, False, False, True]])
    assert perplexity(logits, targets, mask) == pytest.approx(4.0)
    assert perplexity(logits, targets, ~mask) == pytest.approx(1.0, abs=1e-6)


def test_perplexity_bad_inputs_name_the_argument():
    logits = torch.zeros(2, 5, 7)
    with pytest.raises(ValueError, match=r"targets: expected shape \(2, 5\)"):
        perplexity(logits, torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets: expected ids in \[0, 7\)"):
        perplexity(logits, torch.full((2, 5), 7))
    with pytest.raises(TypeError, match="targets: expected an integer tensor"):
        perplexity(logits, torch.zeros(2, 5))
    with pytest.raises(TypeError, match="logits: expected a floating-point"):
        perplexity(torch.zeros(2, 5, 7, dtype=torch.long), torch.zeros(2, 5).long())
    with pytest.raises(ValueError, match="mask: selects no position"):
        perplexity(
            logits, torch.zeros(2, 5).long(), torch.zeros(2, 5, dtype=torch.bool)
        )
    with pytest.raises(TypeError, match="mask: expected a bool"):
        perplexity(logits, torch.zeros(2, 5).long(), torch.ones(2, 5))


def test_ngram_baselines_by_hand():
    out = unigram_bigram_baselines(
        torch.tensor([0, 1, 0, 1]), torch.tensor([0, 1]), vocab_size=2, alpha=1.0
    )
    assert isinstance(out, NGramBaselines) and out.n_scored == 1
    assert out.unigram == pytest.approx(2.0)  # p(1) = (2 + 1) / (4 + 2)
    assert out.bigram == pytest.approx(4 / 3)  # p(1 | 0) = (2 + 1) / (2 + 2)
    # pairs (0, 0), (0, 1): normalise by pairs *starting* with 0 (2), not ending in 1
    out = unigram_bigram_baselines(torch.tensor([0, 0, 1]), torch.tensor([0, 1]), 2)
    assert out.unigram == pytest.approx(5 / 2)  # p(1) = (1 + 1) / (3 + 2)
    assert out.bigram == pytest.approx(2.0)  # p(1 | 0) = (1 + 1) / (2 + 2)


def test_bigram_beats_unigram_on_markov_data_and_nears_the_entropy_rate():
    train = markov_copy_batch(256, 64, vocab=16, seed=1)
    val = markov_copy_batch(64, 64, vocab=16, seed=2)
    out = unigram_bigram_baselines(
        train.tokens, val.tokens, 16, alpha=0.1, val_mask=val.markov_mask
    )
    assert out.n_scored == 64 * 31
    assert out.bigram < out.unigram / 2
    # a bigram *is* the right model class for the Markov half
    assert out.bigram == pytest.approx(val.chain.perplexity, rel=0.1)
    # the copy half needs attention: bigram does no better there than on Markov steps
    copy = unigram_bigram_baselines(
        train.tokens, val.tokens, 16, alpha=0.1, val_mask=val.copy_mask
    )
    assert copy.bigram > 0.9 * out.bigram


def test_ngram_bad_inputs():
    t = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match=r"val_tokens: expected ids in \[0, 2\)"):
        unigram_bigram_baselines(t % 2, t, vocab_size=2)
    with pytest.raises(ValueError, match="alpha"):
        unigram_bigram_baselines(t, t, vocab_size=3, alpha=0.0)
    with pytest.raises(ValueError, match="train_tokens: expected shape"):
        unigram_bigram_baselines(t[:1], t, vocab_size=3)
    with pytest.raises(ValueError, match=r"val_mask: expected shape \(3,\)"):
        unigram_bigram_baselines(t, t, 3, val_mask=torch.ones(2, dtype=torch.bool))


# ---------------------------------------------------------------------------------
# classifiers
# ---------------------------------------------------------------------------------


def test_accuracy_logits_and_labels():
    labels = torch.tensor([0, 1, 2, 1])
    logits = torch.eye(3)[torch.tensor([0, 1, 1, 1])]
    assert accuracy(logits, labels) == 0.75
    assert accuracy(torch.tensor([0, 1, 2, 0]), labels) == 0.75
    with pytest.raises(ValueError, match="logits_or_labels: float scores"):
        accuracy(torch.zeros(3, 3), labels)
    with pytest.raises(ValueError, match="logits_or_labels: integer labels"):
        accuracy(torch.zeros(3, dtype=torch.long), labels)
    with pytest.raises(TypeError, match="labels: expected an integer"):
        accuracy(logits, labels.float())


# ---------------------------------------------------------------------------------
# Fréchet distance
# ---------------------------------------------------------------------------------


def test_frechet_zero_for_identical_and_exact_for_a_shift():
    x = torch.randn(200, 5, generator=_gen(0), dtype=torch.float64)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    shift = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0], dtype=torch.float64)
    # a shift leaves the covariance alone: FD = ||shift||^2 exactly
    assert frechet_distance(x, x + shift) == pytest.approx(14.25, rel=1e-9)
    assert frechet_distance(x, x + 2 * shift) > frechet_distance(x, x + shift)


def test_frechet_matches_closed_form_for_diagonal_covariances():
    # diagonal covariances commute: tr sqrt(Sa Sb) = sum sqrt(sa_i sb_i), so
    # FD = ||mu_a - mu_b||^2 + sum (sqrt(sa_i) - sqrt(sb_i))^2
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((400, 3)), rng.standard_normal((300, 3))
    # whiten (sample mean 0, sample covariance I), so the scaled sets below have
    # exactly diagonal sample covariances and the closed form is exact
    for z in (a, b):
        z -= z.mean(0)
        w, v = np.linalg.eigh(np.cov(z, rowvar=False))
        z[:] = z @ v @ np.diag(w**-0.5) @ v.T
    a = a * [1.0, 2.0, 0.5]
    b = b * [3.0, 1.0, 0.5] + [1.0, 0.0, -1.0]
    expected = 2.0 + (1 - 3) ** 2 + (2 - 1) ** 2 + 0.0
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 30), d=st.integers(1, 12))
def test_frechet_symmetric_and_nonnegative(seed, n, d):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, d))
    b = rng.standard_normal((n + 3, d)) * 2 + 1  # also rank-deficient when n < d
    fab, fba = frechet_distance(a, b), frechet_distance(b, a)
    assert fab == fba and fab >= 0 and math.isfinite(fab)


def test_frechet_ranks_real_data_above_noise():
    x, _ = load_digits_tensors("train")
    xt, _ = load_digits_tensors("test")
    real_a, real_b = x[:300].flatten(1), xt.flatten(1)
    noise = torch.rand(300, 64, generator=_gen(1)) * 2 - 1
    assert frechet_distance(real_a, real_b) < 0.2 * frechet_distance(real_a, noise)


def test_frechet_bad_inputs():
    with pytest.raises(ValueError, match=r"feats_a: expected shape \(n, d\)"):
        frechet_distance(np.zeros(5), np.zeros((5, 1)))
    with pytest.raises(ValueError, match="feats_b: expected 3 features"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="feats_a: contains inf or nan"):
        frechet_distance(np.full((5, 2), np.nan), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="n >= 2"):
        frechet_distance(np.zeros((1, 2)), np.zeros((5, 2)))


# ---------------------------------------------------------------------------------
# PSNR, SSIM
# ---------------------------------------------------------------------------------


def test_psnr_values():
    a = torch.rand(4, 1, 8, 8, generator=_gen(0))
    assert psnr(a, a, data_range=1.0) == math.inf
    b = torch.zeros(2, 3, 5, 5)
    assert psnr(b, b + 0.1, data_range=1.0) == pytest.approx(20.0)
    assert psnr(b, b + 0.1, data_range=2.0) == pytest.approx(20 + 20 * math.log10(2))
    per = psnr(b, b + torch.tensor([0.1, 0.01]).view(2, 1, 1, 1), 1.0, reduction="none")
    torch.testing.assert_close(per, torch.tensor([20.0, 40.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="data_range"):
        psnr(a, a, data_range=0)
    with pytest.raises(ValueError, match="b: expected a's shape"):
        psnr(a, a[:2], data_range=1.0)


@pytest.mark.parametrize("size", [8, 16, 32])
def test_ssim_identical_is_one_and_noise_lowers_it(size):
    a = torch.rand(3, 2, size, size, generator=_gen(size))
    assert ssim(a, a, data_range=1.0) == pytest.approx(1.0, abs=1e-12)
    noise = torch.randn(a.shape, generator=_gen(1))
    s_small = ssim(a, a + 0.05 * noise, data_range=1.0)
    s_big = ssim(a, a + 0.3 * noise, data_range=1.0)
    assert 1.0 > s_small > s_big
    assert ssim(a, a + 0.05 * noise, 1.0, reduction="none").shape == (3,)


def test_ssim_of_constant_images_matches_the_formula():
    # no variance: SSIM reduces to the luminance term (2 m1 m2 + C1)/(m1^2 + m2^2 + C1)
    a, b = torch.full((1, 1, 16, 16), 0.2), torch.full((1, 1, 16, 16), 0.6)
    c1 = (0.01 * 1.0) ** 2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)
    assert ssim(a, b, data_range=1.0) == pytest.approx(expected, rel=1e-6)


def test_ssim_matches_an_explicit_window_sum():
    # the SSIM of Wang et al. written out window by window, in NumPy
    a = torch.rand(1, 1, 12, 13, generator=_gen(3), dtype=torch.float64)
    b = (a + 0.2 * torch.rand(a.shape, generator=_gen(4), dtype=torch.float64)) / 1.2
    x = np.arange(11) - 5.0
    g = np.exp(-(x**2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    vals = []
    for i in range(12 - 10):
        for j in range(13 - 10):
            pa, pb = (
                a[0, 0, i : i + 11, j : j + 11].numpy(),
                b[0, 0, i : i + 11, j : j + 11].numpy(),
            )
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * (pa - ma) ** 2).sum(), (w * (pb - mb) ** 2).sum()
            cov = (w * (pa - ma) * (pb - mb)).sum()
            vals.append(
                (2 * ma * mb + c1)
                * (2 * cov + c2)
                / ((ma**2 + mb**2 + c1) * (va + vb + c2))
            )
    assert ssim(a, b, data_range=1.0) == pytest.approx(np.mean(vals), rel=1e-10)


def test_ssim_ranks_real_digits_above_noise():
    x, _ = load_digits_tensors("test")  # 8x8: the window shrinks to 7x7
    noisy = (x + 0.5 * torch.randn(x.shape, generator=_gen(2))).clamp(-1, 1)
    assert ssim(x, x, 2.0) == pytest.approx(1.0)
    assert ssim(x, noisy, 2.0) < 0.9


def test_ssim_bad_inputs():
    a = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"a: expected shape \(N, C, H, W\)"):
        ssim(a[None], a[None], 1.0)
    with pytest.raises(ValueError, match="window_size: expected an odd int"):
        ssim(a, a, 1.0, window_size=10)
    with pytest.raises(ValueError, match="H, W >= 3"):
        ssim(a[..., :2, :], a[..., :2, :], 1.0)
    with pytest.raises(ValueError, match="reduction"):
        ssim(a, a, 1.0, reduction="sum")


# ---------------------------------------------------------------------------------
# videos
# ---------------------------------------------------------------------------------


def test_centroid_tracks_recover_true_positions():
    m = moving_shapes(8, n_frames=10, size=24, seed=4)
    tracks = centroid_tracks(m.video)
    assert tracks.shape == (8, 10, 2) and tracks.dtype == torch.float32
    assert trajectory_error(tracks, m.positions[:, 0]) < 1e-3
    assert torch.allclose(centroid_tracks(m.video[:, :, 0]), tracks)  # 4-D input
    empty = centroid_tracks(torch.zeros(1, 2, 1, 16, 16))
    assert torch.isnan(empty).all()


def test_centroid_tracks_with_occluder_threshold():
    m = moving_shapes(8, n_frames=12, size=32, occlusion=True, seed=5)
    tracks = centroid_tracks(m.video, threshold=OCCLUDER_LEVEL + 0.05)
    vis = m.visible_fraction[:, 0] == 1  # fully in front of the bar
    err = trajectory_error(tracks, m.positions[:, 0], mask=vis)
    assert err < 1.0  # within a pixel (anti-aliased edges under the threshold)
    naive = trajectory_error(centroid_tracks(m.video), m.positions[:, 0], mask=vis)
    assert naive > 2 * err  # the bar drags the plain centroid away


def test_trajectory_error_values_and_errors():
    pred = torch.tensor([[[0.0, 0.0], [3.0, 4.0]]])
    true = torch.zeros(1, 2, 2)
    assert trajectory_error(pred, true) == pytest.approx(2.5)
    assert trajectory_error(pred, true, mask=torch.tensor([[False, True]])) == 5.0
    with pytest.raises(
        ValueError, match=r"pred_positions: expected shape \(\.\.\., 2\)"
    ):
        trajectory_error(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="true_positions: expected pred_positions'"):
        trajectory_error(torch.zeros(2, 2), torch.zeros(3, 2))


def test_static_frame_baseline():
    m = moving_shapes(4, n_frames=8, size=16, seed=6, speed=(1.5, 2.0))
    pred = static_frame_baseline(m.video, n_context=5)
    assert pred.shape == (4, 3, 1, 16, 16)
    assert torch.equal(pred[:, 2], m.video[:, 4])
    assert psnr(pred, m.video[:, 5:], data_range=1.0) < 40  # things do move
    still = m.video[:, :1].expand(-1, 8, -1, -1, -1)
    assert psnr(static_frame_baseline(still, 5), still[:, 5:], 1.0) == math.inf
    # scored by trajectories too: the baseline's error grows with the horizon
    tracks = centroid_tracks(pred)
    errs = (tracks - m.positions[:, 0, 5:]).norm(dim=-1).mean(0)
    assert errs[0] < errs[2]
    with pytest.raises(ValueError, match=r"n_context: expected an int in \[1, 7\]"):
        static_frame_baseline(m.video, n_context=8)
