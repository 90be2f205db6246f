"""The embedding layer: token ids to learned vectors, with its backward as a scatter-add.

Shapes: ids ``(m, T)`` (integers from 0 to ``vocab_size - 1``, held in the params' float dtype
as every network input is: exact up to 2**24 in float32), the table ``E (vocab_size, dim)``,
the output ``A (m, T, dim)`` with ``A[i, t] = E[ids[i, t]]``.

Backward: the lookup is linear in ``E``, so ``dE`` gathers back what each row gave::

    dE[v] = (1/m) sum over (i, t) with ids[i, t] = v of dA[i, t]      (E.at[ids].add(dA) / m)

and ids are not differentiable (``dA_prev = 0``). With ``mask_zero=True`` id 0 is padding:
the layer gives the network the mask ``ids != 0`` (:mod:`jaxnet.layers.base`), which the
recurrent layers after it honour.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet import initializers, limits
from jaxnet.layers.base import Layer, field
from jaxnet.validation import check_bool, check_int

__all__ = ["Embedding", "check_ids"]


class Embedding(Layer):
    """A table of ``vocab_size`` learned vectors of size ``dim``, looked up by integer ids.

    Params ``{"E": (vocab_size, dim)}``; input ids ``(m, T)``, output ``(m, T, dim)``.
    ``mask_zero=True`` reserves id 0 for padding: the recurrent layers after it skip the
    padded steps (Keras's ``mask_zero``).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import Embedding
      >>> layer = Embedding(10, 3, mask_zero=True)
      >>> layer, layer.output_shape((4,))
      (Embedding(vocab_size=10, dim=3, mask_zero=True), (4, 3))
      >>> params = {"E": jnp.arange(30.0).reshape(10, 3)}
      >>> ids = jnp.array([[1.0, 2.0, 2.0, 0.0]])
      >>> A, cache = layer.forward(params, ids)
      >>> A[0, :2].tolist()
      [[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
      >>> dA_prev, grads = layer.backward(params, cache, jnp.ones_like(A))
      >>> grads["E"][:3].tolist()  # id 2 appears twice
      [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
      >>> layer.output_mask(ids, None).tolist()
      [[True, True, True, False]]
    """

    kind = "embedding"
    vocab_size: int = field(
        check=functools.partial(check_int, minimum=1, maximum=limits.MAXIMA["vocab_size"])
    )
    dim: int = field(check=functools.partial(check_int, minimum=1, maximum=limits.MAXIMA["dim"]))
    mask_zero: bool = field(default=False, check=check_bool, omit_default=True)

    def output_shape(self, input_shape) -> tuple[int, int]:
        """``(T, dim)`` for ``T`` ids per example."""
        shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
        if len(shape) != 1:
            raise ValueError(
                f"Embedding expects a sequence of T integer ids (T,) per example (inputs (m, T)), "
                f"got input shape {shape}"
            )
        return (shape[0], self.dim)

    def param_shapes(self, input_shape) -> dict[str, tuple[int, int]]:
        """``{"E": (vocab_size, dim)}``."""
        self.output_shape(input_shape)
        return {"E": (self.vocab_size, self.dim)}

    def init(self, key, input_shape, scheme="he", *, scale=0.01, dtype=jnp.float32) -> dict:
        """``{"E": drawn by scheme}`` (fans of ``(vocab_size, dim)``)."""
        shape = self.param_shapes(input_shape)["E"]
        return {"E": initializers.get(scheme, scale=scale)(key, shape, dtype)}

    def forward(self, params: dict, A_prev, *, key=None, train=False, weights=None):
        """``(E[ids] (m, T, dim), ids)`` for ``A_prev``, ids ``(m, T)``; ``key``, ``train``,
        ``weights`` unused."""
        del key, train, weights
        if A_prev.ndim != 2:
            raise ValueError(f"Embedding expects ids (m, T), got shape {A_prev.shape}")
        ids = A_prev.astype(jnp.int32)
        return params["E"][ids], ids

    def backward(self, params: dict, cache, dA):
        """``(zeros (m, T), {"E": E.at[ids].add(dA) / m})``: the scatter-add of the lookup."""
        ids, m = cache, cache.shape[0]
        dE = jnp.zeros_like(params["E"]).at[ids].add(dA) / m
        return jnp.zeros(ids.shape, dA.dtype), {"E": dE}

    def output_mask(self, A_prev, mask):
        """``ids != 0`` with ``mask_zero`` (id 0 is padding), else ``mask``; the ids are the
        network's inputs (``A_prev`` None: an Embedding that is not the first layer)."""
        if not self.mask_zero:
            return mask
        if A_prev is None:
            raise ValueError(
                "Embedding(mask_zero=True) must be the network's first layer: its mask is made "
                "from the ids, the network's inputs"
            )
        return A_prev != 0


def check_ids(X, vocab_size: int, name: str = "X") -> None:
    """A ``ValueError`` unless ``X`` (host or device values, not traced) holds integer ids
    from 0 to ``vocab_size - 1``; the message names the largest allowed id."""
    if isinstance(X, jax.core.Tracer):
        return
    values = np.asarray(X)
    if not (np.issubdtype(values.dtype, np.integer) or values.dtype == bool):
        whole = np.isfinite(values).all() and (values == np.round(values)).all()
        if not whole:
            raise ValueError(
                f"{name} must hold integer token ids for the Embedding layer, got dtype "
                f"{values.dtype} with non-integer values"
            )
    if values.size and (values.min() < 0 or values.max() >= vocab_size):
        bad = int(values[(values < 0) | (values >= vocab_size)].flat[0])
        raise ValueError(
            f"{name} holds token id {bad} outside the vocabulary: ids must be in 0 .. "
            f"{vocab_size - 1} (Embedding(vocab_size={vocab_size}))"
        )
