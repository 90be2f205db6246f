"""Your own pure model, trained by jaxnet: :class:`Model`, and the contract the training code calls.

A :class:`Model` is a small frozen, hashable value (a static argument of ``jax.jit``, like
a :class:`jaxnet.Network`) around two pure functions and a loss::

    init(key)                                   -> params             # any pytree of float arrays
    apply(params, X, *, key, train)             -> Z (m, n_out)       # the outputs BEFORE the
                                                                      # output activation: logits

    # with stateful=True (batch statistics, ...):
    init(key)                                   -> (params, state)
    apply(params, state, X, *, key, train)      -> (Z, new_state)

``X`` is ``(m, *input_shape)``, examples along axis 0; ``Z`` is ``(m, n_out)``: one input,
one output. ``key`` is a ``jax.random`` key in training when the model ``needs_key``
(dropout; ``None`` otherwise and in inference), ``train`` selects training behaviour.

The loss is named as a network names it (``"bce"``, ``"cce"``, ``"mse"`` or the full names
of :mod:`jaxnet.losses`) or given as a function ``loss(Z, Y) -> (m,)`` of the outputs and
the labels ``(m, n_out)``. ``apply`` returns logits and the model names its output
activation (``output``, by default the one the loss pairs with: sigmoid for BCE, softmax
for CCE, linear for MSE), so the cross-entropies are computed from the logits (stable, no
``log(0)``) and ``A = g(Z)``, the probabilities, gives the accuracy and the predictions.

The training contract. Everything that trains, validates or predicts (``jn.fit``,
``jn.fit_ensemble``, the compiled engine, ``jn.evaluate``, ``jn.predict``, ``jn.cost``,
``jn.grads``, ``jn.per_example_grads``, checkpoints and resume, callbacks, sharding, the
divergence guard) calls a model through this method set, which :class:`jaxnet.Network`
implements too (with a hand-derived backward) and :class:`Model` implements with
``jax.grad``::

    loss_and_grads(params, X, Y, weights, backprop, *, key, train) -> (J, A, grads, stats)
    with_stats(params, stats)                    -> params            # the new state put back
    evaluate(params, X, Y, weights)              -> {"loss": J, "accuracy" | "mse": metric}
    forward(params, X, *, key, train)            -> A (m, n_out)      # after the output activation
    cost(params, X, Y, weights, *, key, train)   -> J
    predictions(A)                               -> labels or values
    step_mask(X)                                 -> (m, T) real steps of a sequence output, or None
    task, needs_key, backprops, input_shape, output_shape, to_dict()

The checks at the public boundary (``jaxnet.validation.bind``) trace ``apply`` on the
data's shapes: a model that leaks a tracer, or whose two traces differ (it reads or changes
Python state), or whose outputs do not fit the loss, is refused there with the argument
named; the model they return is bound to the data's example shape and output width.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxnet import activations as _activations
from jaxnet import losses as _losses
from jaxnet import metrics, network

__all__ = ["Model"]

_TASK_OF_OUTPUT = {"softmax": "multiclass", "sigmoid": "binary"}  # a custom loss's task


@dataclasses.dataclass(frozen=True, init=False)
class Model:
    """A pure model of your own: ``init``, ``apply`` and a loss, trained by ``jn.fit`` and the rest.

    Args:
      init: ``init(key) -> params`` (a pytree of float arrays), or ``-> (params, state)``
        when ``stateful``.
      apply: ``apply(params, X, *, key, train) -> Z (m, n_out)``, the outputs before the
        output activation (logits for BCE and CCE), or with ``stateful``
        ``apply(params, state, X, *, key, train) -> (Z, new_state)``.
      loss: ``"bce"``, ``"cce"``, ``"mse"`` (or a full name of :mod:`jaxnet.losses`), or a
        function ``loss(Z, Y) -> (m,)`` of the outputs and the labels ``(m, n_out)`` giving
        each example's loss (J is their mean).
      output: the output activation ``g`` with ``A = g(Z)`` (a name of
        :mod:`jaxnet.activations`); by default the loss's pair: sigmoid for BCE, softmax for
        CCE, linear for MSE and for a loss function. A named cross-entropy requires its pair.
      name: how messages and checkpoints name the model (default: ``apply``'s name).
      stateful: ``init`` returns ``(params, state)`` and ``apply`` takes and returns the state
        (batch statistics). Training carries the pair ``(params, state)`` as its params:
        gradients flow to ``params``, ``state`` takes ``apply``'s new state every step.
      needs_key: ``apply`` draws randomness in training (dropout): training then passes a
        fresh key every step (``jn.fit`` needs ``key=``). Otherwise ``key`` is ``None``.
      input_shape: optionally, one example's shape: inputs of another shape are refused.

    The task (what ``jn.evaluate`` reports and ``jn.predict`` returns) follows the loss as
    for a network: CCE multiclass, BCE binary (multilabel for ``n_out > 1``), MSE
    regression; with a loss function, it follows ``output`` (softmax, sigmoid, else regression).

    The training code (``jn.fit``, its compiled engine, the API) calls a model through the
    methods below, which :class:`jaxnet.Network` implements too (with its hand-derived
    backward): one training loop for both. They take data already validated and in the
    params' dtype; the public functions check it first (and trace ``apply``: an impure
    model or outputs that do not fit the loss are refused there, naming the argument).

    Example:
      A logistic regression, written by hand:

      >>> import jax, jax.numpy as jnp, numpy as np
      >>> import jaxnet as jn
      >>> def init(key):
      ...     return {"w": jax.random.normal(key, (2, 1)) * 0.01, "b": jnp.zeros((1, 1))}
      >>> def apply(params, X, *, key, train):
      ...     return X @ params["w"] + params["b"]          # logits (m, 1)
      >>> model = jn.Model(init, apply, loss="bce")
      >>> model
      Model('apply', loss='binary_cross_entropy', output='sigmoid')
      >>> X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
      >>> y = (X[:, 0] + X[:, 1] > 0).astype(np.int32)
      >>> params, history = jn.fit(model, model.init(jax.random.key(0)), X, y,
      ...                          learning_rate=1.0, epochs=20, verbose=0)
      >>> history["accuracy"][-1] > 0.9, jn.predict(model, params, X[:3]).tolist() == y[:3].tolist()
      (True, True)
    """

    init: Callable
    apply: Callable
    loss: str | Callable
    output: str
    name: str
    stateful: bool
    needs_key: bool
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int] | None

    def __init__(
        self,
        init: Callable,
        apply: Callable,
        *,
        loss: str | Callable,
        output: str | None = None,
        name: str | None = None,
        stateful: bool = False,
        needs_key: bool = False,
        input_shape=None,
    ):
        for arg, f in (("init", init), ("apply", apply)):
            if not callable(f):
                raise TypeError(f"{arg} must be a function, got {type(f).__name__}: {f!r:.80}")
        loss = _check_loss(loss)
        output = _check_output(output, loss)
        if name is None:
            name = getattr(apply, "__qualname__", type(apply).__name__)
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        for arg, flag in (("stateful", stateful), ("needs_key", needs_key)):
            if not isinstance(flag, bool):
                raise TypeError(f"{arg} must be True or False, got {flag!r}")
        if input_shape is not None:
            input_shape = network._check_input_shape(input_shape)
        fields = dict(init=init, apply=apply, loss=loss, output=output, name=name)
        fields |= dict(stateful=stateful, needs_key=needs_key, input_shape=input_shape)
        for field, value in (*fields.items(), ("output_shape", None)):
            object.__setattr__(self, field, value)

    def __repr__(self) -> str:
        loss = self.loss if isinstance(self.loss, str) else _qualname(self.loss)
        flags = [f"{f}=True" for f in ("stateful", "needs_key") if getattr(self, f)]
        shapes = [] if self.output_shape is None else [f"{self.input_shape} -> {self.output_shape}"]
        return f"Model({', '.join([repr(self.name), f'loss={loss!r}', f'output={self.output!r}', *flags, *shapes])})"

    def bound(self, input_shape: tuple[int, ...], output_shape: tuple[int]) -> Model:
        """This model with its example shape and output width fixed (what the boundary checks return)."""
        new = copy.copy(self)
        object.__setattr__(new, "input_shape", tuple(input_shape))
        object.__setattr__(new, "output_shape", tuple(output_shape))
        return new

    # --- what the training code reads ------------------------------------------------------

    backprops = ("autodiff",)  # the gradients it offers, the default first: jax.grad only
    is_dense = False

    @property
    def output_activation(self) -> _activations.Activation:
        """``g`` of ``A = g(Z)``."""
        return _activations.get(self.output)

    @property
    def fused(self) -> bool:
        """Whether the named loss is computed from the logits ``Z`` (its output pair)."""
        return isinstance(self.loss, str) and _losses.get(self.loss).fused_activation == self.output

    @property
    def task(self) -> str:
        """``"binary"``, ``"multilabel"``, ``"multiclass"`` or ``"regression"`` (see the class)."""
        if isinstance(self.loss, str):
            task = {"categorical_cross_entropy": "multiclass", "binary_cross_entropy": "binary"}
            kind = task.get(self.loss, "regression")
        else:
            kind = _TASK_OF_OUTPUT.get(self.output, "regression")
        if kind == "binary" and self.output_shape is not None and self.output_shape[0] > 1:
            return "multilabel"
        return kind

    def to_dict(self) -> dict:
        """What a checkpoint records of the model (a resumed run must have the same)."""
        loss = self.loss if isinstance(self.loss, str) else f"function {_qualname(self.loss)}"
        shapes = {}
        if self.output_shape is not None:
            shapes = {
                "input_shape": list(self.input_shape),
                "output_shape": list(self.output_shape),
            }
        return {"model": self.name, "loss": loss, "output": self.output,
                "stateful": self.stateful, **shapes}  # fmt: skip

    # --- the pure core (no validation: the data are checked and in the params' dtype) ----

    def outputs(self, params, X, *, key=None, train=False):
        """``(Z, new_state)``: ``apply``'s outputs ``(m, n_out)`` and its new state (None without)."""
        if self.stateful:
            trained, state = params
            return self.apply(trained, state, X, key=key, train=train)
        return self.apply(params, X, key=key, train=train), None

    def data_cost(self, Z, Y, weights=None):
        """J from the outputs: the (weighted) mean of the per-example loss."""
        if callable(self.loss):
            per_example = self.loss(Z, Y)
        elif self.fused:
            per_example = _losses.get(self.loss).per_example_from_logits(Z, Y)
        else:
            per_example = _losses.get(self.loss).per_example(self.output_activation.fn(Z), Y)
        return _losses.reduce_mean(per_example, weights)

    def forward(self, params, X, *, key=None, train=False):
        """``A = g(Z) (m, n_out)``: the outputs after the output activation."""
        return self.output_activation.fn(self.outputs(params, X, key=key, train=train)[0])

    def cost(self, params, X, Y, weights=None, *, key=None, train=False):
        """The cost J, a scalar."""
        return self.data_cost(self.outputs(params, X, key=key, train=train)[0], Y, weights)

    def evaluate(self, params, X, Y, weights=None):
        """``{"loss": J, "accuracy" or "mse": metric}`` (scalar arrays) in inference mode, as
        ``jaxnet.network.evaluate``."""
        Z, _ = self.outputs(params, X)
        metric = metrics.metric(self.output_activation.fn(Z), Y, self.task, weights)
        return {"loss": self.data_cost(Z, Y, weights), metrics.metric_name(self.task): metric}

    def loss_and_grads(
        self, params, X, Y, weights=None, backprop="autodiff", *, key=None, train=False
    ):
        """``(J, A, grads, stats)`` by ``jax.grad``, as ``jaxnet.network.loss_and_grads``.

        ``grads`` has the params' tree; for a stateful model the params are ``(params,
        state)``, the state's gradients are zeros and ``stats`` is ``apply``'s new state
        (``None`` without a state).
        """
        if backprop != "autodiff":
            raise ValueError(
                f"backprop={backprop!r} needs a hand-derived backward, and the model "
                f"{self.name!r} (a jn.Model) has none: use backprop='autodiff' (or leave it out)"
            )
        trained, state = params if self.stateful else (params, None)

        def J(p):
            Z, new_state = self.outputs(p if state is None else (p, state), X, key=key, train=train)
            return self.data_cost(Z, Y, weights), (self.output_activation.fn(Z), new_state)

        (loss, (A, new_state)), grads = jax.value_and_grad(J, has_aux=True)(trained)
        if self.stateful:
            grads = (grads, jax.tree.map(jnp.zeros_like, state))
        return loss, A, grads, new_state

    def with_stats(self, params, stats):
        """The params with the new state put back (``params`` itself without a state)."""
        return (params[0], stats) if self.stateful else params

    def predictions(self, A):
        """Labels from ``A``, as ``jaxnet.network.predictions``."""
        return network.predictions(self, A)

    def step_mask(self, X):
        """None: a model's outputs have no masked steps (the contract's, as a network's)."""
        del X


def _qualname(f) -> str:
    return getattr(f, "__qualname__", type(f).__name__)


def _check_loss(loss) -> str | Callable:
    if isinstance(loss, str | _losses.Loss):
        return _losses.get(loss).name
    if callable(loss):
        return loss
    raise TypeError(
        f"loss must be a name ({', '.join(_losses.NAMES)}, or bce, cce, mse) or a function "
        f"loss(Z, Y) -> (m,), got {type(loss).__name__}: {loss!r:.80}"
    )


def _check_output(output, loss) -> str:
    if output is None:
        return _losses.get(loss).fused_activation if isinstance(loss, str) else "linear"
    if not isinstance(output, str | _activations.Activation):
        raise TypeError(f"output must be an activation name, got {type(output).__name__}")
    output = _activations.get(output).name
    if isinstance(loss, str):
        network._check_output(2, output, loss)  # the width is checked once the model is bound
    return output


def check_units(model: Model, n_out: int) -> None:
    """A softmax output needs at least 2 units (as a network's)."""
    if model.output == "softmax" and n_out < 2:
        raise ValueError(
            f"model {model.name!r}: a softmax output needs at least 2 units, but apply returns "
            f"outputs (m, {n_out})"
        )
