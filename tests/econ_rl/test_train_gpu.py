"""Pieces of the GPU training module, on CPU at toy size."""

import numpy as np
import torch

from effteach.econ_rl import generate
from effteach.econ_rl import train_gpu as tg


def test_codec_and_sft_loss_decreases():
    p = generate("cournot", 0)
    assert tg.decode(tg.encode(p.prompt) + [tg.EOS, 5]) == p.prompt
    torch.manual_seed(0)
    m = tg.GPT(d=32, layers=1, heads=2, ctx=512)
    pairs = [(tg.encode(p.prompt), tg.encode(tg.target_text(p)))]
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    first = float(tg.sft_loss(m, pairs, "cpu"))
    for _ in range(30):
        loss = tg.sft_loss(m, pairs, "cpu")
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * first


def test_sampling_is_seeded_and_bootstrap_brackets_mean():
    torch.manual_seed(0)
    m = tg.GPT(d=16, layers=1, heads=2, ctx=512)
    g1 = torch.Generator().manual_seed(1)
    g2 = torch.Generator().manual_seed(1)
    a = tg.sample(m, [[1, 2, 3]], 5, 1.0, "cpu", g1)
    b = tg.sample(m, [[1, 2, 3]], 5, 1.0, "cpu", g2)
    assert a == b
    flags = np.array([1.0] * 30 + [0.0] * 70)
    mean, lo, hi = tg.bootstrap_ci(flags)
    assert lo < mean == 0.3 < hi
