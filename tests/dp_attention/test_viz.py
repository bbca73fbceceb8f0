import numpy as np
import pytest

from effteach.dp_attention import EPSS, NS, dp_figure, dp_panel


def test_figure_has_one_slider_step_per_eps_and_the_marked_n():
    fig = dp_figure(eps=1.0, n=10_000, n_runs=6, audit_runs=200)
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == [f"{e:g}" for e in EPSS]
    per = len(fig.data) // len(EPSS)
    visible = [i for i, tr in enumerate(fig.data) if tr.visible]
    assert visible == list(range(2 * per, 3 * per))  # eps = 1 is the third value
    marker = fig.data[2 * per + 2]
    assert list(marker.x) == [10_000.0]
    # the errors fall with n in the shown curves
    assert np.all(np.diff(fig.data[2 * per].y) < 0)


def test_bad_choices_are_refused():
    with pytest.raises(ValueError, match="^eps"):
        dp_figure(eps=0.3, n_runs=6, audit_runs=200)
    with pytest.raises(ValueError, match="^n"):
        dp_figure(n=12, n_runs=6, audit_runs=200)


def test_panel_follows_its_controls(monkeypatch):
    import effteach.dp_attention.viz as viz

    monkeypatch.setattr(viz, "dp_figure", lambda eps, n: dp_figure(eps, n, 6, 200))
    box = viz.dp_panel(book=False)
    box.controls["eps"].value = 4.0
    box.controls["n"].value = NS[0]
    fig = box.figure
    assert fig.layout.sliders[0].active == EPSS.index(4.0)
    per = len(fig.data) // len(EPSS)
    assert list(fig.data[4 * per + 2].x) == [float(NS[0])]
    assert dp_panel(book=True).book
