"""The recurrent layers SimpleRNN, LSTM and GRU: the course 5 building blocks as layers of a network.

Each layer runs its cell over a sequence ``A_prev (m, T, n_x)`` (batch-first) with a
``lax.scan`` from a zero initial state (or ``initial_state``), and returns the last state
``(m, units)`` or, with ``return_sequences=True``, every state ``(m, T, units)``. Its params
are the course's cell weights without the softmax head (a Dense layer after it plays that
part): SimpleRNN ``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``ba (n_a,)``; LSTM ``Wf, Wi, Wc, Wo
(n_a, n_a + n_x)`` and ``bf, bi, bc, bo (n_a,)``; GRU ``Wu, Wr, Wc (n_a, n_a + n_x)`` and
``bu, br, bc (n_a,)`` (``n_a = units``).

``backward`` is backpropagation through time by hand: the reverse ``lax.scan`` of the cell
backwards in :mod:`jaxnet.layers.rnn`, :mod:`jaxnet.layers.lstm` and :mod:`jaxnet.layers.gru`
(not ``jax.vjp``). Those return sums over the examples (the vector-Jacobian product); the
layer convention (:mod:`jaxnet.layers.base`) wants the gradient of the mean cost, so
``dparams = sums / m``, while ``dA_prev = dx`` stays per example. For
``return_sequences=False`` the upstream gradient enters at the last step only:
``da<T> = dA``, ``da<t> = 0`` before.

``return_state=True`` (Keras's meaning) makes the layer return its final state(s) as well:
``forward`` gives ``((A, a<T>), cache)`` (an LSTM: ``((A, a<T>, c<T>), cache)``, each state
``(m, units)``, the state after the last real step), ``output_shape`` one shape per output,
and ``backward`` takes one cotangent per output, ``(dA, da<T>)`` (``(dA, da<T>, dc<T>)``;
None for an output that is unused): ``da<T>`` joins the gradient of the last step's
``a<T>``, ``dc<T>`` enters the LSTM's cell-state path at the last step (the building
blocks' ``dc``). A layer of several outputs is for code that calls its ``forward`` and
``backward`` (an encoder whose final state starts a decoder, in a :class:`jaxnet.Model`'s
``apply`` or your own loop); a ``Sequential``, which chains one output to the next layer's
input, and ``Bidirectional`` refuse it.

Masking: with ``mask (m, T)`` (True = a real step; the network passes the one an
``Embedding(mask_zero=True)`` makes) a padded step keeps the state, so the last state is
that of the real steps, wherever the padding lies; with ``return_sequences=True`` the
padded steps output zeros and get no gradient. A sequence padded to any length therefore
gives the outputs and gradients of the sequence alone.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxnet import initializers, limits
from jaxnet.layers.base import Layer, field
from jaxnet.layers.gru import gru_backward, gru_forward
from jaxnet.layers.lstm import lstm_backward, lstm_forward
from jaxnet.layers.rnn import rnn_backward, rnn_forward
from jaxnet.validation import check_bool, check_int

__all__ = ["GRU", "LSTM", "SimpleRNN"]


def sequence_shape(layer, input_shape) -> tuple[int, int]:
    """``(T, n_x)`` from a per-example ``input_shape``; a ``ValueError`` naming ``layer`` otherwise."""
    shape = tuple(input_shape) if not isinstance(input_shape, int) else (input_shape,)
    if len(shape) != 2:
        hint = (
            ": the layer before it gives one vector per example; give that recurrent layer "
            "return_sequences=True"
            if len(shape) == 1
            else ""
        )
        raise ValueError(
            f"{type(layer).__name__} expects a sequence (T, n_x) per example (inputs (m, T, "
            f"n_x)), got input shape {shape}{hint}"
        )
    return shape


def check_sequence(A_prev, name: str = "A_prev") -> tuple[int, int, int]:
    """``(m, T, n_x)`` of a batch of sequences; a ``ValueError`` for another rank."""
    if A_prev.ndim != 3:
        raise ValueError(
            f"{name} must be a batch of sequences (m, T, n_x), got shape {A_prev.shape}"
        )
    return A_prev.shape


def weights_drawn_biases_zero(shapes: dict, key, scheme, scale, dtype) -> dict:
    """Params of ``shapes``: each weight (2-D or more) drawn by ``scheme`` with the fans of its own
    shape from ``fold_in(key, i)`` (``i`` its place in ``shapes``), each bias (1-D) zero."""
    draw = initializers.get(scheme, scale=scale)
    params = {}
    for i, (name, shape) in enumerate(shapes.items()):
        if len(shape) == 1:
            params[name] = jnp.zeros(shape, dtype)
        else:
            subkey = key if isinstance(key, initializers.Draws) else jax.random.fold_in(key, i)
            params[name] = draw(subkey, shape, dtype)
    return params


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share: the shapes, init, masking and the layer convention.

    A subclass names its gate weights (``_gates``: ``{name: rows}``, each ``(n_a, n_a + n_x)``
    unless it overrides :meth:`param_shapes`), its states (``_states``) and its blocks.
    """

    takes_mask = True
    _states = ("a0",)
    _head = "Wy"  # the name of the building blocks' softmax head, unused here
    units: int = field(
        check=functools.partial(check_int, minimum=1, maximum=limits.MAXIMA["units"])
    )
    return_sequences: bool = field(default=False, check=check_bool, omit_default=True)
    return_state: bool = field(default=False, check=check_bool, omit_default=True)

    def output_shape(self, input_shape) -> tuple:
        """``(units,)``, or ``(T, units)`` with ``return_sequences``, for ``(T, n_x)`` per example;
        with ``return_state``, a tuple of the shapes of every output: that one, then
        ``(units,)`` per state (module docstring)."""
        T, _ = sequence_shape(self, input_shape)
        shape = (T, self.units) if self.return_sequences else (self.units,)
        if not self.return_state:
            return shape
        return (shape, *((self.units,),) * len(self._states))

    def param_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """The gate weights ``(n_a, n_a + n_x)`` and biases ``(n_a,)``."""
        _, n_x = sequence_shape(self, input_shape)
        n_a = self.units
        weights = {f"W{g}": (n_a, n_a + n_x) for g in self._gates}
        return weights | {f"b{g}": (n_a,) for g in self._gates}

    def init(self, key, input_shape, scheme="he", *, scale=0.01, dtype=jnp.float32) -> dict:
        """Every weight drawn by ``scheme`` (fans of its own shape), in the order of
        :meth:`param_shapes`; the biases zero (the course's)."""
        return weights_drawn_biases_zero(self.param_shapes(input_shape), key, scheme, scale, dtype)

    def _initial(self, initial_state, m: int, dtype) -> tuple[jax.Array, ...]:
        """The initial states ``(m, units)`` each: zeros, or ``initial_state`` checked."""
        n = len(self._states)
        if initial_state is None:
            return (jnp.zeros((m, self.units), dtype),) * n
        states = (initial_state,) if n == 1 else initial_state
        if not isinstance(states, tuple | list) or len(states) != n:
            raise TypeError(
                f"initial_state of {type(self).__name__} must be {n} arrays "
                f"({', '.join(self._states)}), each (m, units), got {type(initial_state).__name__}"
            )
        for name, s in zip(self._states, states):
            if getattr(s, "shape", None) != (m, self.units):
                raise ValueError(
                    f"initial_state ({name}) must have shape (m, units) = ({m}, {self.units}), "
                    f"got {getattr(s, 'shape', type(s).__name__)}"
                )
        return tuple(states)

    def _with_head(self, params: dict) -> dict:
        """``params`` with a one-unit zero head: the building blocks' signature (unused outputs,
        pruned under ``jit``)."""
        dtype = params[f"b{self._gates[0]}"].dtype
        return {
            **params,
            self._head: jnp.zeros((1, self.units), dtype),
            "by": jnp.zeros((1,), dtype),
        }

    def forward(
        self, params: dict, A_prev, *, key=None, train=False, weights=None, mask=None,
        initial_state=None,
    ):  # fmt: skip
        """``(A, cache)``: ``A (m, units)``, the last state, or ``(m, T, units)`` with
        ``return_sequences`` (zeros at padded steps); with ``return_state``, ``((A, *states),
        cache)``, the final states ``a<T>`` (an LSTM: ``a<T>, c<T>``), each ``(m, units)``.

        Args:
          params: the gate weights and biases (:meth:`param_shapes`).
          A_prev: ``(m, T, n_x)``.
          key, train, weights: unused (the protocol's).
          mask: ``(m, T)`` booleans (True = a real step) or None.
          initial_state: ``(m, units)`` (an LSTM: the pair ``(a0, c0)``), or None for zeros.
        """
        del key, train, weights
        m, _, _ = check_sequence(A_prev)
        states = self._initial(initial_state, m, A_prev.dtype)
        a, caches = self._run(self._with_head(params), A_prev, states, mask)
        A = _zero_padded(a, caches.mask) if self.return_sequences else a[:, -1]
        if self.return_state:
            return (A, *self._final_states(a, caches)), caches
        return A, caches

    def _final_states(self, a, caches) -> tuple[jax.Array, ...]:
        """The states after the last real step: ``(a<T>,)`` (a padded step keeps the state)."""
        del caches
        return (a[:, -1],)

    def backward(self, params: dict, cache, dA):
        """``(dA_prev (m, T, n_x), dparams)``: BPTT of the blocks, their sums divided by ``m``;
        with ``return_state``, ``dA`` is one cotangent per output (None: zeros)."""
        T, m = cache.x.shape[:2]
        dA, *d_states = dA if self.return_state else (dA,)
        dtype = next(g.dtype for g in (dA, *d_states) if g is not None)
        da = jnp.zeros((m, T, self.units), dtype)
        if dA is not None:
            da = _zero_padded(dA, cache.mask) if self.return_sequences else da.at[:, -1].set(dA)
        if d_states and d_states[0] is not None:  # a<T> is the last step's a
            da = da.at[:, -1].add(d_states[0])
        grads = self._bptt(da, cache, *d_states[1:])
        return grads["dx"], {name: grads[f"d{name}"] / m for name in params}


