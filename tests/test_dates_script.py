"""scripts/dates.py: its loss, its hand-derived gradient (== autodiff in float64), the attention
map figure, and a shortened training run that must translate dates (slow)."""

import json
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import script

import jaxnet as jn

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dates():
    return script("dates")


def test_the_loss_is_the_mean_of_the_steps_cross_entropies(dates):
    """jn.cost of the network on output ids (m, TY): the mean over examples and the TY steps of
    each step's categorical cross-entropy."""
    pairs, X, Y, (human, machine, _) = dates.data(0, 3, 0)
    net = dates.network(len(human), len(machine), n_a=3, n_s=4)
    params = jn.init(jax.random.key(0), net, "xavier")
    A = np.asarray(jn.forward(net, params, X), np.float64)  # (3, TY, n_machine)
    assert A.shape == (3, dates.TY, len(machine))
    expected = -np.log(np.take_along_axis(A, Y[..., None], axis=-1)).mean()
    np.testing.assert_allclose(jn.cost(net, params, X, Y), expected, rtol=1e-5)


def test_the_hand_derived_gradient_is_autodiff_s(dates, x64):
    """The layers' backwards (the Bi-LSTM's BPTT, the decoder's) give jax.grad of the
    forwards, in float64."""
    pairs, X, Y, (human, machine, _) = dates.data(0, 3, 0)
    net = dates.network(len(human), len(machine), n_a=3, n_s=4)
    params = jn.init(jax.random.key(0), net, "xavier", dtype=jnp.float64)
    manual, autodiff = (jn.grads(net, params, X, Y, backprop=b) for b in ("manual", "autodiff"))
    chex.assert_trees_all_close(manual, autodiff, rtol=1e-9, atol=1e-12)
    assert jnp.abs(manual[-1]["W1"]).sum() > 0  # the attention's weights get a gradient


def test_plot_attention_labels_rows_and_columns(tmp_path):
    alphas = np.full((2, 3, 5), 0.2)
    fig = jn.plotting.plot_attention(alphas, ["3 may", "may 3"], ["a-b", "c-d"], tmp_path / "maps")
    assert (tmp_path / "maps.png").stat().st_size > 0
    ax = fig.axes[0]
    assert ax.get_title() == "3 may -> a-b"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "-", "b"]
    assert [t.get_text() for t in ax.get_xticklabels()] == list("3 may")
    with pytest.raises(ValueError, match="sources must be 2 strings"):
        jn.plotting.plot_attention(alphas, ["3 may"], ["a-b", "c-d"])
    with pytest.raises(ValueError, match=r"alphas must be \(k, T_y, T_x\)"):
        jn.plotting.plot_attention(np.ones(3), ["x"], ["y"])


@pytest.mark.slow
def test_a_shortened_run_translates_dates(dates, tmp_path, capsys):
    """4,000 dates, 5 epochs at Adam 0.02 (the full run: 5e-3): >= 90% of 500 held-out dates
    exact (measured 100%; the full run, 10,000 dates and 20 epochs, gets >= 95%); a model
    without working attention or gradients stays near 0%."""
    figure = tmp_path / "attention.png"
    argv = ["--train", "4000", "--test", "500", "--epochs", "5", "--learning-rate", "0.02"]
    assert dates.main([*argv, "--figure", str(figure)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["exact_match"] >= 0.9, result
    assert result["examples"]["3 may 1979"] == "1979-05-03"
    assert figure.stat().st_size > 0
