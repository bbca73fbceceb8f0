"""The public API: exports, provenance lines in docstrings, torch inputs."""

import inspect

import numpy as np
import pytest
import torch

import effteach.pebble_io as P
from effteach.pebble_io import symbolic as S


def _public():
    for mod in (P, S):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield name, obj


def test_all_is_complete_and_importable():
    assert len(set(P.__all__)) == len(P.__all__)
    for name in P.__all__ + S.__all__:
        assert hasattr(P if name in P.__all__ else S, name), name


@pytest.mark.parametrize("name, obj", list(_public()))
def test_docstrings_say_where_things_come_from(name, obj):
    doc = inspect.getdoc(obj)
    assert doc and "Paper:" in doc and "Book: notebooks/pebble_io/lecture.md" in doc
    assert doc.index("Paper:") < doc.index("Book:")


def test_provenance_of_the_bounds_is_labelled():
    # the backward bound is the paper's, but read only through third parties
    assert "[T" in inspect.getdoc(P.backward_bound)
    assert "[C]" in inspect.getdoc(P.forward_bound)
    assert "[R]" in inspect.getdoc(P.hong_kung_bound)
    assert "[R]" in inspect.getdoc(P.square_backward)
    assert "[R]" in inspect.getdoc(P.sparse_bound)


def test_torch_inputs_work():
    torch.set_num_threads(1)
    q, k, v = torch.randn(3, 64, 8, dtype=torch.float64)
    res = P.fa2_forward(P.TwoLevelMemory(sram=1024), q, k, v, block_m=32)
    assert res.counts == P.fa2_fwd_io(n_ctx=64, d_head=8, block_m=32)
    np.testing.assert_allclose(res["o"], P.attention_ref(q, k, v), rtol=1e-10)
    with pytest.raises(TypeError, match="q: expected dtype float64"):
        P.fa2_forward(1024, q.half(), k, v)
