"""The network: a static composition of layers, and the traced core (init, forward, cost, backprop).

A :class:`Network` is a small frozen, hashable value (its layers, the per-example input
shape, the loss) that ``jax.jit`` takes as a static argument; params are a tuple with one
dict per layer (``{"W": (n[l], n[l-1]), "b": (n[l],)}`` for a dense layer, ``{}`` for a
parameter-free one). ``Network(sizes, hidden_activation, output_activation)`` is the
course's dense shorthand;
:func:`Sequential` composes any layers of :mod:`jaxnet.layers`. Both build the same class.

The functions in this module are the pure core that training compiles: they do no
validation and expect ``X (m, *input_shape)`` and ``Y (m, n[L])`` already in the params'
dtype (``(m, T, n[L])`` for a network that outputs a sequence, below). The public,
validated entry points (``jn.forward``, ``jn.cost``, ...) live in :mod:`jaxnet.api`.

The output layer runs linear and the network applies its activation, so the cost can be
computed from the logits ``Z[L]`` (stable) and the fused gradient ``dZ[L] = A[L] - Y``
enters the output layer's backward directly.

Sequence outputs: a network whose output layer runs at every step (a ``Dense`` after a
recurrent layer with ``return_sequences=True``, an ``AttentionDecoder``) outputs
``A[L] (m, T, n[L])``, a softmax (or sigmoid, or linear output) per step, and takes labels
``(m, T, n[L])`` (integer ids ``(m, T)`` at the public boundary). Each example's loss is
the mean over its steps of the per-step loss, J the mean over the examples
(:func:`jaxnet.losses.mean_over_steps`); where the network masks padded steps
(``Embedding(mask_zero=True)``, the mask carried to the output, :meth:`Network.step_mask`)
the mean is over each example's real steps. The fused gradient is then
``dZ[L]_it = s_it (A[L]_it - Y_it)`` with the step weights ``s_it`` (``1 / T``, or
``mask_it / (real steps of i)``), and every layer's backward runs unchanged.

``weights`` (optional, ``(m,)``) turns every mean over examples into a weighted mean;
training uses it to mask padded examples, so their loss and gradients count zero.
A mask of padded sequence steps (``Embedding(mask_zero=True)``) travels along the chain to
the recurrent layers (:mod:`jaxnet.layers.base`, "Sequences and masks").
``key`` feeds the layers that draw randomness in training (layer ``l`` gets
``fold_in(key, l)``); ``train`` selects training behaviour (dropout on, batch statistics).

L2 regularisation (the course's ``compute_cost_with_regularization``): every layer with
``l2 = λ > 0`` (Dense, Conv2D) adds ``(λ / 2m) ||W||^2`` to J (:func:`penalty`) and
``(λ / m) W`` to its hand-derived ``dW`` (:func:`l2_gradients`); biases, batch norm's
``gamma``/``beta`` and its moving statistics are never decayed. With ``weights``, ``m`` is
the weighted count ``sum(weights)``, so padded rows (weight 0) change nothing: a padded
batch has the penalty of the unpadded one. ``m`` is the batch's: a minibatch of 64 carries
``λ / (2 * 64)``, as the course's formula applied per batch, and ``jn.evaluate`` on a set
of another size carries that set's ``m``.

How L2 relates to ``optax.add_decayed_weights(wd)`` (decoupled weight decay): that adds
``wd W`` to the optimiser's update direction AFTER the gradient transform, so each step
does ``W -= lr (update + wd W)``. Under plain SGD the two are the same step when
``wd = λ / m``. Under Adam or RMSprop they differ: L2's ``(λ / m) W`` enters the gradient
and is rescaled by the adaptive denominators (Adam + L2), while decoupled decay is not
(AdamW, ``optax.adamw``). Pass an optax chain as ``optimizer=`` for decoupled decay.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet import activations as _activations
from jaxnet import initializers, limits, metrics, validation
from jaxnet import losses as _losses
from jaxnet.layers import BatchNorm, Dense, Dropout, param_trees
from jaxnet.layers import base as _base

__all__ = [
    "BACKPROP",
    "Network",
    "Sequential",
    "evaluate",
    "l2_gradients",
    "loss_and_grads",
    "penalty",
    "with_stats",
    "without_l2",
]

BACKPROP = ("manual", "autodiff")


@dataclasses.dataclass(frozen=True, init=False, eq=False, repr=False)
class Network:
    """A network: layers applied in order to inputs of ``input_shape``, and a loss.

    The course's dense shorthand, ``sizes (n[0], ..., n[L])`` and one activation per layer:

    >>> net = Network((784, 512, 10), hidden_activation="relu", output_activation="softmax")
    >>> net.activations, net.loss
    (('relu', 'softmax'), 'categorical_cross_entropy')
    >>> Network((2, 4, 3, 1), activations=("relu", "tanh", "sigmoid")).L
    3

    Regularised (course 2): L2 on every Dense, batch norm and dropout after every hidden
    layer, in the order Dense -> BatchNorm -> Dropout:

    >>> net = Network((2, 20, 3, 1), hidden_activation="relu", output_activation="sigmoid", l2=0.7, dropout=0.14)
    >>> [layer.kind for layer in net.layers]
    ['dense', 'dropout', 'dense', 'dropout', 'dense']
    >>> net.layers[0]
    Dense(units=20, activation='relu', l2=0.7)

    Any layers: :func:`Sequential` (the same class).

    Args:
      sizes: ``(n_x, n[1], ..., n[L])``, at least two positive ints.
      hidden_activation: the activation of every hidden layer.
      output_activation: the activation of the output layer.
      activations: one activation per layer instead of ``hidden_activation`` and
        ``output_activation``.
      loss: the cost; by default it follows the output (sigmoid -> binary
        cross-entropy, softmax -> categorical cross-entropy, otherwise mean squared error).
      l2: λ of the L2 penalty on every ``W`` (``(λ / 2m) sum_l ||W[l]||^2``; module docstring).
      dropout: the rate of a :class:`jaxnet.layers.Dropout` after every hidden layer (0: none).
      batch_norm: a :class:`jaxnet.layers.BatchNorm` after every hidden Dense.
    """

    layers: tuple
    input_shape: tuple[int, ...]
    loss: str

    def __init__(
        self,
        sizes: Sequence[int],
        hidden_activation="relu",
        output_activation="sigmoid",
        *,
        activations: Sequence[str] | None = None,
        loss: str | None = None,
        l2: float = 0.0,
        dropout: float = 0.0,
        batch_norm: bool = False,
    ):
        sizes = _check_sizes(sizes)
        activations = _check_activations(
            activations, hidden_activation, output_activation, len(sizes) - 1
        )
        l2 = validation.check_l2(l2)
        dropout = validation.check_rate(dropout, "dropout")
        validation.check_bool(batch_norm, "batch_norm")
        *hidden_layers, output_layer = (Dense(n, a, l2) for n, a in zip(sizes[1:], activations))
        layers = []
        for layer in hidden_layers:  # the order per hidden layer: Dense -> BatchNorm -> Dropout
            layers.append(layer)
            layers += [BatchNorm()] if batch_norm else []
            layers += [Dropout(dropout)] if dropout > 0 else []
        self._build((*layers, output_layer), (sizes[0],), loss)

    @classmethod
    def from_layers(cls, layers, input_shape, loss: str | None = None, l2=None) -> Network:
        """The network of ``layers`` on inputs of ``input_shape`` (what :func:`Sequential` calls);
        ``l2`` (not None) is set on every layer that has one (the weighted layers)."""
        layers = _check_layers(layers)
        if l2 is not None:
            layers = _with_l2(layers, validation.check_l2(l2))
        net = object.__new__(cls)
        net._build(layers, _check_input_shape(input_shape), loss)
        return net

    def _build(self, layers: tuple, input_shape: tuple[int, ...], loss) -> None:
        shapes, shape = [], input_shape
        for l, layer in enumerate(layers):
            if getattr(layer, "return_state", False):
                raise ValueError(
                    f"layers[{l}] ({layer!r}) returns several outputs (its final states too), and "
                    "a Sequential chains one output to the next layer: leave return_state out, or "
                    "call the layer's forward and backward yourself (e.g. in a jn.Model's apply)"
                )
            try:
                shape = tuple(int(n) for n in layer.output_shape(shape))
            except ValueError as e:
                raise ValueError(f"layers[{l}] ({layer!r}) on input shape {shape}: {e}") from None
            shapes.append(shape)
        output = getattr(layers[-1], "activation", None)
        if not _has_field(layers[-1], "activation"):
            raise ValueError(
                f"the last layer must be the output layer, one with an activation (e.g. "
                f"Dense(10, 'softmax')), got {layers[-1]!r}"
            )
        if len(shapes[-1]) not in (1, 2):
            raise ValueError(
                f"the output layer must give a vector (n[L],) or a sequence (T, n[L]) per "
                f"example, got shape {shapes[-1]}: put a Flatten() and a Dense layer last"
            )
        output = _activations.get(output or "linear").name
        loss_name = (_losses.for_output(output) if loss is None else _losses.get(loss)).name
        _check_output(shapes[-1][-1], output, loss_name)
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "input_shape", input_shape)
        object.__setattr__(self, "loss", loss_name)
        object.__setattr__(self, "_output_shapes", tuple(shapes))
        object.__setattr__(self, "_hash", hash(self._identity()))  # jit hashes it on every call
        _masks(self, np.ones((1, *input_shape), np.float32))  # a layer that cannot make its mask

    # --- identity: frozen, hashable, a static argument of jit ----------------------------

    def _identity(self):
        # the layer types count: two kinds of layer with equal fields are different layers
        return tuple((type(layer), layer) for layer in self.layers), self.input_shape, self.loss

    def __eq__(self, other):
        return type(other) is type(self) and self._identity() == other._identity()

    def __hash__(self):
        return self._hash

    def __repr__(self) -> str:
        if self._plain_dense:
            return f"Network({self.sizes}, activations={self.activations}, loss={self.loss!r})"
        layers = ", ".join(map(repr, self.layers))
        return f"Sequential([{layers}], input_shape={self.input_shape}, loss={self.loss!r})"

    # --- shapes ------------------------------------------------------------------------

    @property
    def L(self) -> int:
        """The number of layers (the input layer is layer 0); params has one entry per layer."""
        return len(self.layers)

    @property
    def output_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The per-example output shape of every layer."""
        return self._output_shapes

    @property
    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The per-example input shape of every layer."""
        return (self.input_shape, *self._output_shapes[:-1])

    @property
    def output_shape(self) -> tuple[int, ...]:
        """``(n[L],)``, or ``(T, n[L])`` for a network that outputs a sequence (one output per step)."""
        return self._output_shapes[-1]

    @property
    def is_dense(self) -> bool:
        """Whether this is the course's dense stack: Dense layers on vector inputs."""
        return len(self.input_shape) == 1 and all(type(layer) is Dense for layer in self.layers)

    @property
    def _plain_dense(self) -> bool:
        """The course's dense stack without L2: what ``{"sizes", "activations", "loss"}`` describes."""
        return self.is_dense and not any(layer.l2 for layer in self.layers)

    @property
    def l2(self) -> tuple[float, ...]:
        """λ of every layer's L2 penalty (0 for layers without one; a block: the largest λ
        of the layers inside it)."""
        return tuple(max(jax.tree.leaves(c), default=0.0) for c in self.l2_coefficients())

    def l2_coefficients(self) -> tuple:
        """The params' tree with λ on every leaf that L2 decays (a ``W``) and 0.0 elsewhere."""
        return tuple(
            layer.l2_coefficients(shape) for layer, shape in zip(self.layers, self.input_shapes)
        )

    @property
    def sizes(self) -> tuple[int, ...]:
        """``(n[0], ..., n[L])`` of a dense network (see :attr:`is_dense`)."""
        if not self.is_dense:
            raise AttributeError(
                "sizes is defined for dense networks only; use input_shape and output_shapes"
            )
        return (self.input_shape[0], *(layer.units for layer in self.layers))

    @property
    def activations(self) -> tuple[str, ...]:
        """The activation of every layer that has one (all of them in a dense network)."""
        return tuple(
            _activations.get(layer.activation or "linear").name
            for layer in self.layers
            if hasattr(layer, "activation")
        )

    def param_shapes(self) -> tuple[dict, ...]:
        """One ``{name: shape}`` per layer: the params' tree, as shapes (a block nests its
        layers': ``{"main": ({...}, ...), "shortcut": (...)}``)."""
        return tuple(
            layer.param_shapes(shape) for layer, shape in zip(self.layers, self.input_shapes)
        )

    def trainable(self) -> tuple[dict, ...]:
        """The params' tree with ``trainable?`` on every leaf (batch norm's moving statistics
        are not), each layer's own answer (:meth:`jaxnet.layers.Layer.trainable`)."""
        return tuple(layer.trainable(shape) for layer, shape in zip(self.layers, self.input_shapes))

    @property
    def num_params(self) -> int:
        """All parameters, trainable or not (dense: ``sum_l n[l] (n[l-1] + 1)``)."""
        return sum(math.prod(s) for s in param_trees.shape_leaves(self.param_shapes()))

    @property
    def num_trainable_params(self) -> int:
        """The parameters that gradient descent trains."""
        shapes = param_trees.shape_leaves(self.param_shapes())
        trainable = jax.tree.leaves(self.trainable())
        return sum(math.prod(s) for s, t in zip(shapes, trainable, strict=True) if t)

    # --- output and loss ---------------------------------------------------------------

    @property
    def needs_key(self) -> bool:
        """Whether some layer draws randomness in training (dropout); then training needs a key."""
        return any(getattr(layer, "needs_key", False) for layer in self.layers)

    @property
    def output_activation(self) -> _activations.Activation:
        """The output layer's activation (the network applies it to ``Z[L]``; ``linear`` if None)."""
        return _activations.get(self.layers[-1].activation or "linear")

    @property
    def loss_function(self) -> _losses.Loss:
        """The loss named by :attr:`loss`: its per-example value and hand-derived gradient."""
        return _losses.get(self.loss)

    @property
    def fused(self) -> bool:
        """Whether the output gradient fuses to ``dZ[L] = A[L] - Y`` (and the cost uses logits)."""
        return self.loss_function.fused_activation == self.output_activation.name

    @property
    def task(self) -> str:
        """``"binary"``, ``"multilabel"``, ``"multiclass"`` or ``"regression"``, from the loss."""
        if self.loss == "categorical_cross_entropy":
            return "multiclass"
        if self.loss == "binary_cross_entropy":
            return "binary" if self.output_shape[-1] == 1 else "multilabel"
        return "regression"

    # --- the training contract (jaxnet.model): what fit, the engine and the API call ---------

    backprops = BACKPROP  # the gradients it offers, the default first: hand-derived, or jax.grad

    def forward(self, params, X, *, key=None, train=False):
        """``jaxnet.network.forward`` of this network."""
        return forward(self, params, X, key=key, train=train)

    def cost(self, params, X, Y, weights=None, *, key=None, train=False):
        """``jaxnet.network.cost`` of this network."""
        return cost(self, params, X, Y, weights, key=key, train=train)

    def evaluate(self, params, X, Y, weights=None):
        """``jaxnet.network.evaluate`` of this network."""
        return evaluate(self, params, X, Y, weights)

    def loss_and_grads(self, params, X, Y, weights=None, backprop="manual", *, key=None,
                       train=False):  # fmt: skip
        """``jaxnet.network.loss_and_grads`` of this network."""
        return loss_and_grads(self, params, X, Y, weights, backprop, key=key, train=train)

    def with_stats(self, params, stats):
        """``jaxnet.network.with_stats`` of this network."""
        return with_stats(self, params, stats)

    def predictions(self, A_L):
        """``jaxnet.network.predictions`` of this network."""
        return predictions(self, A_L)

    def step_mask(self, X):
        """``(m, T)`` booleans, the output's real steps (True) for inputs ``X``, or None when
        the output is not a sequence or no layer masks steps (``Embedding(mask_zero=True)``).

        The mask is made from the inputs alone (an Embedding's ids), so it costs no forward
        pass: the training loop's per-step accuracy reads it (a :class:`jaxnet.Model` has
        none).

        Example:
          >>> import jax.numpy as jnp
          >>> from jaxnet.layers import LSTM, Dense, Embedding
          >>> net = Sequential([Embedding(5, 3, mask_zero=True), LSTM(4, return_sequences=True),
          ...                   Dense(5, "softmax")], input_shape=(3,))
          >>> net.output_shape, net.step_mask(jnp.array([[2.0, 1.0, 0.0]])).tolist()
          ((3, 5), [[True, True, False]])
        """
        return _masks(self, X)[-1]

    @property
    def masks_steps(self) -> bool:
        """Whether the output is a sequence with masked steps (:meth:`step_mask` gives a mask)."""
        X = jax.ShapeDtypeStruct((1, *self.input_shape), jnp.float32)
        return jax.eval_shape(self.step_mask, X) is not None

    # --- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """A JSON-friendly description; ``Network.from_dict`` rebuilds the same value.

        Dense networks without L2 keep the course's form ``{"sizes", "activations", "loss"}``;
        others give ``{"input_shape", "layers": [layer.to_dict(), ...], "loss"}`` (a Dense
        with ``l2`` records it in its layer dict).
        """
        if self._plain_dense:
            return {
                "sizes": list(self.sizes),
                "activations": list(self.activations),
                "loss": self.loss,
            }
        return {
            "input_shape": list(self.input_shape),
            "layers": [layer.to_dict() for layer in self.layers],
            "loss": self.loss,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Network:
        """The network ``d`` (from :meth:`to_dict`) describes; layers are rebuilt through the
        registry of kinds (:func:`jaxnet.layers.from_dict`), nothing is imported by name."""
        if not isinstance(d, dict) or "loss" not in d or not ({"sizes", "layers"} & set(d)):
            raise ValueError(
                "a network dict must hold 'sizes', 'activations' and 'loss' (dense) or "
                f"'input_shape', 'layers' and 'loss', got {d!r:.200}"
            )
        if "layers" in d:
            if not isinstance(d["layers"], list) or "input_shape" not in d:
                raise ValueError(
                    f"a network dict needs a list 'layers' and an 'input_shape', got {d!r:.200}"
                )
            layers = tuple(_base.from_dict(layer) for layer in d["layers"])
            return cls.from_layers(layers, d["input_shape"], d["loss"])
        if "activations" not in d:
            raise ValueError(f"a dense network dict needs 'activations', got {d!r:.200}")
        return cls(d["sizes"], activations=d["activations"], loss=d["loss"])


def Sequential(layers, input_shape, *, loss: str | None = None, l2: float | None = None) -> Network:  # noqa: N802 - Keras's name
    """A :class:`Network` of ``layers`` applied in order to inputs of ``input_shape`` (per example).

    Args:
      layers: the layers (:mod:`jaxnet.layers`); the last one is the output layer and
        has an activation.
      input_shape: one example's shape, e.g. ``(784,)`` or ``(64, 64, 3)`` (NHWC images).
      loss: the cost; by default it follows the output activation, as for :class:`Network`.
      l2: if given, λ of the L2 penalty on every weighted layer (Dense, Conv2D), replacing
        their own ``l2``; None keeps each layer's.

    Returns:
      The :class:`Network`; ``X`` of shape ``(m, *input_shape)`` gives ``A[L] (m, n[L])``, or
      ``(m, T, n[L])`` when the output layer runs at every step of a sequence (a ``Dense``
      after ``return_sequences=True``: labels one per step, module docstring).

    Raises:
      ValueError: a layer that does not fit its input (``layers[l]`` named: a kernel or pool
        window larger than the padded input, a Dense after images without a Flatten, ...).

    Example:
      >>> from jaxnet.layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D
      >>> net = Sequential([Dense(64, "relu"), Dense(10, "softmax")], input_shape=(784,))
      >>> net == Network((784, 64, 10), hidden_activation="relu", output_activation="softmax")
      True
      >>> cnn = Sequential([Conv2D(8, 3, activation="relu"), BatchNorm(), MaxPool2D(2), Flatten(),
      ...                   Dropout(0.5), Dense(10, "softmax")], input_shape=(28, 28, 1), l2=1e-3)
      >>> cnn.output_shapes[:3]
      ((26, 26, 8), (26, 26, 8), (13, 13, 8))
      >>> cnn.l2
      (0.001, 0.0, 0.0, 0.0, 0.0, 0.001)
    """
    return Network.from_layers(layers, input_shape, loss, l2)


def _check_sizes(sizes) -> tuple[int, ...]:
    """``(n_x, ..., n_L)``: Python ints (hashable, JSON-friendly), NumPy ones accepted."""
    sizes = validation.check_ints(sizes, "sizes", 1, min_length=2)
    limits.at_most(layers=len(sizes) - 1, input_size=sizes[0])
    return sizes


def _check_activations(activations, hidden_activation, output_activation, L: int) -> tuple:
    """One activation per layer: ``activations``, or ``hidden_activation`` for all but the last
    and ``output_activation``."""
    if activations is None:
        hidden = validation.check_activation(hidden_activation, "hidden_activation")
        output = validation.check_activation(output_activation, "output_activation")
        return (hidden,) * (L - 1) + (output,)
    if isinstance(activations, str | bytes) or not isinstance(activations, Sequence):
        raise TypeError(
            f"activations must be a sequence of activations, one per layer ({L}), got "
            f"activations={activations!r:.80} of type {type(activations).__name__}"
        )
    if len(activations) != L:
        raise ValueError(
            f"activations must give one activation per layer ({L}), got {len(activations)}: "
            f"activations={activations!r:.80}"
        )
    return tuple(
        validation.check_activation(a, f"activations[{l}]") for l, a in enumerate(activations)
    )


def _check_layers(layers) -> tuple:
    if isinstance(layers, str | bytes | dict) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a sequence of layers, got {type(layers).__name__}")
    if not layers:
        raise ValueError("layers must hold at least one layer (the output layer), got none")
    limits.at_most(layers=len(layers))
    return tuple(_base.check_layer(layer, f"layers[{l}]") for l, layer in enumerate(layers))


def _check_input_shape(input_shape) -> tuple[int, ...]:
    """One example's shape, e.g. ``(784,)`` or ``(64, 64, 3)``; an int ``n`` is ``(n,)``."""
    if isinstance(input_shape, numbers.Integral) and not isinstance(input_shape, bool | np.bool_):
        input_shape = (input_shape,)
    shape = validation.check_ints(input_shape, "input_shape", 1, min_length=1)
    limits.at_most(input_size=math.prod(shape))
    return shape


