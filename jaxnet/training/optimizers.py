"""Named optimisers as optax ``GradientTransformation`` objects, with the course's update rules.

Every named optimiser is wrapped in ``optax.inject_hyperparams``, so its learning rate
lives in the optimiser state as an array: a sweep over learning rates (``fit_ensemble``)
is one compiled program, and changing the rate never recompiles. The update rules::

    | name       | update (g = dW)                                                         |
    |------------|-------------------------------------------------------------------------|
    | "sgd"      | ``W -= alpha g``                                                        |
    | "momentum" | ``v = beta v + (1 - beta) g;  W -= alpha v``  (the course's form, beta 0.9) |
    | "rmsprop"  | ``s = rho s + (1 - rho) g^2;  W -= alpha g / sqrt(s + eps)``  (Keras: rho 0.9, eps 1e-7) |
    | "adam"     | the course's Adam: bias-corrected ``v``, ``s`` (b1 0.9, b2 0.999, eps 1e-8) = ``optax.adam`` |
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import optax


def course_momentum(learning_rate, beta: float = 0.9) -> optax.GradientTransformation:
    """Gradient descent with momentum as the course writes it.

    ``v = beta v + (1 - beta) dW``, ``W = W - learning_rate v``, with ``v`` starting at 0
    and no bias correction. This is NOT ``optax.sgd(momentum=beta)``, whose velocity is
    ``v = beta v + dW`` (larger by a factor of about ``1 / (1 - beta)``).
    """
    return optax.chain(optax.ema(beta, debias=False), optax.scale_by_learning_rate(learning_rate))


def keras_rmsprop(
    learning_rate, rho: float = 0.9, eps: float = 1e-7
) -> optax.GradientTransformation:
    """RMSprop with Keras's defaults: ``s = rho s + (1 - rho) dW^2``, ``W -= lr dW / sqrt(s + eps)``."""
    return optax.rmsprop(learning_rate, decay=rho, eps=eps)


_FACTORIES = {
    "sgd": optax.sgd,
    "momentum": course_momentum,
    "rmsprop": keras_rmsprop,
    "adam": optax.adam,
}
NAMES = tuple(_FACTORIES)
DEFAULT_LEARNING_RATES = {"sgd": 0.01, "momentum": 0.01, "rmsprop": 1e-3, "adam": 1e-3}


@functools.cache
def get(name: str) -> optax.GradientTransformation:
    """The optimiser ``name`` with an injected learning rate (initially its default).

    The same object is returned for the same name, so compiled training functions that
    take it as a static argument are reused. Set the rate with :func:`set_learning_rate`.
    """
    if name not in _FACTORIES:
        raise ValueError(
            f"unknown optimizer {name!r}; expected one of: {', '.join(NAMES)} or an optax GradientTransformation"
        )
    return optax.inject_hyperparams(_FACTORIES[name])(learning_rate=DEFAULT_LEARNING_RATES[name])


def set_learning_rate(opt_state, learning_rate):
    """A copy of an ``inject_hyperparams`` state with ``learning_rate`` replaced (scalar or array)."""
    current = opt_state.hyperparams["learning_rate"]
    rate = jnp.broadcast_to(jnp.asarray(learning_rate, current.dtype), current.shape)
    hyperparams = {**opt_state.hyperparams, "learning_rate": rate}
    return opt_state._replace(hyperparams=hyperparams)


def learning_rate_of(opt_state):
    """The learning rate held in an ``inject_hyperparams`` state (the last one used)."""
    return opt_state.hyperparams["learning_rate"]


def name_of(optimizer: optax.GradientTransformation) -> str | None:
    """The name :func:`get` gave ``optimizer``, or None for any other transformation."""
    return next((n for n in NAMES if get(n) is optimizer), None)
