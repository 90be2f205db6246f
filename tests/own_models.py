"""Hand-written pure models (jn.Model) shared by the own-model tests and their sharded worker.

``MLP``: a 2-8-1 tanh network written as two functions (stateless, no randomness).
``BN_DROPOUT``: a 2-8-1 network with batch normalisation (a running mean and variance
in its state) and inverted dropout (``needs_key``): the contract's state and key at once.
"""

import jax
import jax.numpy as jnp

import jaxnet as jn


def mlp_init(key):
    k1, k2 = jax.random.split(key)
    return {
        "W1": jax.random.normal(k1, (2, 8)) * 0.5,
        "b1": jnp.zeros((1, 8)),
        "W2": jax.random.normal(k2, (8, 1)) * 0.5,
        "b2": jnp.zeros((1, 1)),
    }


def mlp_apply(params, X, *, key, train):
    del key, train
    return jnp.tanh(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


MLP = jn.Model(mlp_init, mlp_apply, loss="bce", name="mlp")

MOMENTUM, KEEP = 0.9, 0.8


def bn_init(key):
    params = mlp_init(key)
    params |= {"gamma": jnp.ones((1, 8)), "beta": jnp.zeros((1, 8))}
    return params, {"mean": jnp.zeros((1, 8)), "var": jnp.ones((1, 8))}


def bn_apply(params, state, X, *, key, train):
    Z1 = X @ params["W1"] + params["b1"]
    if train:
        mean, var = Z1.mean(axis=0, keepdims=True), Z1.var(axis=0, keepdims=True)
        state = {
            "mean": MOMENTUM * state["mean"] + (1 - MOMENTUM) * mean,
            "var": MOMENTUM * state["var"] + (1 - MOMENTUM) * var,
        }
    else:
        mean, var = state["mean"], state["var"]
    A1 = jnp.tanh(params["gamma"] * (Z1 - mean) / jnp.sqrt(var + 1e-5) + params["beta"])
    if train and key is not None:
        A1 = A1 * jax.random.bernoulli(key, KEEP, A1.shape) / KEEP
    return A1 @ params["W2"] + params["b2"], state


BN_DROPOUT = jn.Model(bn_init, bn_apply, loss="bce", stateful=True, needs_key=True, name="bn")
