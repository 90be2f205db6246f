"""The sequence layers: masked BPTT == jax.vjp, padded sequences == each alone, initial states,
and the errors for inputs that do not fit (the generic vjp test is in test_layers.py)."""

import functools
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_checks import vjp_in_layer_convention

import jaxnet as jn
from jaxnet import network
from jaxnet.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN

F64 = {"rtol": 1e-10, "atol": 1e-12}
RECURRENT = (SimpleRNN, LSTM, GRU)


@functools.partial(jax.jit, static_argnames=("layer",))
def _manual_and_vjp(layer, params, A_prev, dA, mask, initial_state):
    kwargs = {"mask": mask} | ({} if initial_state is None else {"initial_state": initial_state})
    A, cache = layer.forward(params, A_prev, **kwargs)
    return (
        A,
        layer.backward(params, cache, dA),
        vjp_in_layer_convention(layer, params, A_prev, dA, **kwargs),
    )


def _draw(layer, m, T, n_x, seed):
    rng = np.random.default_rng(seed)
    shapes = layer.param_shapes((T, n_x))
    params = {k: jnp.asarray(rng.normal(size=s)) for k, s in shapes.items()}
    A_prev = jnp.asarray(rng.normal(size=(m, T, n_x)))
    dA = jnp.asarray(rng.normal(size=(m, *layer.output_shape((T, n_x)))))
    return rng, params, A_prev, dA


def _bidirectional_gru(units, return_sequences):
    return Bidirectional(GRU(units, return_sequences=return_sequences))


@pytest.mark.parametrize("return_sequences", (False, True))
@pytest.mark.parametrize(
    "cls", (*RECURRENT, _bidirectional_gru), ids=("SimpleRNN", "LSTM", "GRU", "Bidirectional")
)
def test_masked_bptt_equals_vjp_of_forward(cls, return_sequences, x64):
    """Padded steps anywhere (the mask drawn): the hand BPTT is still the vjp of the forward
    (a Bidirectional layer reverses the valid steps only)."""
    layer = cls(3, return_sequences)
    rng, params, A_prev, dA = _draw(layer, 4, 5, 2, seed=7)
    mask = jnp.asarray(rng.random((4, 5)) < 0.6).at[:, 0].set(True)
    A, (dA_prev, dparams), (vjp_A_prev, vjp_params) = _manual_and_vjp(
        layer, params, A_prev, dA, mask, None
    )
    chex.assert_trees_all_close((dA_prev, dparams), (vjp_A_prev, vjp_params), **F64)
    if return_sequences:  # padded steps output zeros
        chex.assert_trees_all_equal(jnp.where(mask[:, :, None], 0.0, A), jnp.zeros_like(A))


@pytest.mark.parametrize("cls", RECURRENT, ids=lambda c: c.__name__)
def test_an_initial_state_is_used_and_differentiated(cls, x64):
    layer = cls(3, return_sequences=True)
    rng, params, A_prev, dA = _draw(layer, 2, 4, 2, seed=3)
    states = tuple(jnp.asarray(rng.normal(size=(2, 3))) for _ in layer._states)
    initial = states if cls is LSTM else states[0]
    A, manual, vjp = _manual_and_vjp(layer, params, A_prev, dA, None, initial)
    chex.assert_trees_all_close(manual, vjp, **F64)
    A_zero = layer.forward(params, A_prev)[0]
    assert not np.allclose(A, A_zero)  # the state reached the outputs


@pytest.mark.parametrize("cls", (LSTM, GRU), ids=lambda c: c.__name__)
def test_returned_states_are_the_last_real_steps_and_take_cotangents(cls, x64):
    """return_state: the states after each sequence's last real step (padding after it, as an
    Embedding(mask_zero) makes); backward takes a cotangent per output, == jax.vjp, masked."""
    layer = cls(3, return_sequences=True, return_state=True)
    rng, params, A_prev, _ = _draw(cls(3), 4, 5, 2, seed=11)
    lengths = np.array([5, 3, 1, 4])
    mask = jnp.asarray(np.arange(5) < lengths[:, None])
    dA = tuple(jnp.asarray(rng.normal(size=(4, *s))) for s in layer.output_shape((5, 2)))
    (A, *states), (dA_prev, dparams), vjp = _manual_and_vjp(layer, params, A_prev, dA, mask, None)
    chex.assert_trees_all_close((dA_prev, dparams), vjp, **F64)
    assert len(states) == len(layer._states)
    for i, n in enumerate(lengths):
        alone = layer.forward(params, A_prev[i : i + 1, :n])[0]
        chex.assert_trees_all_close(
            tuple(s[i] for s in states), tuple(s[0] for s in alone[1:]), **F64
        )
        chex.assert_trees_all_close(states[0][i], alone[0][0, -1], **F64)  # a<T> is the last a
    only_A = layer.backward(
        params, layer.forward(params, A_prev)[1], (dA[0], None, None)[: len(dA)]
    )
    plain = cls(3, return_sequences=True)
    chex.assert_trees_all_close(
        only_A, plain.backward(params, plain.forward(params, A_prev)[1], dA[0]), **F64
    )


def test_a_layer_of_several_outputs_is_refused_where_one_is_chained():
    layer = LSTM(3, return_state=True)
    assert layer.output_shape((5, 2)) == ((3,), (3,), (3,))
    assert jn.layers.from_dict(layer.to_dict()) == layer and "return_state" in repr(layer)
    with pytest.raises(ValueError, match=r"layers\[0\] \(LSTM\(.*returns several outputs"):
        jn.Sequential([layer, Dense(2, "softmax")], input_shape=(5, 2))
    with pytest.raises(ValueError, match="Bidirectional concatenates one output per direction"):
        Bidirectional(GRU(2, return_state=True))


