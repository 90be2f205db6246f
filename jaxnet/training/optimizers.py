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

__all__ = [
    "DEFAULT_LEARNING_RATES",
    "NAMES",
    "course_momentum",
    "get",
    "keras_rmsprop",
    "learning_rate_of",
    "name_of",
    "set_learning_rate",
]


def course_momentum(learning_rate, beta: float = 0.9) -> optax.GradientTransformation:
    """Gradient descent with momentum as the course writes it.

    ``v = beta v + (1 - beta) dW``, ``W = W - learning_rate v``, with ``v`` starting at 0
    and no bias correction. This is NOT ``optax.sgd(momentum=beta)``, whose velocity is
    ``v = beta v + dW`` (larger by a factor of about ``1 / (1 - beta)``).

    Args:
      learning_rate: ``alpha``, a positive number or an optax schedule.
      beta: the momentum, in [0, 1).

    Returns:
      An ``optax.GradientTransformation``; its updates are ``-learning_rate v``, a tree
      like the gradients.

    Example:
      >>> import jax.numpy as jnp
      >>> import jaxnet as jn
      >>> optimizer = jn.optimizers.course_momentum(0.1)
      >>> params, dW = {"W": jnp.ones(2)}, {"W": jnp.array([1.0, -2.0])}
      >>> state = optimizer.init(params)
      >>> for _ in range(2):  # v = 0.1 dW, then 0.9 * 0.1 dW + 0.1 dW = 0.19 dW
      ...     updates, state = optimizer.update(dW, state, params)
      ...     print([round(float(u), 4) for u in updates["W"]])
      [-0.01, 0.02]
      [-0.019, 0.038]
    """
    return optax.chain(optax.ema(beta, debias=False), optax.scale_by_learning_rate(learning_rate))


def keras_rmsprop(
    learning_rate, rho: float = 0.9, eps: float = 1e-7
) -> optax.GradientTransformation:
    """RMSprop with Keras's defaults: ``s = rho s + (1 - rho) dW^2``, ``W -= lr dW / sqrt(s + eps)``.

    Args:
      learning_rate: ``lr``, a positive number or an optax schedule.
      rho: the decay of the squared-gradient average, in [0, 1).
      eps: added to ``s`` under the square root.

    Returns:
      An ``optax.GradientTransformation`` (``optax.rmsprop(learning_rate, decay=rho, eps=eps)``).

    Example:
      >>> import jax.numpy as jnp
      >>> import jaxnet as jn
      >>> optimizer = jn.optimizers.keras_rmsprop(0.01)
      >>> params, dW = {"W": jnp.ones(2)}, {"W": jnp.array([1.0, -2.0])}
      >>> updates, _ = optimizer.update(dW, optimizer.init(params), params)
      >>> [round(float(u), 4) for u in updates["W"]]  # -0.01 sign(dW) / sqrt(0.1)
      [-0.0316, 0.0316]
    """
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

    Args:
      name: one of `NAMES`: ``"sgd"``, ``"momentum"``, ``"rmsprop"``, ``"adam"``.

    Returns:
      An ``optax.GradientTransformation`` whose state holds ``hyperparams["learning_rate"]``
      (a scalar array, initially ``DEFAULT_LEARNING_RATES[name]``).

    Raises:
      ValueError: an unknown name (the known ones are listed).

    Example:
      >>> import jax.numpy as jnp
      >>> import jaxnet as jn
      >>> adam = jn.optimizers.get("adam")
      >>> adam is jn.optimizers.get("adam")
      True
      >>> state = adam.init({"W": jnp.ones((2, 2))})
      >>> round(float(jn.optimizers.learning_rate_of(state)), 6)
      0.001
    """
    if name not in _FACTORIES:
        raise ValueError(
            f"unknown optimizer {name!r}; expected one of: {', '.join(NAMES)} or an optax GradientTransformation"
        )
    return optax.inject_hyperparams(_FACTORIES[name])(learning_rate=DEFAULT_LEARNING_RATES[name])


def set_learning_rate(opt_state, learning_rate):
    """A copy of an ``inject_hyperparams`` state with ``learning_rate`` replaced (scalar or array).

    Args:
      opt_state: the state of an optimiser from :func:`get` (or any
        ``optax.inject_hyperparams`` optimiser with a ``learning_rate``).
      learning_rate: the new rate: a number, or an array broadcastable to the current
        rate's shape (e.g. ``(K,)`` for K stacked models).

    Returns:
      The state with the rate replaced, in the current rate's shape and dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> import jaxnet as jn
      >>> state = jn.optimizers.get("sgd").init({"W": jnp.ones(3)})
      >>> state = jn.optimizers.set_learning_rate(state, 0.5)
      >>> rate = jn.optimizers.learning_rate_of(state)
      >>> float(rate), rate.dtype
      (0.5, dtype('float32'))
    """
    current = opt_state.hyperparams["learning_rate"]
    rate = jnp.broadcast_to(jnp.asarray(learning_rate, current.dtype), current.shape)
    hyperparams = {**opt_state.hyperparams, "learning_rate": rate}
    return opt_state._replace(hyperparams=hyperparams)


def learning_rate_of(opt_state):
    """The learning rate held in an ``inject_hyperparams`` state (the last one used).

    Args:
      opt_state: the state of an optimiser from :func:`get`.

    Returns:
      The rate, a scalar array (``(K,)`` for K stacked models' states).

    Example:
      >>> import jax.numpy as jnp
      >>> import jaxnet as jn
      >>> state = jn.optimizers.get("momentum").init({"W": jnp.ones(3)})
      >>> round(float(jn.optimizers.learning_rate_of(state)), 6)
      0.01
    """
    return opt_state.hyperparams["learning_rate"]


def name_of(optimizer: optax.GradientTransformation) -> str | None:
    """The name :func:`get` gave ``optimizer``, or None for any other transformation.

    Args:
      optimizer: an ``optax.GradientTransformation``.

    Returns:
      One of `NAMES`, or None.

    Example:
      >>> import optax
      >>> import jaxnet as jn
      >>> jn.optimizers.name_of(jn.optimizers.get("rmsprop")), jn.optimizers.name_of(optax.adam(0.1))
      ('rmsprop', None)
    """
    return next((n for n in NAMES if get(n) is optimizer), None)
