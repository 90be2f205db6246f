"""The arguments of ``jn.fit`` and ``jn.fit_ensemble``: one check for both, before anything compiles.

Each bad value is tried on both entry points (they share the checking code), and the
compiled chunk must not be reached. Numbers are checked as numbers: a bool is not an
int, a string or a list is not a learning rate, ``1e-50`` is not a float32 one.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import count_compiles

import jaxnet as jn
from jaxnet.training import engine, ensemble

M, B, K = 22, 5, 2


def setup(dtype=np.float32):
    """The 3-4-1 tanh/sigmoid network of test_training on M examples (shares its compilations)."""
    net = jn.Network((3, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    X = np.random.default_rng(0).standard_normal((M, 3)).astype(dtype)
    Y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(np.int32)
    return net, jn.init(jax.random.key(1), net, scheme="xavier", dtype=dtype), X, Y


def stack(params, k=K):
    return jax.tree.map(lambda a: np.stack([np.asarray(a)] * k), params)


def call(entry, net, params, X, Y, **kwargs):
    """``jn.fit`` or ``jn.fit_ensemble`` (K copies of params) with the same keyword arguments."""
    if entry == "fit":
        return jn.fit(net, params, X, Y, verbose=kwargs.pop("verbose", 0), **kwargs)
    if "key" in kwargs:
        kwargs["keys"] = jax.random.split(kwargs.pop("key"), K)
    return jn.fit_ensemble(net, stack(params), X, Y, verbose=kwargs.pop("verbose", 0), **kwargs)


WIDTH, ROWS = "width", "rows"
KEY = jax.random.key(0)
BAD_ARGUMENTS = {
    # learning rates: not numbers, not one number, not positive, not usable in float32
    "lr-zero": (dict(learning_rate=0.0), ValueError, "learning_rate"),
    "lr-negative": (dict(learning_rate=-0.1), ValueError, "learning_rate"),
    "lr-nan": (dict(learning_rate=float("nan")), ValueError, "learning_rate"),
    "lr-inf": (dict(learning_rate=float("inf")), ValueError, "learning_rate"),
    "lr-underflows-float32": (dict(learning_rate=1e-50), ValueError, "learning_rate.*float32"),
    "lr-subnormal-float32": (dict(learning_rate=1e-40), ValueError, "learning_rate.*float32"),
    "lr-overflows-float32": (dict(learning_rate=1e39), ValueError, "learning_rate.*float32"),
    "lr-string": (dict(learning_rate="abc"), TypeError, "learning_rate"),
    "lr-numeric-string": (dict(learning_rate="0.1"), TypeError, "learning_rate"),
    "lr-bool": (dict(learning_rate=True), TypeError, "learning_rate"),
    "lr-none-in-list": (dict(learning_rate=[0.1, None]), TypeError, "learning_rate"),
    "lr-complex": (dict(learning_rate=0.1j), TypeError, "learning_rate"),
    "lr-matrix": (dict(learning_rate=[[0.1, 0.2]]), ValueError, "learning_rate"),
    "lr-with-transformation": (
        dict(optimizer=optax.sgd(0.1), learning_rate=0.1),
        ValueError,
        "learning_rate",
    ),
    # integers: bools and floats are not ints
    "epochs-zero": (dict(epochs=0), ValueError, "epochs"),
    "epochs-float": (dict(epochs=2.5), TypeError, "epochs"),
    "epochs-integral-float": (dict(epochs=2.0), TypeError, "epochs"),
    "epochs-bool": (dict(epochs=True), TypeError, "epochs"),
    "epochs-string": (dict(epochs="3"), TypeError, "epochs"),
    "batch-zero": (dict(batch_size=0, key=KEY), ValueError, "batch_size"),
    "batch-above-m": (dict(batch_size=M + 1, key=KEY), ValueError, "batch_size"),
    "batch-bool": (dict(batch_size=True, key=KEY), TypeError, "batch_size"),
    "batch-float": (dict(batch_size=5.0, key=KEY), TypeError, "batch_size"),
    "verbose-word": (dict(verbose="loud"), TypeError, "verbose"),
    "verbose-3": (dict(verbose=3), ValueError, "verbose"),
    "verbose-bool": (dict(verbose=True), TypeError, "verbose"),
    # choices
    "optimizer-name": (dict(optimizer="nesterov"), ValueError, "optimizer"),
    "optimizer-factory": (dict(optimizer=optax.adam), TypeError, "optimizer"),
    "optimizer-number": (dict(optimizer=3), TypeError, "optimizer"),
    "backprop": (dict(backprop="numeric"), ValueError, "backprop"),
    "backprop-bool": (dict(backprop=True), TypeError, "backprop"),
    "shuffle-string": (dict(shuffle="yes"), TypeError, "shuffle"),
    "shuffle-int": (dict(shuffle=1), TypeError, "shuffle"),
    # data
    "validation-width": (WIDTH, ValueError, "validation_data"),
    "validation-rows": (ROWS, ValueError, "validation_data"),
    "validation-not-a-pair": (
        dict(validation_data=np.zeros((3, 3))),
        TypeError,
        "validation_data",
    ),
    "validation-three": (dict(validation_data=(1, 2, 3)), ValueError, "validation_data"),
    "no-key": (dict(batch_size=4), ValueError, "key"),
}
FIT_ONLY = {
    "lr-list": (dict(learning_rate=[0.1, 0.2]), ValueError, "learning_rate"),
    "on_nonfinite": (dict(on_nonfinite="ignore"), ValueError, "on_nonfinite"),
    "checkpoint_every-zero": (dict(checkpoint_every=0), ValueError, "checkpoint_every"),
    "checkpoint_every-bool": (dict(checkpoint_every=True), TypeError, "checkpoint_every"),
    "checkpoint_every-float": (dict(checkpoint_every=1.5), TypeError, "checkpoint_every"),
    # schedules: checked on the steps that will run, before training
    "lr-schedule-zero": (
        dict(learning_rate=lambda s: 0.1 * (s < 1), epochs=3),
        ValueError,
        "learning_rate",
    ),
    "lr-schedule-nan": (dict(learning_rate=lambda s: np.nan), ValueError, "learning_rate"),
    "lr-schedule-underflow": (dict(learning_rate=lambda s: 1e-50), ValueError, "learning_rate"),
    "lr-schedule-text": (dict(learning_rate=lambda s: "fast"), ValueError, "learning_rate"),
    # callbacks
    "callbacks-not-a-list": (dict(callbacks=print), TypeError, "callbacks"),
    "callbacks-no-hooks": (dict(callbacks=[object()]), TypeError, r"callbacks\[0\]"),
    "early_stopping-number": (dict(early_stopping=3), TypeError, "early_stopping"),
    "early_stopping-monitor": (dict(early_stopping={"monitor": "val_loss"}), ValueError, "monitor"),
    "early_stopping-patience": (dict(early_stopping={"patience": 1.5}), TypeError, "patience"),
}
ENSEMBLE_ONLY = {
    "lr-schedule": (dict(learning_rate=lambda s: 0.1), TypeError, "learning_rate"),
    "lr-per-model-count": (dict(learning_rate=[0.1, 0.2, 0.3]), ValueError, "learning_rate"),
    "lr-per-model-negative": (
        dict(learning_rate=jnp.array([0.1, -0.2])),
        ValueError,
        "learning_rate",
    ),
    "lr-per-model-underflow": (dict(learning_rate=[0.1, 1e-45]), ValueError, "learning_rate"),
    "shard": (dict(shard="layers"), ValueError, "shard"),
}
CASES = [("fit", c, v) for c, v in {**BAD_ARGUMENTS, **FIT_ONLY}.items()] + [
    ("fit_ensemble", c, v) for c, v in {**BAD_ARGUMENTS, **ENSEMBLE_ONLY}.items()
]


@pytest.mark.parametrize(("entry", "case", "bad"), CASES, ids=[f"{e}-{c}" for e, c, _ in CASES])
def test_bad_arguments_raise_before_compiling(entry, case, bad, monkeypatch):
    kwargs, error, name = bad
    net, params, X, Y = setup()
    if kwargs == WIDTH:
        kwargs = dict(validation_data=(X[:, :2], Y))
    elif kwargs == ROWS:
        kwargs = dict(validation_data=(X, Y[:5]))

    def must_not_run(*args, **kw):
        raise AssertionError("the compiled training program was reached")

    monkeypatch.setattr(engine, "run_chunk", must_not_run)
    monkeypatch.setattr(ensemble, "ensemble_runner", must_not_run)
    with count_compiles() as compiles, pytest.raises(error, match=name):
        call(entry, net, params, X, Y, **kwargs)
    assert not any("chunk" in fn for fn in compiles)


def test_unknown_optimizer_lists_the_names():
    net, params, X, Y = setup()
    with pytest.raises(ValueError, match="nesterov") as info:
        jn.fit(net, params, X, Y, optimizer="nesterov", verbose=0)
    for name in ("sgd", "momentum", "rmsprop", "adam"):
        assert name in str(info.value)


@pytest.mark.parametrize("entry", ["fit", "fit_ensemble"])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(epochs=np.int64(3)),
        dict(epochs=np.int32(3), batch_size=np.int64(B), key=KEY),
        dict(epochs=3, learning_rate=np.float32(0.01)),
        dict(epochs=3, learning_rate=np.array(0.01)),
        dict(epochs=3, learning_rate=1),  # an int rate is a rate
        dict(epochs=3, verbose=np.int64(0), shuffle=np.bool_(True)),
    ],
    ids=["np-epochs", "np-batch", "np-float32-rate", "0d-array-rate", "int-rate", "np-verbose"],
)
def test_numpy_numbers_are_numbers(entry, kwargs):
    """NumPy ints and floats are accepted wherever Python's are, with the same result."""
    net, params, X, Y = setup()
    python = {
        k: (v.item() if isinstance(v, np.generic | np.ndarray) else v) for k, v in kwargs.items()
    }
    got, _ = call(entry, net, params, X, Y, **kwargs)
    expected, _ = call(entry, net, params, X, Y, **python)
    chex.assert_trees_all_equal(got, expected)


