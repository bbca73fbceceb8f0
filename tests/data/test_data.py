import hashlib
import math
import platform
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import effteach.data.text as text_mod
from effteach.data import (
    OCCLUDER_LEVEL,
    SHAPE_NAMES,
    STDLIB_CORPUS_CHARS,
    STDLIB_CORPUS_PYTHON,
    STDLIB_CORPUS_SHA256,
    STDLIB_FILES,
    CharTokenizer,
    CorpusMismatchError,
    batches,
    digits_split_indices,
    eval_batches,
    load_digits_tensors,
    markov_chain,
    markov_copy_batch,
    moving_shapes,
    stdlib_corpus,
    text_splits,
)

TOK = CharTokenizer()
SAME_PYTHON = f"CPython {platform.python_version()}" == STDLIB_CORPUS_PYTHON


# ---------------------------------------------------------------------------------
# stdlib corpus
# ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus():
    return stdlib_corpus(check_hash=False)


def test_file_list_is_fixed_and_sized():
    assert 30 <= len(STDLIB_FILES) <= 60
    assert len(set(STDLIB_FILES)) == len(STDLIB_FILES)
    assert all(f.endswith(".py") for f in STDLIB_FILES)


@pytest.mark.skipif(
    not SAME_PYTHON, reason=f"hash recorded with {STDLIB_CORPUS_PYTHON}"
)
def test_corpus_matches_recorded_hash(corpus):
    assert stdlib_corpus() == corpus  # check_hash=True passes
    assert len(corpus) == STDLIB_CORPUS_CHARS
    assert hashlib.sha256(corpus.encode("ascii")).hexdigest() == STDLIB_CORPUS_SHA256


def test_corpus_is_ascii_prose_of_the_right_size(corpus):
    assert 500_000 <= len(corpus) <= 2_000_000
    assert set(corpus) <= set(TOK.chars)
    assert "\t" not in corpus and corpus.endswith("\n")
    assert "Text wrapping and filling." in corpus[:100]  # textwrap's docstring first
    assert corpus.count(" the ") > 1000


def test_wrong_hash_is_reported_clearly(monkeypatch, corpus):
    monkeypatch.setattr(text_mod, "STDLIB_CORPUS_SHA256", "0" * 64)
    with pytest.raises(CorpusMismatchError) as info:
        stdlib_corpus()
    msg = str(info.value)
    assert f"recorded with {STDLIB_CORPUS_PYTHON}" in msg
    this = f"this is {platform.python_implementation()} {platform.python_version()}"
    assert this in msg
    assert "stdlib text differs" in msg and "check_hash=False" in msg
    assert stdlib_corpus(check_hash=False) == corpus


def test_extraction_order_normalisation_and_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFTEACH_CACHE_DIR", str(tmp_path / "cache"))
    src = (
        '#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n"""Module doc.\n\n'
        '    Indented line.\n"""\n# ----------\n# A comment, caf\u00e9.\n'
        'x = "# not a comment"\n'
        "if True:\n    def f():\n        '''\tDoc of f.'''\n        return 1  # tail\n"
        "class C:\n    '''Doc of C.'''\n"
    )
    (tmp_path / "m.py").write_text(src, encoding="utf-8")
    build = text_mod._build_corpus.__wrapped__  # bypass the in-memory cache
    text = build(tmp_path, ("m.py",), False)
    assert text == (
        "Module doc.\n\nIndented line.\nA comment, cafe.\nDoc of f.\ntail\nDoc of C.\n"
    )
    cached = list((tmp_path / "cache").glob("stdlib_corpus-*.txt"))
    assert len(cached) == 1 and cached[0].read_text() == text
    cached[0].write_text("from the cache\n")  # a second build reads the file
    assert build(tmp_path, ("m.py",), False) == "from the cache\n"
    (tmp_path / "m.py").write_text(src + "# new\n")  # new source -> new key
    assert build(tmp_path, ("m.py",), False).endswith("new\n")


def test_missing_file_raises_or_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFTEACH_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "a.py").write_text('"""A."""\n')
    build = text_mod._build_corpus.__wrapped__
    with pytest.raises(CorpusMismatchError, match="missing.py is missing"):
        build(tmp_path, ("a.py", "missing.py"), False)
    with pytest.warns(UserWarning, match="missing.py"):
        assert build(tmp_path, ("a.py", "missing.py"), True) == "A.\n"