def _check_output(n_out: int, output: str, loss: str) -> None:
    if output == "softmax" and n_out < 2:
        raise ValueError(f"a softmax output needs at least 2 units, got sizes[-1] = {n_out}")
    if loss == "binary_cross_entropy" and output != "sigmoid":
        raise ValueError(f"binary_cross_entropy needs a sigmoid output, got output {output!r}")
    if loss == "categorical_cross_entropy" and output != "softmax":
        raise ValueError(f"categorical_cross_entropy needs a softmax output, got output {output!r}")


def _with_l2(layers: tuple, l2: float) -> tuple:
    """``layers`` with ``l2`` set on every layer that has the field, inside blocks too."""

    def set_l2(layer):
        if _has_field(layer, "l2"):
            return dataclasses.replace(layer, l2=l2)
        return _base.map_sublayers(layer, set_l2)

    return tuple(set_l2(layer) for layer in layers)


def _has_field(layer, name: str) -> bool:
    """Whether ``layer`` has the field ``name`` (``dataclasses.replace`` can set it)."""
    return any(f.name == name for f in dataclasses.fields(layer))


def without_l2(net: Network) -> Network:
    """``net`` with every layer's ``l2`` set to 0: the same layers and params, the data cost only.

    Args:
      net: the :class:`Network`.

    Returns:
      A :class:`Network` (``net`` itself when no layer has L2).

    Example:
      >>> without_l2(Network((2, 3, 1), l2=0.5)) == Network((2, 3, 1))
      True
    """
    if not any(net.l2):
        return net
    return Network.from_layers(_with_l2(net.layers, 0.0), net.input_shape, net.loss)