def _stacked(T):
    """Token ids -> every recurrent layer in turn (one bidirectional, a Dense per step) -> softmax."""
    return jn.Sequential(
        [Embedding(7, 3, mask_zero=True), Bidirectional(SimpleRNN(2, return_sequences=True)),
         LSTM(3, return_sequences=True), Dense(3, "tanh"), GRU(3), Dense(3, "softmax")],
        input_shape=(T,),
    )  # fmt: skip


_loss_and_grads = jax.jit(network.loss_and_grads, static_argnames=("net",))


def test_padded_sequences_give_the_loss_and_gradients_of_each_alone(x64):
    """Three sequences of lengths 2, 3 and 5 padded to 6 (padding after, before, both sides):
    the batch's loss and gradients are the means of each sequence's alone."""
    sequences = ([1, 2], [3, 4, 5], [6, 1, 2, 3, 4])
    X = jnp.array([[1, 2, 0, 0, 0, 0], [0, 0, 0, 3, 4, 5], [0, 6, 1, 2, 3, 4]], jnp.float64)
    Y = jax.nn.one_hot(jnp.array([0, 2, 1]), 3, dtype=jnp.float64)
    net = _stacked(6)
    params = jn.init(jax.random.key(0), net, scheme="xavier", dtype=jnp.float64)
    loss, _, grads, _ = _loss_and_grads(net, params, X, Y)
    alone = []
    for s, y in zip(sequences, Y):
        J, _, g, _ = _loss_and_grads(_stacked(len(s)), params, jnp.array([s], X.dtype), y[None])
        alone.append((J, g))
    mean = jax.tree.map(lambda *v: sum(v) / len(v), *alone)
    chex.assert_trees_all_close((loss, grads), mean, **F64)


def test_fields_are_checked_and_round_trip():
    for layer in (SimpleRNN(4), LSTM(np.int64(3), return_sequences=True), GRU(2),
                  Embedding(27, 16, mask_zero=True)):  # fmt: skip
        assert jn.layers.from_dict(layer.to_dict()) == layer
    assert LSTM(3).to_dict() == {"kind": "lstm", "units": 3}
    with pytest.raises(ValueError, match=r"units must be an int in \[1, 16777216\]"):
        LSTM(0)
    with pytest.raises(TypeError, match="return_sequences must be"):
        GRU(2, return_sequences="yes")
    with pytest.raises(ValueError, match=r"vocab_size must be an int in \[1, 16777216\]"):
        Embedding(0, 3)
    both = Bidirectional(LSTM(3, return_sequences=True))
    assert jn.layers.from_dict(json.loads(json.dumps(both.to_dict()))) == both
    with pytest.raises(
        TypeError, match=r"layer must be a recurrent layer \(SimpleRNN, LSTM or GRU\)"
    ):
        Bidirectional(Dense(3))


@pytest.mark.parametrize(
    "layers, input_shape, match",
    [
        (  # a recurrent layer after one that returns a vector
            [LSTM(4), GRU(3), Dense(2, "softmax")],
            (5, 2),
            r"layers\[1\].*GRU expects a sequence \(T, n_x\).*give that recurrent layer "
            r"return_sequences=True",
        ),
        (  # an Embedding that masks must read the ids: the first layer
            [Dense(3), Embedding(5, 2, mask_zero=True), LSTM(2), Dense(2, "softmax")],
            (4,),
            r"Embedding\(mask_zero=True\) must be the network's first layer",
        ),
        ([SimpleRNN(4), Dense(2, "softmax")], (5,), r"SimpleRNN expects a sequence \(T, n_x\)"),
        ([Embedding(5, 2), Dense(2, "softmax")], (3, 2), r"Embedding expects a sequence of T"),
    ],
)
def test_shapes_that_do_not_fit_are_rejected(layers, input_shape, match):
    with pytest.raises(ValueError, match=match):
        jn.Sequential(layers, input_shape=input_shape)


def test_bad_inputs_are_rejected_with_clear_errors():
    net = jn.Sequential([Embedding(5, 2, mask_zero=True), LSTM(3), Dense(2, "softmax")], (4,))
    params = jn.init(jax.random.key(0), net)
    with pytest.raises(
        ValueError, match=r"token id 5 outside the vocabulary: ids must be in 0 \.\. 4"
    ):
        jn.forward(net, params, np.array([[1, 2, 5, 0]]))
    with pytest.raises(ValueError, match="token id -1 outside"):
        jn.fit(net, params, np.array([[1, -1, 2, 0]]), np.array([1]), epochs=1)
    with pytest.raises(ValueError, match="must hold integer token ids"):
        jn.forward(net, params, np.array([[1.5, 2, 3, 0]]))
    with pytest.raises(ValueError, match=r"X must be 2-D \(m examples of shape \(4,\)\)"):
        jn.forward(net, params, np.ones((1, 4, 1)))
    layer = LSTM(3)
    params = layer.init(jax.random.key(0), (4, 2))
    with pytest.raises(ValueError, match=r"A_prev must be a batch of sequences \(m, T, n_x\)"):
        layer.forward(params, jnp.ones((4, 2)))
    with pytest.raises(
        ValueError,
        match=r"initial_state \(c0\) must have shape \(m, units\) = \(2, 3\), got \(2, 4\)",
    ):
        layer.forward(
            params, jnp.ones((2, 4, 2)), initial_state=(jnp.ones((2, 3)), jnp.ones((2, 4)))
        )
    with pytest.raises(TypeError, match=r"initial_state of LSTM must be 2 arrays \(a0, c0\)"):
        layer.forward(params, jnp.ones((2, 4, 2)), initial_state=jnp.ones((2, 3)))