def test_checkpoint_every_takes_a_numpy_int(tmp_path):
    net, params, X, Y = setup()
    every = np.int64(1)
    _, history = jn.fit(
        net, params, X, Y, epochs=2, checkpoint_dir=tmp_path, checkpoint_every=every, verbose=0
    )
    assert jn.checkpoint.read_metadata(tmp_path)["step"] == 2 and len(history["loss"]) == 2


def test_learning_rate_is_checked_in_the_params_dtype(x64):
    """1e-50 is a usable float64 rate (it trains, by a little), not a float32 one."""
    net, params, X, Y = setup(np.float64)
    trained, _ = jn.fit(net, params, X, Y, learning_rate=1e-50, epochs=1, verbose=0)
    chex.assert_type(jax.tree.leaves(trained), jnp.float64)
    net32, params32, X32, Y32 = setup(np.float32)
    with pytest.raises(ValueError, match="float32"):
        jn.fit(net32, params32, X32, Y32, learning_rate=1e-50, verbose=0)


def test_the_key_is_needed_only_to_shuffle_minibatches():
    net, params, X, Y = setup()
    with pytest.raises(ValueError, match="key"):
        jn.fit(net, params, X, Y, batch_size=B, verbose=0)
    # without shuffling or with full batches the key is unused: any key gives the same result
    for kw in (dict(batch_size=B, shuffle=False), dict(epochs=3)):
        without, _ = jn.fit(net, params, X, Y, verbose=0, **kw)
        with_key, _ = jn.fit(net, params, X, Y, verbose=0, key=jax.random.key(5), **kw)
        chex.assert_trees_all_equal(without, with_key)
        assert not np.array_equal(without[0]["W"], params[0]["W"])


