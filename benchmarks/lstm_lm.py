"""Workload F, shared by its contenders: the character-level LSTM language model, its data, one start.

The network (course 5's character model, at the sizes of issue 21)::

    ids (m, 40) -> embedding 32 -> LSTM 128 (every step) -> dense 27 per step -> softmax per step

trained with the mean per-character cross-entropy over the batch's 128 x 40 predictions,
Adam 1e-3 (b1 0.9, b2 0.999, eps 1e-8), batch 128, reshuffled every epoch.

Data: the course's dinosaur names (lower-cased, 27 characters with the newline), every
tenth name held out; the other names joined, each followed by a newline, into one stream
cut into windows of 41 characters every :data:`STRIDE`: the first 40 are the inputs, the
last 40 (shifted by one) the targets. Only whole batches are kept (27 of 128 in the full
run), so no contender meets a partial batch. The held-out names make the test windows;
``test_acc`` is the next-character accuracy on them and ``test_loss`` the cross-entropy.

Every contender starts from the same params (:func:`start`), Keras's defaults drawn once
with NumPy in Keras's layout (embedding ``(27, 32)`` uniform +-0.05; LSTM kernel ``(32,
512)`` glorot-uniform, recurrent kernel ``(128, 512)`` orthogonal, bias ``(512,)`` zeros
but ones for the forget gate, gates in the order i, f, c, o; dense ``(128, 27)``
glorot-uniform, zero bias); each contender converts them to its own layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

T = 40  # characters per window
EMBED, UNITS = 32, 128
STRIDE = 5  # a window starts every STRIDE characters of the training stream
BATCHES = {"full": None, "quick": 2}  # whole batches kept (None: all)
TEST_WINDOWS = {"full": None, "quick": 64}
EPOCHS = {"full": 4, "quick": 1}
STEP_CALLS = {"full": 30, "quick": 2}  # one jitted step timed (hand-derived vs autodiff)
ADAM = {"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8}
GATES = "ifco"  # Keras's (and PyTorch's, Flax's) order of the four gates in the fused weights


def dinos_file(data_dir: Path) -> Path:
    """``dinos.txt`` in ``data_dir``, else in its sibling ``dinos/`` (the harness's
    ``--data-dir`` is the MNIST folder of the shared data)."""
    data_dir = Path(data_dir)
    here = data_dir / "dinos.txt"
    return here if here.is_file() else data_dir.parent / "dinos" / "dinos.txt"


def vocabulary(names) -> str:
    """The characters, sorted: the newline first, then the letters (27 for the dinosaurs)."""
    return "".join(sorted(set("".join(names)) | {"\n"}))


def _windows(names, chars: str, stride: int):
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in "".join(n + "\n" for n in names)], np.int32)
    starts = np.arange(0, len(ids) - T, stride)
    rows = starts[:, None] + np.arange(T + 1)
    return ids[rows[:, :-1]], ids[rows[:, 1:]]


def windows(args, batch: int = 128):
    """``(X, Y, X_test, Y_test, vocab_size)``: int32 ids ``(m, 40)`` and next ids ``(m, 40)``."""
    from jaxnet.datasets import load_dinos

    names = load_dinos(dinos_file(args.data_dir))
    chars = vocabulary(names)
    train = [n for i, n in enumerate(names) if i % 10]
    test = [n for i, n in enumerate(names) if not i % 10]
    X, Y = _windows(train, chars, STRIDE)
    nb = len(X) // batch if BATCHES[args.size] is None else BATCHES[args.size]
    X_test, Y_test = _windows(test, chars, T)  # held-out windows, not overlapping
    k = TEST_WINDOWS[args.size]
    return X[: nb * batch], Y[: nb * batch], X_test[:k], Y_test[:k], len(chars)


def start(seed: int, vocab_size: int) -> dict[str, np.ndarray]:
    """Keras's default init of the three layers, in Keras's layout (see the module docstring).

    Keys ``embedding (V, 32)``, ``kernel (32, 512)``, ``recurrent_kernel (128, 512)``,
    ``bias (512,)``, ``dense_W (128, V)``, ``dense_b (V,)``; float32.
    """
    rng = np.random.default_rng(seed)

    def glorot(shape):
        limit = np.sqrt(6.0 / sum(shape))
        return rng.uniform(-limit, limit, shape).astype(np.float32)

    embedding = rng.uniform(-0.05, 0.05, (vocab_size, EMBED)).astype(np.float32)
    kernel = glorot((EMBED, 4 * UNITS))
    q, r = np.linalg.qr(rng.standard_normal((4 * UNITS, UNITS)))
    recurrent = (q * np.sign(np.diag(r))).T.astype(np.float32)  # (128, 512), orthonormal rows
    bias = np.zeros(4 * UNITS, np.float32)
    bias[UNITS : 2 * UNITS] = 1.0  # Keras's unit_forget_bias
    return {
        "embedding": embedding,
        "kernel": kernel,
        "recurrent_kernel": recurrent,
        "bias": bias,
        "dense_W": glorot((UNITS, vocab_size)),
        "dense_b": np.zeros(vocab_size, np.float32),
    }


def gate(w: np.ndarray, name: str) -> np.ndarray:
    """Gate ``name`` (one of ``"ifco"``) of a fused weight whose last axis is ``4 * UNITS``."""
    k = GATES.index(name)
    return w[..., k * UNITS : (k + 1) * UNITS]


def flops_per_example(vocab_size: int = 27) -> int:
    """Matrix-product FLOPs of one window (40 steps) forward + backward: per step the LSTM's
    fused gate product ``[a_prev, x] (160) -> 4 x 128`` and the dense ``128 -> V``, each
    forward, ``dW`` and ``d input`` (``2 n_in n_out`` each; the embedding lookup is free)."""
    gates = 2 * (UNITS + EMBED) * 4 * UNITS
    dense = 2 * UNITS * vocab_size
    return T * 3 * (gates + dense)


def cross_entropy_and_accuracy(logits: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    """Mean per-character cross-entropy (nats) and next-character accuracy of ``logits (m, T, V)``."""
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    ce = -np.take_along_axis(logp, Y[..., None], axis=-1).mean()
    return float(ce), float((logits.argmax(-1) == Y).mean())