# --- init ------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("net", "scheme", "scale", "dtype"))  # one compile
def init(key, net: Network, scheme="he", *, scale=0.01, dtype=jnp.float32) -> tuple[dict, ...]:
    """Params for ``net``: each layer's own ``init`` (dense: ``W[l]`` by ``scheme``, ``b[l] = 0``).

    The layers' random values are slices of ONE draw of standard normals (from ``key``)
    and ONE of standard uniforms (from ``fold_in(key, 1)``), taken in layer order
    (:class:`jaxnet.initializers.Draws`): at most two random-number kernels to compile
    whatever the depth. The normal schemes' numbers are those of the normal draw alone.
    """
    shapes = net.input_shapes
    counts = [
        _values_drawn(l, layer, shape, scheme, scale, dtype)
        for l, (layer, shape) in enumerate(zip(net.layers, shapes))
    ]
    ends = {kind: np.cumsum([0, *(c[kind] for c in counts)]) for kind in ("normal", "uniform")}
    total = {kind: int(e[-1]) for kind, e in ends.items()}
    normals = jax.random.normal(key, (total["normal"],), dtype) if total["normal"] else None
    uniforms = (
        jax.random.uniform(jax.random.fold_in(key, 1), (total["uniform"],), dtype)
        if total["uniform"]
        else None
    )

    def draws(l: int) -> initializers.Draws:
        n, u = ends["normal"][l : l + 2], ends["uniform"][l : l + 2]
        return initializers.Draws(
            None if normals is None else normals[n[0] : n[1]],
            None if uniforms is None else uniforms[u[0] : u[1]],
        )

    return tuple(
        layer.init(draws(l), shape, scheme, scale=scale, dtype=dtype)
        for l, (layer, shape) in enumerate(zip(net.layers, shapes))
    )


