"""The CPU checkpoint's recipe and the committed checkpoint."""

import numpy as np
import pytest

from effteach import zoo
from effteach.econ_rl import grade
from effteach.econ_rl import train_cpu as tc
from effteach.econ_rl.problems import generate


def test_scratchpad_is_graded_exact_and_spells_out_each_comparison():
    for cat in ("dominant", "pure_nash"):
        for seed in range(200):
            p = generate(cat, seed, 1 + seed % 2)
            t = tc.scratchpad(p)
            assert grade(p, t) == "exact", (cat, seed)
    p = generate("dominant", 3, 1)  # rows (3,6),(7,3) / (6,2),(7,0)
    assert tc.scratchpad(p).startswith(" row 1: 3>6n 7>7n; row 2: 6>3y 7>7n;")
    assert tc.scratchpad(generate("cournot", 0)) == tc.target_text(
        generate("cournot", 0))


def test_training_problems_are_a_function_of_step_and_index():
    a = [tc.train_problem(7, k) for k in range(tc.SFT_BATCH)]
    b = [tc.train_problem(7, k) for k in range(tc.SFT_BATCH)]
    assert a == b
    cats = {p.category for p in a}
    assert cats == set(tc.CPU_CATEGORIES)
    hist = [p for p in a if "Previous rounds" in p.prompt]
    assert 0 < len(hist) < sum(p.category == "pure_nash" for p in a)


def test_history_keeps_the_answer():
    p = generate("pure_nash", 5, 1)
    q = tc.with_history(p, 5)
    assert q.answer == p.answer and q.prompt != p.prompt
    assert "Previous rounds (row,column): (" in q.prompt


def test_checkpoint_is_small_and_reloads_to_its_train_accuracy():
    cfg = zoo.read_json("econ_rl_gpt", "config")
    assert (zoo.CHECKPOINT_DIR / "econ_rl_gpt.safetensors").stat().st_size < 2e6
    assert cfg["train"]["seconds"] <= 10 * 60
    want = zoo.read_json("econ_rl_gpt", "metrics")["accuracy"]
    model = zoo.load("econ_rl_gpt")
    got = tc.evaluate(model, 40, groups=("dominant",))["dominant"]
    # the first 40 of the 100 recorded problems: at most the recorded misses differ
    assert got.mean() >= want["dominant"][0] - 60 / 40 * (1 - want["dominant"][0])
    assert got.mean() > 0.8


@pytest.mark.parametrize("group", ["pure_nash_history"])
def test_problem_groups(group):
    p = tc.problem(group, 1)
    assert p.category == "pure_nash" and "Previous rounds" in p.prompt
    assert np.array(p.params["A"]).shape == (2, 2)
