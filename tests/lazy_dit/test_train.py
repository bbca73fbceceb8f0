import pytest
import torch

from effteach import zoo
from effteach.lazy_dit.experiments import similarity
from effteach.lazy_dit.lazy import GatePolicy, lazy_sample
from effteach.lazy_dit.train import train_gates


@pytest.fixture(scope="module")
def dit():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: a second thread only spins
    yield zoo.load("tinydit_digits")
    torch.set_num_threads(before)


def _laziness(dit, gates, n_steps):
    _, rec = lazy_sample(dit, torch.arange(10), n_steps, GatePolicy(gates))
    return rec.laziness


def test_the_penalty_makes_gates_lazy_and_zero_penalty_does_not(dit):
    lazy, log = train_gates(dit, 6, rho=1e-2, iters=25, batch=32, lr=5e-2,
                            progress=False)
    busy, _ = train_gates(dit, 6, rho=0.0, iters=25, batch=32, lr=5e-2,
                          progress=False)
    assert _laziness(dit, lazy, 6) > 0.5
    assert _laziness(dit, busy, 6) < 0.2
    assert len(log) == 25 and all(v == v for v in log)  # no NaN
    assert not any(p.requires_grad for p in dit.parameters())  # the DiT is frozen


def test_alternate_step_training_caps_laziness_below_one_half(dit):
    gates, _ = train_gates(dit, 6, rho=1e-1, iters=30, batch=32, lr=1e-1,
                           variant="alternate", progress=False)
    # only steps 1, 3, 5 are trained; the others keep zero weights (g = 0.5)
    assert torch.equal(gates.weight[0::2], torch.zeros_like(gates.weight[0::2]))
    gamma = _laziness(dit, gates, 6)
    assert 0.3 < gamma <= 0.5


def test_training_is_deterministic(dit):
    a, la = train_gates(dit, 4, rho=1e-3, iters=5, batch=16, progress=False, seed=3)
    b, lb = train_gates(dit, 4, rho=1e-3, iters=5, batch=16, progress=False, seed=3)
    assert la == lb and torch.equal(a.weight, b.weight)


def test_bias_only_gates_train_only_their_bias(dit):
    gates, _ = train_gates(dit, 4, rho=1e-2, iters=10, batch=16, lr=5e-2,
                           kind="bias", progress=False)
    assert torch.equal(gates.weight, torch.zeros_like(gates.weight))
    assert gates.bias[1:].abs().sum() > 0 and gates.bias[0].abs().sum() == 0


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"variant": "odd"}, "variant"),
        ({"rho": -1.0}, "rho"),
        ({"n_steps": 1}, "n_steps"),
    ],
)
def test_bad_training_arguments_are_named(dit, kw, match):
    args = {"n_steps": 4, "rho": 1e-3, "iters": 1, "progress": False, **kw}
    with pytest.raises(ValueError, match=match):
        train_gates(dit, **args)


def test_similarity_is_high_and_the_lemma_a_bound_holds(dit):
    s = similarity(dit, torch.arange(10), 8)
    assert s["bound_holds"]
    assert s["cos"].shape == (7, dit.cfg.depth, 2)
    assert 0.9 < float(s["cos"].mean()) < 1.0
    assert (s["lipschitz"] > 0).all()