def _values_drawn(l: int, layer, shape, scheme, scale, dtype) -> dict[str, int]:
    """How many normals and uniforms ``layer.init`` draws: counted abstractly (``jax.eval_shape``)."""
    counter = initializers.Draws()
    init = functools.partial(layer.init, counter, shape, scheme, scale=scale, dtype=dtype)
    try:
        jax.eval_shape(init)
    except TypeError as e:
        raise TypeError(
            f"layers[{l}] ({layer!r}): its init must draw through jaxnet.initializers "
            f"(which take a key or the pre-drawn values jn.init passes): {e}"
        ) from None
    return dict(counter.used)


# --- forward and cost --------------------------------------------------------------------


def _running_layers(net: Network) -> tuple:
    """The layers as the core runs them: the output layer linear (its activation is the network's)."""
    *hidden, output = net.layers
    return (*hidden, dataclasses.replace(output, activation="linear"))


def _layer_key(key, l: int, layer):
    return (
        jax.random.fold_in(key, l)
        if key is not None and getattr(layer, "needs_key", False)
        else None
    )


def _check_key(net: Network, key, train: bool) -> None:
    if train and key is None and net.needs_key:
        raise ValueError(
            "key is needed: a training-mode call of a network whose layers draw randomness "
            "(dropout) takes key=jax.random.key(...)"
        )


