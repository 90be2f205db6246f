"""Shared helpers for the core tests: activation lists, random params, data and architectures."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

import jaxnet as jn

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "leaky_relu(0.2)", "softmax", "linear")
ELEMENTWISE = tuple(a for a in ACTIVATIONS if a != "softmax")

# (output activation, loss): the three fused pairs, then unfused ones.
OUTPUTS = (
    ("sigmoid", None),  # binary cross-entropy, fused
    ("softmax", None),  # categorical cross-entropy, fused
    ("linear", None),  # squared error, fused
    ("tanh", None),  # squared error through tanh'
    ("sigmoid", "mse"),  # squared error through sigmoid'
    ("softmax", "mse"),  # squared error through the softmax Jacobian
)


def make_net(sizes, hidden_activations, output, loss=None) -> jn.Network:
    """A network with one activation per hidden layer plus ``output``."""
    return jn.Network(sizes, activations=(*hidden_activations, output), loss=loss)


def random_params(seed, net, dtype=jnp.float32, bias_scale=0.5):
    """Xavier-scaled weights and random (non-zero) biases, so every gradient term is exercised.

    Drawn with NumPy: ``jax.random`` would compile an eager kernel for every new shape.
    """
    rng = np.random.default_rng(seed)
    return tuple(
        {
            "W": jnp.asarray(rng.normal(size=(n, n_prev)) * np.sqrt(2 / (n + n_prev)), dtype),
            "b": jnp.asarray(bias_scale * rng.normal(size=n), dtype),
        }
        for n_prev, n in zip(net.sizes, net.sizes[1:])
    )


def random_data(seed, net, m, dtype=jnp.float32):
    """``X (m, n[0])`` and labels as the public API takes them (integer classes for softmax+CCE)."""
    rng = np.random.default_rng(seed)
    X = jnp.asarray(rng.normal(size=(m, net.sizes[0])), dtype)
    n_out = net.sizes[-1]
    if net.task == "multiclass":
        Y = jnp.asarray(rng.integers(0, n_out, size=m), jnp.int32)
    elif net.task in ("binary", "multilabel"):
        Y = jnp.asarray(rng.integers(0, 2, size=(m, n_out)), dtype)
    else:
        Y = jnp.asarray(rng.normal(size=(m, n_out)), dtype)
    return X, Y


def normalised_labels(net, Y, dtype=jnp.float32):
    """Labels as the traced core expects them: ``(m, n[L])`` in ``dtype`` (one-hot for softmax+CCE)."""
    if net.task == "multiclass" and Y.ndim == 1:
        return jax.nn.one_hot(Y, net.sizes[-1], dtype=dtype)
    return jnp.asarray(Y, dtype)


@st.composite
def architectures(draw, max_depth=5, max_width=8, max_m=16):
    """``(net, m, seed)``: depth 1..max_depth, widths 1..max_width, any activations and output."""
    depth = draw(st.integers(1, max_depth))
    hidden = draw(st.lists(st.sampled_from(ACTIVATIONS), min_size=depth - 1, max_size=depth - 1))
    output, loss = draw(st.sampled_from(OUTPUTS))
    widths = draw(st.lists(st.integers(1, max_width), min_size=depth, max_size=depth))
    n_out = draw(st.integers(2 if output == "softmax" else 1, max_width))
    m = draw(st.integers(1, max_m))
    seed = draw(st.integers(0, 2**31 - 1))
    return make_net((*widths, n_out), hidden, output, loss), m, seed
