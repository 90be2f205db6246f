"""The recurrent building blocks (RNN, LSTM, GRU): hand-derived BPTT against three witnesses.

``jax.vjp`` of the forward (float64, drawn sizes and masks), central finite differences,
and the course's Python loop over the cell forward/backward; masking against each sequence
alone; the boundary's errors.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxnet import layers
from tests.layer_checks import assert_finite_differences

# Drawn sizes and masks through each block, three witnesses each (seconds per test): the full
# suite runs them; the fast tier checks each layer's BPTT in test_layers_recurrent.py.
pytestmark = pytest.mark.slow

# name -> (params, forward, backward, the output layer's weight name)
CELLS = {
    "rnn": (layers.rnn_params, layers.rnn_forward, layers.rnn_backward, "Wya"),
    "lstm": (layers.lstm_params, layers.lstm_forward, layers.lstm_backward, "Wy"),
    "gru": (layers.gru_params, layers.gru_forward, layers.gru_backward, "Wy"),
}


def _outputs(cell, x, a0, c0, params, mask):
    """The forward's differentiable outputs: ``a``, (``c`` for the LSTM), the masked logits."""
    _, forward, _, Wy = CELLS[cell]
    if cell == "lstm":
        a, _, c, _ = forward(x, a0, params, mask, c0=c0)
        states = (a, c)
    else:
        a, _, _ = forward(x, a0, params, mask)
        states = (a,)
    z = a @ params[Wy].T
    z = z + jnp.broadcast_to(params["by"], z.shape)
    if mask is not None:
        z = jnp.where(mask[:, :, None], z, 0.0)
    return (*states, z)


def _hand(cell, x, a0, c0, params, mask, cotangents):
    """``(dx, da0, dc0 or None, dparams)`` from the hand-derived backward."""
    _, forward, backward, _ = CELLS[cell]
    if cell == "lstm":
        da, dc, dy = cotangents
        caches = forward(x, a0, params, mask, c0=c0)[-1]
        grads = backward(da, caches, dc=dc, dy=dy)
    else:
        da, dy = cotangents
        grads = backward(da, forward(x, a0, params, mask)[-1], dy=dy)
    dparams = {k: grads["d" + k] for k in params}
    return grads["dx"], grads["da0"], grads.get("dc0"), dparams


@functools.partial(jax.jit, static_argnames="cell")
def _hand_and_vjp(cell, x, a0, c0, params, mask, cotangents):
    """Both gradients in one compiled program (one compile per drawn shape)."""
    hand = _hand(cell, x, a0, c0, params, mask, cotangents)
    _, pullback = jax.vjp(lambda *args: _outputs(cell, *args, mask), x, a0, c0, params)
    dx, da0, dc0, dparams = pullback(cotangents)
    return hand, (dx, da0, dc0 if cell == "lstm" else None, dparams)


def _draw(cell, rng, m, T_x, n_x, n_a, n_y, masked):
    """Random float64 inputs, params (O(1) weights: every gradient term matters) and cotangents."""
    normal = lambda *shape: jnp.asarray(rng.normal(size=shape))  # noqa: E731
    params = CELLS[cell][0](jax.random.key(0), n_x, n_a, n_y, dtype=jnp.float64)
    params = {k: normal(*v.shape) * (0.7 if k.startswith("W") else 0.3) for k, v in params.items()}
    mask = jnp.asarray(rng.random((m, T_x)) < 0.7) if masked else None
    x, a0, c0 = normal(m, T_x, n_x), normal(m, n_a), normal(m, n_a)
    states = 2 if cell == "lstm" else 1
    cotangents = tuple(normal(m, T_x, n_a) for _ in range(states)) + (normal(m, T_x, n_y),)
    return x, a0, c0, params, mask, cotangents