def _masks(net: Network, X) -> tuple:
    """The mask ``(m, T)`` (or None) of every layer's input, then of the output: the one rule.

    A layer's :meth:`~jaxnet.layers.Layer.output_mask` gives its output's mask from its
    input's; only a sequence output ``(T, n)`` carries one. The mask is made from the ids
    (``Embedding(mask_zero=True)``, the first layer, reads ``X``): a later layer's
    ``output_mask`` receives ``A_prev=None`` and keeps, replaces or ends the mask it gets.
    """
    masks, mask = [None], None
    for l, (layer, shape) in enumerate(zip(net.layers, net.output_shapes)):
        mask = layer.output_mask(X if l == 0 else None, mask) if len(shape) == 2 else None
        masks.append(mask)
    return tuple(masks)


def _forward(net: Network, params, X, key, train: bool, weights):
    """``(A[L], Z[L], caches, mask)``: the layers chained, the output activation applied to
    ``Z[L]``, and the mask ``(m, T)`` of the output's real steps (None: no masked steps)."""
    _check_key(net, key, train)
    A, caches, masks = X, [], _masks(net, X)
    for l, (layer, p) in enumerate(zip(_running_layers(net), params, strict=True)):
        masked = {"mask": masks[l]} if getattr(layer, "takes_mask", False) else {}
        layer_key = _layer_key(key, l, layer)
        A, cache = layer.forward(p, A, key=layer_key, train=train, weights=weights, **masked)
        caches.append(cache)
    return net.output_activation.fn(A), A, tuple(caches), masks[-1]


