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

Gradient clipping (course 5's ``clip``, for exploding gradients in recurrent networks) is
an option of a named optimiser: ``clip_value`` clips every gradient entry to
``[-clip_value, clip_value]`` (the course's ``np.clip(gradient, -maxValue, maxValue)``),
``clip_norm`` rescales the whole gradient to global norm at most ``clip_norm``
(``g * clip_norm / max(||g||, clip_norm)``); both: by value first. ``jn.fit(...,
clip_value=5.0)`` passes them here. With an optax transformation, chain optax's own:
``optax.chain(optax.clip(5.0), optax.adam(1e-3))``.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import optax

from jaxnet.validation import check_real

__all__ = [
    "DEFAULT_LEARNING_RATES",
    "NAMES",
    "clipping",
    "clipping_of",
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


def get(name: str, clip_value=None, clip_norm=None) -> optax.GradientTransformation:
    """The optimiser ``name`` with an injected learning rate (initially its default).

    The same object is returned for the same arguments, so compiled training functions
    that take it as a static argument are reused. Set the rate with :func:`set_learning_rate`.

    Args:
      name: one of `NAMES`: ``"sgd"``, ``"momentum"``, ``"rmsprop"``, ``"adam"``.
      clip_value, clip_norm: clip the gradients before the update (see :func:`clipping`);
        None (the default): no clipping.

    Returns:
      An ``optax.GradientTransformation`` whose state holds ``hyperparams["learning_rate"]``
      (a scalar array, initially ``DEFAULT_LEARNING_RATES[name]``).

    Raises:
      ValueError: an unknown name (the known ones are listed); a bound that is not
        positive and finite. TypeError: a bound that is not a real number.

    Example:
      >>> import jax.numpy as jnp
      >>> import jaxnet as jn
      >>> adam = jn.optimizers.get("adam")
      >>> adam is jn.optimizers.get("adam")
      True
      >>> state = adam.init({"W": jnp.ones((2, 2))})
      >>> round(float(jn.optimizers.learning_rate_of(state)), 6)
      0.001
      >>> sgd = jn.optimizers.get("sgd", clip_value=1.0)  # W -= 0.01 clip(dW, -1, 1)
      >>> updates, _ = sgd.update({"W": jnp.array([0.5, -3.0])}, sgd.init({"W": jnp.ones(2)}))
      >>> [round(float(u), 4) for u in updates["W"]]
      [-0.005, 0.01]
    """
    if name not in _FACTORIES:
        raise ValueError(
            f"unknown optimizer {name!r}; expected one of: {', '.join(NAMES)} or an optax GradientTransformation"
        )
    return _get(name, _bound(clip_value, "clip_value"), _bound(clip_norm, "clip_norm"))


_MADE: dict[int, tuple[str, float | None, float | None]] = {}  # id -> (name, clip_value, clip_norm)


@functools.cache
def _get(name: str, clip_value, clip_norm) -> optax.GradientTransformation:
    inner = _FACTORIES[name]
    factory = inner
    if clip_value is not None or clip_norm is not None:

        def factory(learning_rate):
            return optax.chain(clipping(clip_value, clip_norm), inner(learning_rate))

    tx = optax.inject_hyperparams(factory)(learning_rate=DEFAULT_LEARNING_RATES[name])
    _MADE[id(tx)] = (name, clip_value, clip_norm)
    return tx


def _bound(value, name: str) -> float | None:
    """A clipping bound: None (no clipping), or a positive finite real number (as a float)."""
    return None if value is None else check_real(value, name, 0.0, strict=True)


def clipping(clip_value=None, clip_norm=None) -> optax.GradientTransformation:
    """Gradient clipping, course 5's ``clip``: by value, by global norm, or both (value first).

    By value, each entry: ``g := min(max(g, -clip_value), clip_value)``. By global norm,
    over all the leaves: ``g := g * clip_norm / max(||g||_2, clip_norm)`` (a gradient
    within the bound is unchanged; the direction is kept).

    Args:
      clip_value: a positive bound on each gradient entry, or None.
      clip_norm: a positive bound on the global L2 norm of the gradients, or None.

    Returns:
      An ``optax.GradientTransformation`` (``optax.clip``, ``optax.clip_by_global_norm``,
      chained); its updates are a tree like the gradients.

    Raises:
      TypeError, ValueError: a bound that is not a positive, finite real number.

    Example:
      >>> import jax.numpy as jnp
      >>> import jaxnet as jn
      >>> g = {"W": jnp.array([3.0, -4.0])}  # norm 5
      >>> clip = jn.optimizers.clipping(clip_norm=1.0)
      >>> updates, _ = clip.update(g, clip.init(g))
      >>> [round(float(u), 4) for u in updates["W"]]
      [0.6, -0.8]
    """
    clip_value, clip_norm = _bound(clip_value, "clip_value"), _bound(clip_norm, "clip_norm")
    parts = []
    if clip_value is not None:
        parts.append(optax.clip(clip_value))
    if clip_norm is not None:
        parts.append(optax.clip_by_global_norm(clip_norm))
    return optax.chain(*parts)


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
    made = _MADE.get(id(optimizer))
    return made[0] if made is not None and _get(*made) is optimizer else None


def clipping_of(optimizer: optax.GradientTransformation) -> tuple[float | None, float | None]:
    """``(clip_value, clip_norm)`` of an optimiser from :func:`get` (``(None, None)`` otherwise).

    Example:
      >>> import jaxnet as jn
      >>> jn.optimizers.clipping_of(jn.optimizers.get("adam", clip_norm=5))
      (None, 5.0)
    """
    made = _MADE.get(id(optimizer))
    return made[1:] if made is not None and _get(*made) is optimizer else (None, None)