# --- entry points that cannot be traced say so ------------------------------------------------


def traced_calls():
    net, params, X, Y = setup()
    stacked = stack(params)
    fit = functools.partial(jn.fit, net, verbose=0)
    fit_ensemble = functools.partial(jn.fit_ensemble, net, verbose=0)
    return {
        "jit-fit-params": lambda: jax.jit(lambda p: fit(p, X, Y)[0])(params),
        "jit-fit-data": lambda: jax.jit(lambda x: fit(params, x, Y)[0])(X),
        "jit-fit-static-net": lambda: jax.jit(jn.fit, static_argnums=0)(net, params, X, Y),
        "vmap-fit": lambda: jax.vmap(lambda p: fit(p, X, Y)[0])(stacked),
        "grad-fit": lambda: jax.grad(lambda lr: fit(params, X, Y, learning_rate=lr)[0][1]["b"][0])(
            0.1
        ),
        "jit-fit-key": lambda: jax.jit(lambda k: fit(params, X, Y, key=k)[0])(KEY),
        "jit-fit-validation": lambda: jax.jit(
            lambda x: fit(params, X, Y, validation_data=(x, Y))[0]
        )(X),
        "jit-fit_ensemble": lambda: jax.jit(lambda p: fit_ensemble(p, X, Y)[0])(stacked),
        "jit-init_ensemble-hidden_sizes": lambda: jax.jit(
            lambda k: jn.init_ensemble(k, net, hidden_sizes=[1, 2])
        )(jax.random.split(KEY, 2)),
    }


@pytest.mark.parametrize("case", list(traced_calls()))
def test_training_under_a_jax_transformation_is_a_clear_type_error(case):
    with pytest.raises(
        TypeError, match=r"cannot be called inside jax\.jit, jax\.vmap or jax\.grad"
    ):
        traced_calls()[case]()


def test_init_ensemble_without_hidden_sizes_can_be_traced():
    net = setup()[0]
    keys = jax.random.split(KEY, 3)
    traced = jax.jit(lambda k: jn.init_ensemble(k, net))(keys)
    chex.assert_trees_all_close(traced, jn.init_ensemble(keys, net))