def forward_with_caches(net: Network, params, X, *, key=None, train=False, weights=None):
    """``A[L] (m, n[L])`` and one cache per layer; the output layer's is ``(inner, Z[L])``
    (dense: ``((A_prev, W, b), Z)``, the course's ``linear_activation_forward`` cache)."""
    A_L, _, caches, _ = _forward(net, params, X, key, train, weights)
    return A_L, caches


def forward(net: Network, params, X, *, key=None, train=False):
    """The output activations ``A[L] (m, n[L])`` (``(m, T, n[L])`` for a sequence output)."""
    return _forward(net, params, X, key, train, None)[0]


def cost_from_output(net: Network, A_L, Z_L, Y, weights=None, mask=None):
    """The data cost from the output layer (no L2 term): from the logits ``Z_L`` when the
    loss fuses with the output; a sequence output's per-step losses averaged over each
    example's real steps (``mask (m, T)``, or None: all)."""
    loss = net.loss_function
    per_step = loss.per_example_from_logits(Z_L, Y) if net.fused else loss.per_example(A_L, Y)
    return _losses.reduce_mean(_losses.mean_over_steps(per_step, mask), weights)


def example_count(X, weights=None):
    """``m`` of the means and of the L2 terms: ``X.shape[0]``, or ``sum(weights)`` (padding rows weigh 0)."""
    return X.shape[0] if weights is None else weights.sum()


def penalty(net: Network, params, m):
    """The L2 term of J: ``sum_l (λ[l] / 2m) ||W[l]||^2`` over the layers with ``l2 = λ[l] > 0``.

    Args:
      net: the :class:`Network`.
      params: its params, one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      m: the (weighted) example count: ``X.shape[0]``, or ``sum(weights)``.

    Returns:
      A scalar array (shape ``()``), or the float 0.0 when no layer has L2.

    Example:
      >>> import jax.numpy as jnp
      >>> net = Network((2, 3, 1), l2=0.5)
      >>> params = ({"W": jnp.ones((3, 2)), "b": jnp.zeros(3)}, {"W": jnp.ones((1, 3)), "b": jnp.zeros(1)})
      >>> round(float(penalty(net, params, 10)), 6)  # 0.5 / (2 * 10) * (6 + 3)
      0.225
    """
    coefficients = jax.tree.leaves(net.l2_coefficients())
    leaves = jax.tree.leaves(tuple(params))
    terms = [c * jnp.sum(jnp.square(W)) for c, W in zip(coefficients, leaves, strict=True) if c]
    if not terms:
        return 0.0
    return functools.reduce(jnp.add, terms) / (2 * m)


