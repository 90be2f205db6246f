"""Per-example gradients: ``jn.per_example_grads`` stacks the one-example gradients of J."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnet as jn

M = 22
F64 = {"rtol": 1e-10, "atol": 1e-12}


def binary_data(seed, m=M, n_x=3, dtype=np.float32):
    """NumPy data (no compilation per shape): inputs ``(m, n_x)``, 0/1 labels ``(m,)``."""
    X = np.random.default_rng(seed).standard_normal((m, n_x)).astype(dtype)
    return X, (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(np.int32)


def per_example_setup(kind, dtype=jnp.float64):
    if kind == "tanh":
        net = jn.Network((3, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
        X, Y = binary_data(17, dtype=dtype)
    else:
        net = jn.Network((4, 6, 5, 3), hidden_activation="relu", output_activation="softmax")
        X = np.random.default_rng(17).standard_normal((M, 4)).astype(dtype)
        Y = np.argmax(X[:, :3], axis=1)
    params = jn.init(jax.random.key(18), net, scheme="xavier", dtype=dtype)
    # non-zero biases, so every term of the gradient is exercised
    params = jax.tree.map(lambda a: a + 0.1 if a.ndim == 1 else a, params)
    return net, params, X, Y


@pytest.mark.parametrize("backprop", ["manual", "autodiff"])
@pytest.mark.parametrize("kind", ["tanh", "relu"])
def test_per_example_grads_stack_the_single_example_gradients(kind, backprop, x64):
    net, params, X, Y = per_example_setup(kind)
    per = jn.per_example_grads(net, params, X, Y, backprop=backprop)
    chex.assert_trees_all_equal_structs(per, params)
    for g, p in zip(jax.tree.leaves(per), jax.tree.leaves(params)):
        chex.assert_shape(g, (M, *p.shape))
    # their mean is the gradient of J, by either method
    mean = jax.tree.map(lambda g: g.mean(axis=0), per)
    for reference in ("manual", "autodiff"):
        chex.assert_trees_all_close(mean, jn.grads(net, params, X, Y, backprop=reference), **F64)
    # row i is the gradient on example i alone (sliced in NumPy: no compilation per row)
    per_np = jax.tree.map(np.asarray, per)
    for i in range(M):
        row = jax.tree.map(lambda g, i=i: g[i], per_np)
        single = jn.grads(net, params, X[i : i + 1], Y[i : i + 1], backprop=backprop)
        chex.assert_trees_all_close(row, single, **F64)
    # the rows differ
    assert not np.allclose(per[0]["W"][0], per[0]["W"][1])


@pytest.mark.parametrize("chunk_size", [1, 5, M, 64])
def test_per_example_grads_in_chunks_are_the_same(chunk_size, x64):
    net, params, X, Y = per_example_setup("relu")
    whole = jn.per_example_grads(net, params, X, Y)
    chex.assert_trees_all_close(
        jn.per_example_grads(net, params, X, Y, chunk_size=chunk_size), whole, **F64
    )


def test_per_example_grads_float32_and_bad_arguments():
    net, params, X, Y = per_example_setup("tanh", jnp.float32)
    per = jn.per_example_grads(net, params, X, Y)
    chex.assert_type(jax.tree.leaves(per), jnp.float32)
    chex.assert_trees_all_close(
        jax.tree.map(lambda g: g.mean(axis=0), per),
        jn.grads(net, params, X, Y),
        rtol=1e-5,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="backprop"):
        jn.per_example_grads(net, params, X, Y, backprop="numeric")
    with pytest.raises(ValueError, match="chunk_size"):
        jn.per_example_grads(net, params, X, Y, chunk_size=0)
    with pytest.raises(ValueError, match="X"):
        jn.per_example_grads(net, params, X[:, :2], Y)