@pytest.mark.parametrize("cell", CELLS)
@settings(max_examples=6, deadline=None, derandomize=True)
@given(
    m=st.integers(1, 3),
    T_x=st.integers(1, 5),
    n_x=st.integers(1, 3),
    n_a=st.integers(1, 4),
    n_y=st.integers(1, 3),
    masked=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_bptt_equals_vjp(cell, m, T_x, n_x, n_a, n_y, masked, seed):
    """Hand-derived BPTT == ``jax.vjp`` of the forward, for every input, state and parameter."""
    with jax.enable_x64(True):
        args = _draw(cell, np.random.default_rng(seed), m, T_x, n_x, n_a, n_y, masked)
        hand, reference = _hand_and_vjp(cell, *args)
        chex.assert_trees_all_close(hand, reference, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_bptt_equals_finite_differences(x64, cell):
    """Central differences of ``L = sum(outputs * cotangents)`` along random directions."""
    rng = np.random.default_rng(3)
    x, a0, c0, params, mask, cotangents = _draw(cell, rng, 2, 4, 2, 3, 2, masked=True)
    names = sorted(params)
    dx, da0, dc0, dparams = jax.jit(_hand, static_argnums=0)(
        cell, x, a0, c0, params, mask, cotangents
    )

    @jax.jit
    def fn(x, a0, c0, *leaves):
        outputs = _outputs(cell, x, a0, c0, dict(zip(names, leaves)), mask)
        return jnp.concatenate([o.ravel() for o in outputs])

    G = jnp.concatenate([g.ravel() for g in cotangents])
    dc0 = jnp.zeros_like(c0) if dc0 is None else dc0
    grads = (dx, da0, dc0, *(dparams[k] for k in names))
    assert_finite_differences(fn, (x, a0, c0, *(params[k] for k in names)), grads, G)
    with pytest.raises(AssertionError):  # the witness can fail: a 1% error in one weight
        bad = (
            *grads[:3],
            *(g * 1.01 if k.startswith("W") else g for k, g in zip(names, grads[3:])),
        )
        assert_finite_differences(fn, (x, a0, c0, *(params[k] for k in names)), bad, G)


# --- the course's loop form: a plain for-loop over t of the cell forward and backward -----


def _course_rnn_loop(x, a0, params, da):
    """The course's ``rnn_forward`` / ``rnn_backward`` loops over the cell blocks."""
    a_next, caches, a = a0, [], []
    for t in range(x.shape[1]):
        a_next, _, cache = layers.rnn_cell_forward(x[:, t], a_next, params)
        caches.append(cache)
        a.append(a_next)
    grads = {k: 0.0 for k in ("dWax", "dWaa", "dba")}
    dx, da_prevt = [None] * x.shape[1], jnp.zeros_like(a0)
    for t in reversed(range(x.shape[1])):
        g = layers.rnn_cell_backward(da[:, t] + da_prevt, caches[t])
        dx[t], da_prevt = g["dxt"], g["da_prev"]
        grads = {k: grads[k] + g[k] for k in grads}
    return jnp.stack(a, 1), grads | {"dx": jnp.stack(dx, 1), "da0": da_prevt}


def _course_lstm_loop(x, a0, params, da):
    """The course's ``lstm_forward`` / ``lstm_backward`` loops (with ``da<t> + da_prev``)."""
    a_next, c_next, caches, a = a0, jnp.zeros_like(a0), [], []
    for t in range(x.shape[1]):
        a_next, c_next, _, cache = layers.lstm_cell_forward(x[:, t], a_next, c_next, params)
        caches.append(cache)
        a.append(a_next)
    names = [f"d{w}{g}" for w in "Wb" for g in "fico"]
    grads = {k: 0.0 for k in names}
    dx, da_prevt, dc_prevt = [None] * x.shape[1], jnp.zeros_like(a0), jnp.zeros_like(a0)
    for t in reversed(range(x.shape[1])):
        g = layers.lstm_cell_backward(da[:, t] + da_prevt, dc_prevt, caches[t])
        dx[t], da_prevt, dc_prevt = g["dxt"], g["da_prev"], g["dc_prev"]
        grads = {k: grads[k] + g[k] for k in names}
    return jnp.stack(a, 1), grads | {"dx": jnp.stack(dx, 1), "da0": da_prevt}


def _course_gru_loop(x, a0, params, da):
    """The same loops over the GRU cell."""
    a_next, caches, a = a0, [], []
    for t in range(x.shape[1]):
        a_next, _, cache = layers.gru_cell_forward(x[:, t], a_next, params)
        caches.append(cache)
        a.append(a_next)
    names = [f"d{w}{g}" for w in "Wb" for g in "urc"]
    grads = {k: 0.0 for k in names}
    dx, da_prevt = [None] * x.shape[1], jnp.zeros_like(a0)
    for t in reversed(range(x.shape[1])):
        g = layers.gru_cell_backward(da[:, t] + da_prevt, caches[t])
        dx[t], da_prevt = g["dxt"], g["da_prev"]
        grads = {k: grads[k] + g[k] for k in names}
    return jnp.stack(a, 1), grads | {"dx": jnp.stack(dx, 1), "da0": da_prevt}


LOOPS = {"rnn": _course_rnn_loop, "lstm": _course_lstm_loop, "gru": _course_gru_loop}


@pytest.mark.parametrize("cell", CELLS)
def test_bptt_equals_the_course_loop(x64, cell):
    """The scan forward and the reverse-scan backward == the course's loops over the cell blocks."""
    x, a0, _, params, _, (da, *_) = _draw(cell, np.random.default_rng(7), 3, 4, 2, 3, 2, False)
    a_loop, loop_grads = LOOPS[cell](x, a0, params, da)
    a, *_, caches = CELLS[cell][1](x, a0, params)
    grads = CELLS[cell][2](da, caches)
    chex.assert_trees_all_close(a, a_loop, rtol=1e-12)
    chex.assert_trees_all_close({k: grads[k] for k in loop_grads}, loop_grads, rtol=1e-10)


@pytest.mark.parametrize("cell", CELLS)
def test_cell_backward_equals_vjp(x64, cell):
    """One step: the cell backward == ``jax.vjp`` of the cell forward's new state(s)."""
    rng = np.random.default_rng(11)
    x, a0, c0, params, _, (da, *_) = _draw(cell, rng, 3, 1, 2, 4, 2, False)
    xt, g = x[:, 0], da[:, 0]
    if cell == "lstm":
        dc = jnp.asarray(rng.normal(size=a0.shape))
        *_, cache = layers.lstm_cell_forward(xt, a0, c0, params)
        grads = layers.lstm_cell_backward(g, dc, cache)
        fn = lambda xt, a, c, p: layers.lstm_cell_forward(xt, a, c, p)[:2]  # noqa: E731
        dxt, da_prev, dc_prev, dp = jax.vjp(fn, xt, a0, c0, params)[1]((g, dc))
        assert np.allclose(grads["dc_prev"], dc_prev, rtol=1e-12)
    else:
        fwd, bwd = (
            (layers.rnn_cell_forward, layers.rnn_cell_backward)
            if cell == "rnn"
            else (layers.gru_cell_forward, layers.gru_cell_backward)
        )
        grads = bwd(g, fwd(xt, a0, params)[-1])
        dxt, da_prev, dp = jax.vjp(lambda xt, a, p: fwd(xt, a, p)[0], xt, a0, params)[1](g)
    chex.assert_trees_all_close((grads["dxt"], grads["da_prev"]), (dxt, da_prev), rtol=1e-12)
    gate_grads = {k[1:]: v for k, v in grads.items() if k[1:] in dp and k not in ("dxt",)}
    assert gate_grads, "no parameter gradient to compare"
    chex.assert_trees_all_close(gate_grads, {k: dp[k] for k in gate_grads}, rtol=1e-12)


# --- masking: padded sequences behave as each sequence alone -----------------------------


@functools.partial(jax.jit, static_argnames="cell")
def _last_state_grads(cell, x, a0, params, mask, g_last):
    """``(a, y, grads)`` of a loss on the final state only, ``sum(g_last * a<T_x>)``."""
    forward, backward = CELLS[cell][1], CELLS[cell][2]
    a, y, *_, caches = forward(x, a0, params, mask)
    return a, y, backward(jnp.zeros_like(a).at[:, -1].set(g_last), caches)


@pytest.mark.parametrize("cell", CELLS)
def test_padded_steps_give_each_sequence_alone(x64, cell):
    """Each example's real steps (anywhere in the padded row) give that sequence's final state,
    and the padded batch's parameter gradients are the sum of each sequence's own."""
    rng = np.random.default_rng(5)
    x, a0, _, params, _, _ = _draw(cell, rng, 3, 6, 2, 3, 2, False)
    mask = np.array(
        [[1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 1]], dtype=bool
    )  # post-padded, pre-padded, holes
    g_last = jnp.asarray(rng.normal(size=a0.shape))
    a, y, grads = _last_state_grads(cell, x, a0, params, jnp.asarray(mask), g_last)
    assert float(jnp.abs(y[~mask]).max()) == 0.0
    total = None
    for i in range(3):
        xi = x[i : i + 1, mask[i]]
        ai, _, gi = _last_state_grads(cell, xi, a0[i : i + 1], params, None, g_last[i : i + 1])
        np.testing.assert_allclose(a[i, -1], ai[0, -1], rtol=1e-12)
        for k in ("da0", "dc0") if cell == "lstm" else ("da0",):
            np.testing.assert_allclose(grads[k][i], gi[k][0], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(grads["dx"][i, mask[i]], gi["dx"][0], rtol=1e-10, atol=1e-14)
        assert float(jnp.abs(grads["dx"][i, ~mask[i]]).max(initial=0.0)) == 0.0
        gi = {k: v for k, v in gi.items() if k not in ("dx", "da0", "dc0")}
        total = gi if total is None else jax.tree.map(jnp.add, total, gi)
    chex.assert_trees_all_close({k: grads[k] for k in total}, total, rtol=1e-10)


def test_all_padded_keeps_the_initial_state(x64):
    x, a0, c0, params, _, _ = _draw("lstm", np.random.default_rng(2), 2, 3, 2, 3, 2, False)
    a, y, c, _ = layers.lstm_forward(x, a0, params, jnp.zeros((2, 3), bool), c0=c0)
    np.testing.assert_array_equal(a, jnp.broadcast_to(a0[:, None], a.shape))
    np.testing.assert_array_equal(c, jnp.broadcast_to(c0[:, None], c.shape))
    assert float(jnp.abs(y).max()) == 0.0


# --- under jit, float32 and the boundary's errors ----------------------------------------


def test_blocks_run_under_jit_in_float32():
    params = layers.lstm_params(jax.random.key(0), 3, 4, 5)
    x = jax.random.normal(jax.random.key(1), (2, 6, 3))

    @jax.jit
    def grads(params, x):
        a, y, c, caches = layers.lstm_forward(x, jnp.zeros((2, 4)), params)
        return layers.lstm_backward(jnp.ones_like(a), caches)

    g = grads(params, x)
    assert g["dWf"].dtype == jnp.float32 and g["dx"].shape == (2, 6, 3)
    chex.assert_tree_all_finite(g)


def _zeros(cell, n_x, n_a, n_y):
    """NumPy params of the right shapes (nothing compiled)."""
    shapes = jax.eval_shape(lambda: CELLS[cell][0](jax.random.key(0), n_x, n_a, n_y))
    return {k: np.zeros(v.shape, np.float32) for k, v in shapes.items()}


def test_clear_errors_at_the_boundary():
    """Shapes are checked while tracing: ``jax.eval_shape`` raises them without compiling."""
    params = _zeros("rnn", 3, 5, 2)
    x, a0 = np.ones((4, 6, 3)), np.zeros((4, 5))

    def forward(*args, fn=layers.rnn_forward, **kwargs):
        return jax.eval_shape(lambda: fn(*args, **kwargs))

    with pytest.raises(
        ValueError, match=r"x must have shape \(m, T_x, n_x\) = \(\?, \?, 3\), got \(4, 6\)"
    ):
        forward(np.ones((4, 6)), a0, params)
    with pytest.raises(ValueError, match=r"a0 must have shape \(m, n_a\) = \(4, 5\), got \(4, 3\)"):
        forward(x, np.zeros((4, 3)), params)
    with pytest.raises(
        ValueError, match=r"mask must have shape \(m, T_x\) = \(4, 6\).*got \(6, 4\)"
    ):
        forward(x, a0, params, np.ones((6, 4), bool))
    with pytest.raises(TypeError, match="mask must hold booleans"):
        layers.rnn_forward(x, a0, params, np.array([["a"] * 6] * 4))
    with pytest.raises(ValueError, match=r"params\['Waa'\] must have shape \(5, 5\), got \(5, 4\)"):
        forward(x, a0, params | {"Waa": np.zeros((5, 4))})
    with pytest.raises(ValueError, match=r"params lacks \['by'\]"):
        forward(x, a0, {k: v for k, v in params.items() if k != "by"})
    with pytest.raises(TypeError, match="params must be a dict"):
        forward(x, a0, [params])
    with pytest.raises(TypeError, match="x must hold floating-point numbers"):
        forward(np.ones((4, 6, 3), np.int32), a0, params)

    def backward(da, **kwargs):
        return forward(
            da,
            fn=lambda da: layers.rnn_backward(da, layers.rnn_forward(x, a0, params)[2], **kwargs),
        )

    with pytest.raises(ValueError, match=r"da must have shape \(m, T_x, n_a\) = \(4, 6, 5\)"):
        backward(np.ones((4, 3, 5)))
    with pytest.raises(ValueError, match=r"dy must have shape \(m, T_x, n_y\) = \(4, 6, 2\)"):
        backward(np.ones((4, 6, 5)), dy=np.ones((4, 6, 5)))
    lstm = _zeros("lstm", 3, 5, 2)
    with pytest.raises(ValueError, match=r"c0 must have shape \(m, n_a\) = \(4, 5\)"):
        forward(x, a0, lstm, fn=layers.lstm_forward, c0=np.zeros((5,)))
    with pytest.raises(ValueError, match=r"params\['bi'\] must have shape \(5,\), got \(4,\)"):
        forward(x, a0, lstm | {"bi": np.zeros(4)}, fn=layers.lstm_forward)
    with pytest.raises(ValueError, match=r"params\['Wu'\] must be \(n_a, n_a \+ n_x\)"):
        forward(
            x,
            a0,
            _zeros("gru", 3, 5, 2)
            | {"Wu": np.zeros((5, 5)), "Wr": np.zeros((5, 5)), "Wc": np.zeros((5, 5))},
            fn=layers.gru_forward,
        )


def test_a_float32_initial_state_follows_float64_params(x64):
    """The scan's carry takes the step's dtype: no carry-type error for mixed precisions."""
    x, a0, c0, params, _, _ = _draw("lstm", np.random.default_rng(1), 2, 3, 2, 3, 2, False)
    a, _, c, caches = layers.lstm_forward(
        x, a0.astype(jnp.float32), params, c0=c0.astype(jnp.float32)
    )
    assert a.dtype == c.dtype == jnp.float64
    assert layers.lstm_backward(a, caches)["da0"].dtype == jnp.float64
    for cell in ("rnn", "gru"):
        x, a0, _, params, _, _ = _draw(cell, np.random.default_rng(1), 2, 3, 2, 3, 2, False)
        assert CELLS[cell][1](x, a0.astype(jnp.float32), params)[0].dtype == jnp.float64


def test_the_benchmark_script_runs(capsys):
    """benchmarks/sequence_blocks.py on tiny sizes: one table row per cell asked for."""
    from benchmarks import sequence_blocks

    sequence_blocks.main(
        ["--m", "2", "--T", "3", "--n-x", "2", "--n-a", "3", "--repeats", "1", "--cells", "rnn"]
    )
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| rnn |")]
    assert len(rows) == 1