def l2_gradients(net: Network, params, grads, m):
    """``grads`` with ``(λ[l] / m) W[l]`` added to every decayed ``dW[l]``: the gradient of :func:`penalty`.

    A leading batch axis on ``grads`` (per-example gradients) broadcasts explicitly.

    Args:
      net: the :class:`Network`.
      params: its params, one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      grads: the params' tree of gradients of the data cost, or per-example gradients with
        a leading axis ``m`` on every leaf.
      m: the (weighted) example count.

    Returns:
      ``grads`` with the L2 terms added (the same tree and shapes; ``grads`` itself when no
      layer has L2).

    Example:
      >>> import jax.numpy as jnp
      >>> net = Network((2, 1), l2=0.5)
      >>> params = ({"W": jnp.ones((1, 2)), "b": jnp.zeros(1)},)
      >>> zeros = ({"W": jnp.zeros((1, 2)), "b": jnp.zeros(1)},)
      >>> dW = l2_gradients(net, params, zeros, 10)[0]["W"]
      >>> dW.shape, round(float(dW[0, 0]), 4)  # (0.5 / 10) W
      ((1, 2), 0.05)
    """
    if not any(net.l2):
        return grads

    def decayed(c, W, g):
        if not c:
            return g
        return g + (c / m) * W.reshape((1,) * (g.ndim - W.ndim) + W.shape)

    return jax.tree.map(decayed, net.l2_coefficients(), tuple(params), tuple(grads))


def cost(net: Network, params, X, Y, weights=None, *, key=None, train=False):
    """The cost J (a scalar): the (weighted) mean over examples of the loss, plus the L2
    term ``(λ / 2m) sum ||W||^2`` of the layers that have one."""
    A_L, Z_L, _, mask = _forward(net, params, X, key, train, weights)
    data = cost_from_output(net, A_L, Z_L, Y, weights, mask)
    return _regularised(net, params, data, example_count(X, weights))


def _regularised(net: Network, params, data_cost, m):
    """``data_cost`` plus :func:`penalty` (the same value, untouched, when no layer has L2)."""
    return data_cost + penalty(net, params, m) if any(net.l2) else data_cost


def evaluate(net: Network, params, X, Y, weights=None) -> dict:
    """``{"loss": J, "accuracy": ...}`` (``"mse"`` for regression) in inference mode from one
    forward pass: the one evaluate core, returning what ``jn.evaluate`` returns (as arrays).

    J is :func:`cost`'s (the L2 term included, with this set's ``m``), as Keras's evaluate
    includes its regularisation losses.

    Args:
      net: the :class:`Network`.
      params: its params, one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      X: the inputs ``(m, *net.input_shape)`` in the params' dtype.
      Y: the labels ``(m, n[L])`` in the params' dtype (the core does no validation).
      weights: ``(m,)`` example weights (0 for padding rows), or None for the plain mean.

    Returns:
      A dict of two scalar arrays: ``"loss"`` (J) and the metric, ``"accuracy"``, or Keras's
      ``"mse"`` for regression (:func:`jaxnet.metrics.metric`; its key: ``metric_name``).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import jaxnet as jn
      >>> from jaxnet import network
      >>> net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> X, Y = jnp.ones((4, 2)), jnp.array([[0.0], [1.0], [1.0], [0.0]])
      >>> result = network.evaluate(net, params, X, Y)
      >>> sorted(result), result["loss"].shape
      (['accuracy', 'loss'], ())
      >>> float(result["accuracy"])  # equal inputs: one prediction, right on half the labels
      0.5
    """
    A_L, Z_L, _, mask = _forward(net, params, X, None, False, weights)
    data = cost_from_output(net, A_L, Z_L, Y, weights, mask)
    J = _regularised(net, params, data, example_count(X, weights))
    metric = metrics.metric(A_L, Y, net.task, weights, mask)
    return {"loss": J, metrics.metric_name(net.task): metric}


# --- backprop ----------------------------------------------------------------------------


def output_delta(net: Network, Z_L, Y, weights=None, mask=None):
    """``dZ[L] (m, n[L])``: ``A[L] - Y`` when fused, else ``g'(Z[L])`` applied to the loss's ``dA[L]``.

    With ``weights``, row i is scaled by ``m w_i / sum(w)``, so that each layer's ``1/m``
    (``dW = dZ^T A_prev / m``) gives the weighted mean. A sequence output ``(m, T, n[L])``
    scales step t of example i by its weight in the example's mean, ``s_it``
    (:func:`jaxnet.losses.step_weights` of ``mask``).
    """
    act = net.output_activation
    A_L = act.fn(Z_L)
    dZ = A_L - Y if net.fused else act.vjp(Z_L, net.loss_function.gradient(A_L, Y))
    if dZ.ndim == 3:
        dZ = dZ * _losses.step_weights(mask, dZ.shape[:2], dZ.dtype)[..., None]
    if weights is not None:
        scale = weights * (weights.shape[0] / weights.sum())
        dZ = dZ * scale.reshape((-1,) + (1,) * (dZ.ndim - 1))
    return dZ


def _backward(net: Network, params, caches, dZ_L) -> tuple[dict, ...]:
    dA, grads = dZ_L, []
    for layer, p, cache in reversed(tuple(zip(_running_layers(net), params, caches, strict=True))):
        dA, g = layer.backward(p, cache, dA)
        grads.append(g)
    return tuple(reversed(grads))


def backward(net: Network, params, caches, Y, weights=None, mask=None) -> tuple[dict, ...]:
    """Hand-derived backprop: the gradients of J (L2 terms included), with the params' tree.

    ``mask``: a sequence output's real steps ``(m, T)`` (:meth:`Network.step_mask`), or None.
    The output layer's cached ``Z[L]`` is read as ``(m, *net.output_shape)`` (a Dense per
    step caches its ``m T`` rows).
    """
    Z_L = caches[-1][1].reshape((-1, *net.output_shape))
    grads = _backward(net, params, caches, output_delta(net, Z_L, Y, weights, mask))
    return l2_gradients(net, params, grads, example_count(Y, weights))