# ---------------------------------------------------------------------------------
# tokenizer, splits, batches
# ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=CharTokenizer.chars, max_size=200))
def test_tokenizer_round_trip(s):
    ids = TOK.encode(s, errors="strict")
    assert ids.dtype == torch.long and ids.shape == (len(s),)
    assert (ids != TOK.unk_id).all()
    assert TOK.decode(ids) == s


@settings(max_examples=30, deadline=None)
@given(
    st.text(
        alphabet=CharTokenizer.chars + "\t\r\x00\u00e9\u4e2d\U0001f600", max_size=50
    )
)
def test_tokenizer_any_text(s):
    ids = TOK.encode(s)
    assert ids.shape == (len(s),)
    out = TOK.decode(ids)
    assert len(out) == len(s)
    assert all(a == b or b == TOK.unk_char for a, b in zip(s, out, strict=True))


def test_tokenizer_vocabulary_and_errors():
    assert TOK.vocab_size == 97 and TOK.unk_id == 96 and TOK.chars[0] == "\n"
    assert TOK.encode("A\n\u00e9\t").tolist() == [34, 0, 96, 96]
    with pytest.raises(ValueError, match="text: character '\u00e9' at index 1"):
        TOK.encode("a\u00e9", errors="strict")
    with pytest.raises(TypeError, match="text: expected a str"):
        TOK.encode(b"abc")
    with pytest.raises(ValueError, match="errors"):
        TOK.encode("a", errors="ignore")
    with pytest.raises(ValueError, match=r"ids: expected values in \[0, 97\)"):
        TOK.decode([1, 97])
    with pytest.raises(ValueError, match="ids: expected a 1-D"):
        TOK.decode(torch.zeros(2, 2, dtype=torch.long))


@pytest.fixture(scope="module")
def splits():
    return text_splits(seq_len=64, check_hash=False)


def test_text_splits_cut_without_overlap(splits, corpus):
    ids = TOK.encode(corpus)
    n_val = len(splits.val)
    assert len(splits.train) + n_val == len(ids)
    assert abs(n_val / len(ids) - 0.1) < 1e-3
    assert torch.equal(torch.cat([splits.train, splits.val]), ids)
    assert splits.train.dtype == splits.val.dtype == torch.long
    with pytest.raises(ValueError, match="seq_len"):
        text_splits(seq_len=10**7, check_hash=False)
    with pytest.raises(ValueError, match="val_fraction"):
        text_splits(seq_len=8, val_fraction=0.9, check_hash=False)


