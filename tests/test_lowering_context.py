"""The test processes' shared MLIR context (tests/lowering_context.py) lowers the programs JAX
lowers with a fresh context per program: the same text, debug locations included."""

import jax
import jax.numpy as jnp
import lowering_context
import numpy as np
from jax._src.interpreters import mlir

import jaxnet as jn
from jaxnet import network
from jaxnet.layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D


def _programs():
    """New closures each call (so that nothing comes from JAX's tracing or lowering caches):
    a network's loss and gradients, a CNN with dropout (random bits) and batch norm in
    training, and a `fori_loop`."""
    dense = jn.Network((3, 4, 2), hidden_activation="tanh")
    cnn = jn.Sequential(
        [Conv2D(2, 3, padding="same", activation="relu"), BatchNorm(), MaxPool2D(2), Flatten(),
         Dropout(0.5), Dense(1, "sigmoid")],
        input_shape=(4, 4, 1),
    )  # fmt: skip
    X, Y = np.ones((5, 3), np.float32), np.eye(2, dtype=np.float32)[[0, 1, 0, 1, 1]]
    images, labels = np.ones((5, 4, 4, 1), np.float32), np.ones((5, 1), np.float32)
    key = jax.random.key(0)
    return [
        (lambda p: network.loss_and_grads(dense, p, X, Y, None), jn.init(key, dense)),
        (
            lambda p: network.loss_and_grads(cnn, p, images, labels, None, key=key, train=True),
            jn.init(key, cnn),
        ),
        (lambda x: jax.lax.fori_loop(0, 3, lambda i, c: jnp.sin(c) * i, x), jnp.ones(4)),
    ]


def _lowered_texts():
    return [jax.jit(f).lower(arg).as_text(debug_info=True) for f, arg in _programs()]


def test_every_lowering_is_handed_the_one_context():
    assert lowering_context.install()
    contexts = [jax.jit(f).lower(arg).compiler_ir().context for f, arg in _programs()]
    assert all(context is contexts[0] for context in contexts)


def test_the_shared_context_lowers_the_text_a_fresh_context_does(monkeypatch):
    shared = _lowered_texts()
    monkeypatch.setattr(mlir, "make_ir_context", lowering_context.fresh_context)
    fresh = _lowered_texts()
    assert shared == fresh
    assert all("stablehlo" in text and "loc(" in text for text in shared)


def _context_of_a_new_program():
    return jax.jit(lambda x: jnp.sin(x)).lower(1.0).compiler_ir().context


def test_a_reset_makes_a_new_context():
    before = _context_of_a_new_program()
    lowering_context.reset()
    after = _context_of_a_new_program()
    assert after is not before
    assert _context_of_a_new_program() is after