def _stats(net: Network, caches) -> tuple[dict, ...]:
    return tuple(
        layer.stats(cache) if hasattr(layer, "stats") else {}
        for layer, cache in zip(net.layers, caches)
    )


def _stop_non_trainable(net: Network, params):
    """The non-trainable leaves behind ``stop_gradient``: autodiff gives them zeros, as backward does."""
    return jax.tree.map(
        lambda t, v: v if t else jax.lax.stop_gradient(v), net.trainable(), tuple(params)
    )


def loss_and_grads(
    net: Network, params, X, Y, weights=None, backprop="manual", *, key=None, train=False
):
    """``(J, A[L], grads, stats)`` in one pass, by hand-derived backprop or by ``jax.grad``.

    ``grads`` has the params' tree (zeros for the non-trainable leaves); ``stats`` holds
    one dict per layer with the new values of its non-trainable leaves (``{}`` for most
    layers), for :func:`with_stats`.

    Args:
      net: the :class:`Network`.
      params: its params, one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      X: the inputs ``(m, *net.input_shape)`` in the params' dtype.
      Y: the labels ``(m, n[L])`` in the params' dtype (the core does no validation).
      weights: ``(m,)`` example weights (0 for padding rows), or None for the plain mean.
      backprop: ``"manual"`` (hand-derived backprop) or ``"autodiff"`` (``jax.grad``).
      key: a ``jax.random`` key for the layers that draw in training (dropout), or None.
      train: training behaviour (dropout on, batch statistics; training passes True); the
        default, as everywhere in jaxnet, is inference (dropout off, moving averages).

    Returns:
      ``(J, A[L], grads, stats)``: the scalar J, ``A[L] (m, n[L])``, the params' tree of
      gradients, and a tuple of one dict per layer.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import jaxnet as jn
      >>> from jaxnet import network
      >>> net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> X, Y = jnp.ones((4, 2)), jnp.array([[0.0], [1.0], [1.0], [0.0]])
      >>> J, A_L, grads, stats = network.loss_and_grads(net, params, X, Y)
      >>> J.shape, A_L.shape, grads[0]["W"].shape, stats
      ((), (4, 1), (3, 2), ({}, {}))
    """
    m = example_count(X, weights)
    if backprop == "manual":
        A_L, Z_L, caches, mask = _forward(net, params, X, key, train, weights)
        dZ_L = output_delta(net, Z_L, Y, weights, mask)
        J = _regularised(net, params, cost_from_output(net, A_L, Z_L, Y, weights, mask), m)
        grads = l2_gradients(net, params, _backward(net, params, caches, dZ_L), m)
        return J, A_L, grads, _stats(net, caches)
    if backprop != "autodiff":
        raise ValueError(f"backprop must be one of {BACKPROP}, got {backprop!r}")

    def J(p):
        A_L, Z_L, caches, mask = _forward(net, _stop_non_trainable(net, p), X, key, train, weights)
        data = cost_from_output(net, A_L, Z_L, Y, weights, mask)
        return _regularised(net, p, data, m), (A_L, _stats(net, caches))

    (loss, (A_L, stats)), grads = jax.value_and_grad(J, has_aux=True)(params)
    return loss, A_L, grads, stats


def grads(net: Network, params, X, Y, weights=None, backprop="manual", *, key=None, train=False):
    """dJ/dparams by ``backprop`` ``"manual"`` (hand backprop) or ``"autodiff"`` (``jax.grad``).

    Inference mode by default, like :func:`cost`: the gradient of ``cost(..., train=train)``.
    """
    return loss_and_grads(net, params, X, Y, weights, backprop, key=key, train=train)[2]


def with_stats(net: Network, params, stats):
    """``params`` with each layer's non-trainable leaves replaced by its ``stats`` dict.

    Training applies the optimiser to every leaf, then this: whatever the optimiser
    proposed for a non-trainable leaf is discarded.

    Args:
      net: the :class:`Network` (unused; the signature of the contract).
      params: its params, one dict per layer.
      stats: one dict per layer (from :func:`loss_and_grads`), ``{}`` for layers without state.

    Returns:
      The params' tree, each leaf the shape it had.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import jaxnet as jn
      >>> from jaxnet import network
      >>> net = jn.Network((2, 3, 1), batch_norm=True)
      >>> params = jn.init(jax.random.key(0), net)
      >>> X, Y = jnp.array([[1.0, 2.0], [3.0, 0.0]]), jnp.array([[0.0], [1.0]])
      >>> J, A_L, grads, stats = network.loss_and_grads(net, params, X, Y, train=True)
      >>> new = network.with_stats(net, params, stats)
      >>> sorted(stats[1]), bool((new[1]["moving_mean"] == stats[1]["moving_mean"]).all())
      (['moving_mean', 'moving_var'], True)
    """
    del net
    return tuple(param_trees.merge_stats(p, s) for p, s in zip(params, stats, strict=True))


def predictions(net: Network, A_L):
    """Labels from outputs: ``A > 0.5`` (binary (m,), multilabel (m, n_L)), argmax (multiclass (m,)),
    or the values themselves (regression (m, n_L)); a sequence output gives them per step
    (``(m, T)`` labels, ``(m, T, n_L)`` otherwise)."""
    if net.task == "multiclass":
        return A_L.argmax(axis=-1).astype(jnp.int32)
    if net.task == "binary":
        return (A_L[..., 0] > 0.5).astype(jnp.int32)
    if net.task == "multilabel":
        return (A_L > 0.5).astype(jnp.int32)
    return A_L