def test_batches_shift_determinism_and_range(splits):
    tokens = splits.train
    a = list(batches(tokens, batch_size=4, seq_len=16, n_batches=3, seed=5))
    b = list(batches(tokens, batch_size=4, seq_len=16, n_batches=3, seed=5))
    c = list(batches(tokens, batch_size=4, seq_len=16, n_batches=3, seed=6))
    assert len(a) == 3
    for (x, y), (x2, y2) in zip(a, b, strict=True):
        assert x.shape == y.shape == (4, 16) and x.dtype == torch.long
        assert torch.equal(x, x2) and torch.equal(y, y2)
        assert torch.equal(x[:, 1:], y[:, :-1])  # targets are the next ids
    assert not all(torch.equal(p[0], q[0]) for p, q in zip(a, c, strict=True))
    small = torch.arange(10)
    for x, y in batches(small, 8, 9, n_batches=5, seed=0):
        assert torch.equal(x, torch.arange(9).expand(8, 9))  # the only window fits
        assert torch.equal(y, torch.arange(1, 10).expand(8, 9))
    with pytest.raises(ValueError, match="seq_len"):  # raised at the call
        batches(small, 2, 10, n_batches=1, seed=0)
    with pytest.raises(ValueError, match="tokens: expected a 1-D int64"):
        batches(small.float(), 2, 3, n_batches=1, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        eval_batches(small, 0, 3)


def test_eval_batches_cover_every_target_once():
    tokens = torch.arange(103)
    xs, ys = zip(*eval_batches(tokens, batch_size=4, seq_len=10), strict=True)
    assert [len(x) for x in xs] == [4, 4, 2]
    y = torch.cat(ys).reshape(-1)
    assert torch.equal(y, torch.arange(1, 101))
    assert torch.equal(torch.cat(xs).reshape(-1), torch.arange(100))


# ---------------------------------------------------------------------------------
# Markov + copy
# ---------------------------------------------------------------------------------


def test_markov_chain_is_a_sparse_stochastic_matrix():
    chain = markov_chain(16, seed=3, n_successors=2, smoothing=0.01)
    P, pi = chain.transition, chain.stationary
    assert P.shape == (16, 16) and P.dtype == torch.float64
    torch.testing.assert_close(P.sum(1), torch.ones(16, dtype=torch.float64))
    torch.testing.assert_close(pi @ P, pi)
    assert ((P > 0.02).sum(1) <= 2).all()  # two likely successors, rest smoothing
    H = float(-(pi[:, None] * P * P.log()).sum())
    assert chain.entropy_rate == pytest.approx(H)
    assert 0 < chain.entropy_rate < math.log(2) + 0.1
    assert chain.perplexity == pytest.approx(math.exp(H))
    assert not torch.equal(P, markov_chain(16, seed=4, n_successors=2).transition)


def test_markov_copy_batch_layout_and_determinism():
    b = markov_copy_batch(batch=8, seq_len=20, vocab=12, seed=1)
    assert b.tokens.shape == (8, 20) and b.tokens.dtype == torch.long
    assert b.tokens.min() >= 0 and b.tokens.max() < 12
    assert torch.equal(b.tokens[:, 10:], b.tokens[:, :10])  # the copy half
    assert b.copy_mask.dtype == b.markov_mask.dtype == torch.bool
    assert b.copy_mask.shape == b.markov_mask.shape == (8, 20)
    assert b.copy_mask[0].nonzero().flatten().tolist() == list(range(9, 19))
    assert b.markov_mask[0].nonzero().flatten().tolist() == list(range(0, 9))
    t = b.copy_mask.nonzero()
    assert torch.equal(b.tokens[t[:, 0], t[:, 1] + 1], b.tokens[t[:, 0], t[:, 1] - 9])
    again = markov_copy_batch(batch=8, seq_len=20, vocab=12, seed=1)
    assert torch.equal(again.tokens, b.tokens)
    other = markov_copy_batch(batch=8, seq_len=20, vocab=12, seed=2)
    assert not torch.equal(other.tokens, b.tokens)
    assert other.chain is b.chain  # same chain_seed -> the same chain


def test_markov_first_half_follows_the_chain():
    b = markov_copy_batch(batch=2000, seq_len=64, vocab=6, seed=0, chain_seed=7)
    first = b.tokens[:, :32]
    pairs = first[:, :-1] * 6 + first[:, 1:]
    counts = torch.bincount(pairs.reshape(-1), minlength=36).reshape(6, 6).double()
    empirical = counts / counts.sum(1, keepdim=True)
    assert (empirical - b.chain.transition).abs().max() < 0.03
    start = torch.bincount(first[:, 0], minlength=6).double() / 2000
    assert (start - b.chain.stationary).abs().max() < 0.05
    # mean log-loss of the true chain on the Markov steps ~ the entropy rate
    nll = -b.chain.transition.log()[first[:, :-1], first[:, 1:]].mean()
    assert float(nll) == pytest.approx(b.chain.entropy_rate, abs=0.02)


def test_markov_bad_arguments():
    with pytest.raises(ValueError, match="seq_len: expected an even int"):
        markov_copy_batch(2, 9, 8, seed=0)
    with pytest.raises(ValueError, match="vocab"):
        markov_copy_batch(2, 8, 1, seed=0)
    with pytest.raises(ValueError, match="batch"):
        markov_copy_batch(0, 8, 8, seed=0)
    with pytest.raises(ValueError, match="n_successors"):
        markov_chain(4, n_successors=5)
    with pytest.raises(ValueError, match="smoothing"):
        markov_chain(4, smoothing=0.0)


# ---------------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------------


def test_digits_shapes_ranges_and_split():
    x, y = load_digits_tensors("train")
    xt, yt = load_digits_tensors("test")
    assert x.shape == (1497, 1, 8, 8) and xt.shape == (300, 1, 8, 8)
    assert x.dtype == torch.float32 and y.dtype == torch.long
    assert x.min() == -1 and x.max() == 1 and xt.min() >= -1 and xt.max() <= 1
    assert set(y.tolist()) == set(range(10)) and yt.bincount().min() >= 29
    tr, te = digits_split_indices(0)
    assert len(np.intersect1d(tr, te)) == 0 and len(np.union1d(tr, te)) == 1797
    x2, y2 = load_digits_tensors("train", seed=0)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    _, te1 = digits_split_indices(1)
    assert not np.array_equal(te, te1) and len(te1) == 300
    with pytest.raises(ValueError, match="split: expected 'train' or 'test'"):
        load_digits_tensors("val")
    with pytest.raises(ValueError, match="n_test"):
        digits_split_indices(0, n_test=5)


# ---------------------------------------------------------------------------------
# moving shapes
# ---------------------------------------------------------------------------------


def _centroids(video):  # (n, T, 1, H, W) -> (n, T, 2) as (x, y)
    v = video[:, :, 0].double()
    idx = torch.arange(v.shape[-1], dtype=torch.float64)
    mass = v.sum((-1, -2))
    x = (v * idx).sum((-1, -2)) / mass
    y = (v * idx[:, None]).sum((-1, -2)) / mass
    return torch.stack([x, y], -1)


@pytest.mark.parametrize("motion", ["bounce", "linear"])
def test_single_object_positions_match_rendered_centroid(motion):
    m = moving_shapes(6, n_frames=12, size=20, motion=motion, seed=3)
    assert m.video.shape == (6, 12, 1, 20, 20) and m.video.dtype == torch.float32
    assert m.positions.shape == m.velocities.shape == (6, 1, 12, 2)
    assert m.classes.shape == (6, 1) and m.classes.dtype == torch.long
    assert 0 <= m.video.min() and m.video.max() <= 1
    err = (_centroids(m.video) - m.positions[:, 0]).norm(dim=-1)
    assert err.max() < 1e-3  # the brief asks for ~1 px; bilinear placement is exact
    mass = m.video.sum((-1, -2, -3))  # the object never leaves the frame
    torch.testing.assert_close(mass, mass[:, :1].expand_as(mass))
    assert m.visible.all() and (m.occluder == 0).all()


def test_bounce_reflects_and_linear_is_straight():
    b = moving_shapes(20, n_frames=16, size=16, motion="bounce", seed=0, speed=(2, 3))
    flips = (b.velocities[:, :, 1:] * b.velocities[:, :, :-1] < 0).any()
    assert flips  # somebody hit a wall
    step = b.positions[:, :, 1:] - b.positions[:, :, :-1]
    assert step.norm(dim=-1).max() <= 3 + 1e-4  # reflection never speeds up
    lin = moving_shapes(5, n_frames=10, size=24, motion="linear", seed=1)
    step = lin.positions[:, :, 1:] - lin.positions[:, :, :-1]
    torch.testing.assert_close(step, lin.velocities[:, :, :-1])
    torch.testing.assert_close(step, step[:, :, :1].expand_as(step))


def test_video_determinism_prefix_and_seed():
    a = moving_shapes(4, n_frames=8, size=16, n_objects=2, seed=9)
    b = moving_shapes(2, n_frames=8, size=16, n_objects=2, seed=9)
    c = moving_shapes(4, n_frames=8, size=16, n_objects=2, seed=10)
    assert torch.equal(a.video[:2], b.video) and torch.equal(
        a.positions[:2], b.positions
    )
    assert not torch.equal(a.video, c.video)
    assert set(a.classes.flatten().tolist()) <= set(range(len(SHAPE_NAMES)))


def test_occlusion_and_digits():
    m = moving_shapes(16, n_frames=16, size=32, n_objects=2, occlusion=True,
                      objects="digits", seed=2)  # fmt: skip
    assert m.classes.max() <= 9 and m.video.shape == (16, 16, 1, 32, 32)
    assert m.visible.dtype == torch.bool and m.visible.shape == (16, 2, 16)
    assert not m.visible.all() and m.visible.any()  # some go behind the bar
    x0, x1 = m.occluder[0].tolist()
    assert x1 - x0 == 32 // 6
    assert (m.video[0, :, 0, :, x0:x1] == OCCLUDER_LEVEL).all()
    hidden = m.visible_fraction < 1
    assert hidden.any() and (m.visible == (m.visible_fraction >= 0.5)).all()


def test_video_bad_arguments():
    with pytest.raises(ValueError, match="size: expected an int in"):
        moving_shapes(1, size=8)
    with pytest.raises(ValueError, match="n_frames"):
        moving_shapes(1, n_frames=1)
    with pytest.raises(ValueError, match="n_objects"):
        moving_shapes(1, n_objects=4)
    with pytest.raises(ValueError, match="motion"):
        moving_shapes(1, motion="zigzag")
    with pytest.raises(ValueError, match="objects"):
        moving_shapes(1, objects="letters")
    with pytest.raises(ValueError, match="object_size"):
        moving_shapes(1, size=16, object_size=9)
    with pytest.raises(ValueError, match="speed"):
        moving_shapes(1, size=16, speed=(1, 20))
    with pytest.raises(TypeError, match="occlusion"):
        moving_shapes(1, occlusion="yes")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        moving_shapes(1, size=16, object_size=8)  # the largest shape still fits