def _zero_padded(v, tmask):
    """``v (m, T, n)`` with the padded steps zero (``tmask`` time-major ``(T, m, 1)`` or None)."""
    if tmask is None:
        return v
    return jnp.where(tmask.transpose(1, 0, 2), v, jnp.zeros((), v.dtype))


class SimpleRNN(_Recurrent):
    """The course's basic RNN cell over a sequence: ``a<t> = tanh(Waa a<t-1> + Wax x<t> + ba)``.

    Params ``Wax (units, n_x)``, ``Waa (units, units)``, ``ba (units,)``; input ``(m, T, n_x)``,
    output ``(m, units)`` (the last state) or ``(m, T, units)`` with ``return_sequences``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import SimpleRNN
      >>> layer = SimpleRNN(5, return_sequences=True)
      >>> layer.param_shapes((7, 3))
      {'Wax': (5, 3), 'Waa': (5, 5), 'ba': (5,)}
      >>> params = layer.init(jax.random.key(0), (7, 3))
      >>> A, cache = layer.forward(params, jnp.ones((2, 7, 3)))
      >>> dA_prev, grads = layer.backward(params, cache, jnp.ones_like(A))
      >>> A.shape, dA_prev.shape, grads["Waa"].shape
      ((2, 7, 5), (2, 7, 3), (5, 5))
    """

    kind = "simple_rnn"
    _gates = ("a",)
    _head = "Wya"

    def param_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``{"Wax": (n_a, n_x), "Waa": (n_a, n_a), "ba": (n_a,)}``."""
        _, n_x = sequence_shape(self, input_shape)
        n_a = self.units
        return {"Wax": (n_a, n_x), "Waa": (n_a, n_a), "ba": (n_a,)}

    def _run(self, params, x, states, mask):
        a, _, caches = rnn_forward(x, states[0], params, mask)
        return a, caches

    def _bptt(self, da, caches):
        return rnn_backward(da, caches)


class LSTM(_Recurrent):
    """The course's LSTM over a sequence: gates ``Gf, Gi, Go``, candidate ``cc``, ``c<t> = Gf c<t-1> + Gi cc``,
    ``a<t> = Go tanh(c<t>)``, every gate on ``[a<t-1>, x<t>]``.

    Params ``Wf, Wi, Wc, Wo (units, units + n_x)``, ``bf, bi, bc, bo (units,)``; input
    ``(m, T, n_x)``, output ``(m, units)`` or ``(m, T, units)`` with ``return_sequences``; an
    ``initial_state`` is the pair ``(a0, c0)``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import LSTM
      >>> layer = LSTM(4)
      >>> sorted(layer.param_shapes((6, 3)).items())[:2]
      [('Wc', (4, 7)), ('Wf', (4, 7))]
      >>> params = layer.init(jax.random.key(0), (6, 3))
      >>> A, cache = layer.forward(params, jnp.ones((2, 6, 3)))
      >>> A.shape, layer.backward(params, cache, jnp.ones_like(A))[0].shape
      ((2, 4), (2, 6, 3))

    With ``return_state=True`` it also returns its final states ``(a<T>, c<T>)`` (e.g. to
    start a decoder), and its backward takes a cotangent per output (None: unused); a
    layer of several outputs is called directly (or in a :class:`jaxnet.Model`'s
    ``apply``), not chained in a ``Sequential``:

      >>> encoder = LSTM(4, return_sequences=True, return_state=True)
      >>> encoder.output_shape((6, 3))
      ((6, 4), (4,), (4,))
      >>> (A, a_T, c_T), cache = encoder.forward(params, jnp.ones((2, 6, 3)))
      >>> dA_prev, grads = encoder.backward(params, cache, (None, jnp.ones_like(a_T), jnp.ones_like(c_T)))
      >>> A.shape, c_T.shape, dA_prev.shape
      ((2, 6, 4), (2, 4), (2, 6, 3))
    """

    kind = "lstm"
    _gates = ("f", "i", "c", "o")
    _states = ("a0", "c0")

    def _run(self, params, x, states, mask):
        a, _, _, caches = lstm_forward(x, states[0], params, mask, c0=states[1])
        return a, caches

    def _final_states(self, a, caches) -> tuple[jax.Array, ...]:
        """``(a<T>, c<T>)``: the cell state from the caches (time-major ``c``)."""
        return a[:, -1], caches.c[-1]

    def _bptt(self, da, caches, dc_T=None):
        """BPTT; ``dc_T (m, units)``, the final cell state's cotangent, enters at the last step."""
        dc = None
        if dc_T is not None:
            dc = jnp.zeros_like(da).at[:, -1].set(dc_T)
        return lstm_backward(da, caches, dc=dc)


class GRU(_Recurrent):
    """The lecture's full GRU over a sequence: ``c<t> = Gu cc + (1 - Gu) c<t-1>``, ``a<t> = c<t>``
    (the reset gate applied before the recurrent product; :mod:`jaxnet.layers.gru`).

    Params ``Wu, Wr, Wc (units, units + n_x)``, ``bu, br, bc (units,)``; input ``(m, T, n_x)``,
    output ``(m, units)`` or ``(m, T, units)`` with ``return_sequences``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import GRU
      >>> layer = GRU(4, return_sequences=True)
      >>> layer
      GRU(units=4, return_sequences=True)
      >>> params = layer.init(jax.random.key(0), (6, 3))
      >>> A, cache = layer.forward(params, jnp.ones((2, 6, 3)))
      >>> A.shape, sorted(layer.backward(params, cache, jnp.ones_like(A))[1])
      ((2, 6, 4), ['Wc', 'Wr', 'Wu', 'bc', 'br', 'bu'])
    """

    kind = "gru"
    _gates = ("u", "r", "c")

    def _run(self, params, x, states, mask):
        a, _, caches = gru_forward(x, states[0], params, mask)
        return a, caches

    def _bptt(self, da, caches):
        return gru_backward(da, caches)
