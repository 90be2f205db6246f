"""Checkpointing inside jn.fit and resuming: 2 epochs + resume to 5 == 5 epochs straight, bitwise."""

import jax
import numpy as np
import pytest

import jaxnet as jn
from jaxnet import checkpoint
from jaxnet.datasets import make_moons, planar_flower

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch")


def _same_run(a, b):
    (params_a, history_a), (params_b, history_b) = a, b
    for x, y in zip(jax.tree.leaves(params_a), jax.tree.leaves(params_b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    for k in METRICS:
        assert history_a[k] == history_b[k], k
    assert len(history_a["time"]) == len(history_b["time"])


@pytest.mark.parametrize(
    ("optimizer", "batch_size", "epochs"),
    [("rmsprop", 32, 5), ("momentum", None, 50), ("adam", 50, 4)],
)
def test_resume_is_bitwise_a_straight_run(tmp_path, optimizer, batch_size, epochs):
    X, y = make_moons(jax.random.key(0), m=200)
    net = jn.Network((2, 8, 1), hidden="relu", output="sigmoid")
    params = jn.init(jax.random.key(1), net)
    kw = dict(
        optimizer=optimizer,
        batch_size=batch_size,
        key=jax.random.key(2),
        verbose=0,
        validation_data=(X[:40], y[:40]),
    )
    straight = jn.fit(net, params, X, y, epochs=epochs, **kw)
    first = jn.fit(net, params, X, y, epochs=2, checkpoint_dir=tmp_path, **kw)
    assert checkpoint.read_metadata(tmp_path)["step"] == 2
    resumed = jn.fit(net, params, X, y, epochs=epochs, resume_from=tmp_path, **kw)
    assert resumed[1]["epoch"] == list(range(1, epochs + 1))
    assert first[1]["loss"] == resumed[1]["loss"][:2]
    _same_run(straight, resumed)


def test_checkpoint_every_keeps_the_latest(tmp_path):
    X, y = planar_flower(jax.random.key(0), m=100)
    net = jn.Network((2, 4, 1), hidden="tanh", output="sigmoid")
    params = jn.init(jax.random.key(1), net, scheme="normal")
    final, history = jn.fit(
        net,
        params,
        X,
        y,
        learning_rate=1.2,
        epochs=250,
        verbose=0,
        checkpoint_dir=tmp_path,
        checkpoint_every=100,
    )
    saved = checkpoint.restore(tmp_path, final)
    assert saved.step == 250 and saved.history["loss"] == history["loss"]
    for x, y_ in zip(jax.tree.leaves(saved.params), jax.tree.leaves(final)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y_))


def test_resume_rejects_another_network(tmp_path):
    X, y = planar_flower(jax.random.key(0), m=100)
    net = jn.Network((2, 4, 1), hidden="tanh", output="sigmoid")
    jn.fit(net, jn.init(jax.random.key(1), net), X, y, epochs=3, verbose=0, checkpoint_dir=tmp_path)
    wider = jn.Network((2, 5, 1), hidden="tanh", output="sigmoid")
    with pytest.raises(ValueError, match="different network|shape"):
        jn.fit(
            wider,
            jn.init(jax.random.key(1), wider),
            X,
            y,
            epochs=5,
            verbose=0,
            resume_from=tmp_path,
        )


def test_resume_rejects_a_truncated_checkpoint(tmp_path):
    X, y = planar_flower(jax.random.key(0), m=100)
    net = jn.Network((2, 4, 1), hidden="tanh", output="sigmoid")
    params = jn.init(jax.random.key(1), net)
    jn.fit(net, params, X, y, epochs=3, verbose=0, checkpoint_dir=tmp_path)
    path = tmp_path / checkpoint.FILENAME
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(ValueError, match="corrupt|truncated"):
        jn.fit(net, params, X, y, epochs=5, verbose=0, resume_from=tmp_path)
