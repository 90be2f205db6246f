"""Learning-rate schedules in ``jn.fit``: the course's decays, any optax schedule, checked before
training, one compilation, the rate of every epoch in the history, bitwise resume.

The course (course 2, week 2) writes ``update_lr(learning_rate0, epoch_num, decay_rate)``
and ``schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval)``; they are
written out here in NumPy and compared with :mod:`jaxnet.schedules` and with training.
"""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import count_compiles

import jaxnet as jn
from jaxnet.training import arguments

F64 = {"rtol": 1e-12, "atol": 1e-14}
CHUNK = "jit(run_chunk)"
M, B = 22, 5  # 5 steps per epoch (four batches of 5 and one of 2)


def update_lr(learning_rate0, epoch_num, decay_rate):
    """The course's ``update_lr``."""
    return learning_rate0 / (1 + decay_rate * epoch_num)


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    """The course's ``schedule_lr_decay``."""
    return learning_rate0 / (1 + decay_rate * np.floor(epoch_num / time_interval))


def setup(dtype=np.float64):
    """The 3-4-1 tanh/sigmoid network of test_training (shares its compilations)."""
    net = jn.Network((3, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    X = np.random.default_rng(0).standard_normal((M, 3)).astype(dtype)
    Y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(np.int32)
    return net, jn.init(jax.random.key(1), net, scheme="xavier", dtype=dtype), X, Y


def sgd_loop(net, params, X, Y, rates, batch_size=None):
    """Plain gradient descent by hand, step ``s`` at ``rates[s]``, batches in order."""
    m = X.shape[0]
    starts = [0] if batch_size is None else range(0, m, batch_size)
    s = 0
    while s < len(rates):
        for start in starts:
            idx = slice(start, m if batch_size is None else start + batch_size)
            g = jn.grads(net, params, X[idx], Y[idx])
            params = jax.tree.map(lambda p, g, r=rates[s]: p - r * g, params, g)
            s += 1
    return params


# --- the schedules are the course's formulas -----------------------------------------------


@pytest.mark.parametrize("decay_rate", [0.0, 0.3, 1.0, 2.5])
@pytest.mark.parametrize("steps_per_epoch", [1, 5])
def test_inverse_time_decay_is_the_course_update_lr(decay_rate, steps_per_epoch):
    decay = jn.schedules.inverse_time_decay(0.2, decay_rate, steps_per_epoch=steps_per_epoch)
    steps = np.arange(40 * steps_per_epoch)
    epochs = steps // steps_per_epoch  # epochs completed before the step
    np.testing.assert_allclose(decay(steps), update_lr(0.2, epochs, decay_rate), **F64)
    # one value at a time (ints) and traced (jnp) give the same rates
    assert [decay(int(s)) for s in steps[:7]] == list(decay(steps[:7]))
    np.testing.assert_allclose(jax.jit(decay)(jnp.arange(12)), decay(np.arange(12)), rtol=1e-6)


def test_the_lecture_table():
    """Lecture: alpha0 = 0.2, decay_rate = 1: epochs 1, 2, 3, 4 train at 0.1, 0.067, 0.05, 0.04
    (the lecture counts epochs from 1; the schedule counts the epochs completed)."""
    decay = jn.schedules.inverse_time_decay(0.2, decay_rate=1.0)
    assert [round(decay(e), 3) for e in (1, 2, 3, 4)] == [0.1, 0.067, 0.05, 0.04]


@pytest.mark.parametrize("time_interval", [1, 3, 1000])
def test_fixed_interval_decay_is_the_course_schedule_lr_decay(time_interval):
    decay = jn.schedules.fixed_interval_decay(
        0.1, decay_rate=0.5, time_interval=time_interval, steps_per_epoch=5
    )
    steps = np.arange(0, 5 * 3000, 7)
    expected = schedule_lr_decay(0.1, steps // 5, 0.5, time_interval)
    np.testing.assert_allclose(decay(steps), expected, **F64)
    # it is constant inside an interval and drops at its end
    assert decay(5 * time_interval - 1) == 0.1 and decay(5 * time_interval) < 0.1


def test_they_are_keras_inverse_time_decay_staircase():
    """Keras: ``initial / (1 + decay_rate * floor(step / decay_steps))`` with staircase=True."""
    decay = jn.schedules.inverse_time_decay(0.05, 0.7, steps_per_epoch=13)
    step = np.arange(500)
    np.testing.assert_allclose(decay(step), 0.05 / (1 + 0.7 * np.floor(step / 13)), **F64)


def test_steps_per_epoch_counts_the_partial_batch():
    assert jn.schedules.steps_per_epoch(22, 5) == 5
    assert jn.schedules.steps_per_epoch(20, 5) == 4
    assert jn.schedules.steps_per_epoch(22) == jn.schedules.steps_per_epoch(22, None) == 1
    with pytest.raises(ValueError, match="batch_size"):
        jn.schedules.steps_per_epoch(22, 0)


@pytest.mark.parametrize(
    "call, name, error",
    [
        (lambda: jn.schedules.inverse_time_decay(0.0, 1.0), "learning_rate", ValueError),
        (lambda: jn.schedules.inverse_time_decay(-0.1, 1.0), "learning_rate", ValueError),
        (lambda: jn.schedules.inverse_time_decay(math.nan, 1.0), "learning_rate", ValueError),
        (lambda: jn.schedules.inverse_time_decay("0.1", 1.0), "learning_rate", TypeError),
        (lambda: jn.schedules.inverse_time_decay(0.1, -1.0), "decay_rate", ValueError),
        (lambda: jn.schedules.inverse_time_decay(0.1, math.inf), "decay_rate", ValueError),
        (lambda: jn.schedules.inverse_time_decay(0.1, True), "decay_rate", TypeError),
        (
            lambda: jn.schedules.inverse_time_decay(0.1, 1.0, steps_per_epoch=0),
            "steps_per_epoch",
            ValueError,
        ),
        (
            lambda: jn.schedules.inverse_time_decay(0.1, 1.0, steps_per_epoch=2.0),
            "steps_per_epoch",
            TypeError,
        ),
        (
            lambda: jn.schedules.fixed_interval_decay(0.1, 1.0, time_interval=0),
            "time_interval",
            ValueError,
        ),
    ],
)
def test_bad_schedule_arguments_name_the_argument(call, name, error):
    with pytest.raises(error, match=name):
        call()


# --- training with a schedule ----------------------------------------------------------------


def test_full_batch_decay_is_the_course_loop_with_update_lr(x64):
    """Full batch: one step per epoch, the rate of iteration i is update_lr(alpha0, i, decay)."""
    net, params, X, Y = setup()
    decay = jn.schedules.inverse_time_decay(0.9, decay_rate=0.2)
    trained, history = jn.fit(net, params, X, Y, learning_rate=decay, epochs=12, verbose=0)
    rates = [update_lr(0.9, i, 0.2) for i in range(12)]
    chex.assert_trees_all_close(trained, sgd_loop(net, params, X, Y, rates), **F64)
    np.testing.assert_allclose(history["learning_rate"], rates, **F64)


def test_minibatch_decay_per_epoch(x64):
    """Minibatches: every step of epoch e trains at update_lr(alpha0, e, decay)."""
    net, params, X, Y = setup()
    nb = jn.schedules.steps_per_epoch(M, B)
    decay = jn.schedules.inverse_time_decay(0.7, decay_rate=1.0, steps_per_epoch=nb)
    trained, history = jn.fit(
        net, params, X, Y, learning_rate=decay, epochs=3, batch_size=B, shuffle=False, verbose=0
    )
    rates = [update_lr(0.7, s // nb, 1.0) for s in range(3 * nb)]
    chex.assert_trees_all_close(trained, sgd_loop(net, params, X, Y, rates, B), **F64)
    np.testing.assert_allclose(history["learning_rate"], [0.7, 0.35, 0.7 / 3], **F64)


def test_an_optax_schedule_changes_the_rate_every_step(x64):
    """An optax schedule counts steps, so the rate changes inside an epoch too."""
    net, params, X, Y = setup()
    schedule = optax.exponential_decay(0.8, transition_steps=2, decay_rate=0.5)
    trained, history = jn.fit(
        net, params, X, Y, learning_rate=schedule, epochs=2, batch_size=B, shuffle=False,
        verbose=0,
    )  # fmt: skip
    rates = [float(schedule(s)) for s in range(10)]
    assert len(set(rates)) == 10
    chex.assert_trees_all_close(trained, sgd_loop(net, params, X, Y, rates, B), rtol=1e-6)
    np.testing.assert_allclose(history["learning_rate"], [rates[0], rates[5]], rtol=1e-6)


@pytest.mark.parametrize("optimizer", ["momentum", "rmsprop", "adam"])
def test_a_schedule_drives_every_named_optimizer(optimizer, x64):
    """The schedule sets the rate in the inject_hyperparams state: equal to the optax
    optimiser built with the schedule itself."""
    net, params, X, Y = setup()
    schedule = optax.linear_schedule(0.05, 0.01, transition_steps=6)
    trained, _ = jn.fit(
        net, params, X, Y, optimizer=optimizer, learning_rate=schedule, epochs=8, verbose=0
    )
    factory = {
        "momentum": jn.optimizers.course_momentum,
        "rmsprop": jn.optimizers.keras_rmsprop,
        "adam": optax.adam,
    }[optimizer]
    reference, _ = jn.fit(net, params, X, Y, optimizer=factory(schedule), epochs=8, verbose=0)
    # (optax's schedules compute in float32: evaluated per step or on an array, a rate may
    # differ in its last bit)
    chex.assert_trees_all_close(trained, reference, rtol=1e-6, atol=1e-7)


def test_a_python_schedule_that_branches_on_the_step():
    """A schedule that cannot take an array is called once per step."""
    net, params, X, Y = setup(np.float32)

    def warmup(step):
        return 0.05 if step < 3 else 0.5

    _, history = jn.fit(net, params, X, Y, learning_rate=warmup, epochs=5, verbose=0)
    np.testing.assert_allclose(history["learning_rate"], [0.05] * 3 + [0.5] * 2, rtol=1e-7)


def test_schedules_do_not_recompile():
    net = jn.Network(
        (3, 7, 2), hidden_activation="relu", output_activation="softmax"
    )  # sizes used nowhere else
    X = np.random.default_rng(3).standard_normal((30, 3)).astype(np.float32)
    Y = np.argmax(X[:, :2], axis=1)
    params = jn.init(jax.random.key(4), net)
    kw = dict(batch_size=8, key=jax.random.key(5), verbose=0)
    with count_compiles() as compiles:
        jn.fit(net, params, X, Y, learning_rate=0.1, epochs=2, **kw)
        jn.fit(net, params, X, Y, learning_rate=jn.schedules.inverse_time_decay(0.1, 1.0),
               epochs=3, **kw)  # fmt: skip
        jn.fit(net, params, X, Y, learning_rate=optax.cosine_decay_schedule(0.1, 20, alpha=0.1),
               epochs=4, **kw)  # fmt: skip
        jn.fit(net, params, X, Y, learning_rate=optax.cosine_decay_schedule(0.1, 20, alpha=0.1), epochs=50,
               verbose=0)  # fmt: skip
    assert compiles[CHUNK] == 2  # one minibatch program, one full-batch program


# --- checked before training ---------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule, bad",
    [
        (lambda s: 0.1 - 0.01 * s, "0.0"),  # reaches 0 at step 10
        (lambda s: np.where(s == 12, np.nan, 0.1), "nan"),
        (lambda s: np.where(s == 12, -0.1, 0.1), "-0.1"),
        (lambda s: np.where(s == 12, np.inf, 0.1), "inf"),
        (lambda s: np.where(s == 12, 1e-50, 0.1), "1e-50"),  # not a float32
    ],
)
def test_a_schedule_that_leaves_the_positive_numbers_is_refused_before_training(schedule, bad):
    net, params, X, Y = setup(np.float32)
    with count_compiles() as compiles, pytest.raises(ValueError, match="learning_rate") as info:
        jn.fit(net, params, X, Y, learning_rate=schedule, epochs=20, verbose=0)
    assert "step 1" in str(info.value) and bad in str(info.value)
    assert compiles[CHUNK] == 0
    # only the steps that will run are checked: 10 epochs stop before the bad rates
    jn.fit(net, params, X, Y, learning_rate=schedule, epochs=10, verbose=0)


def test_a_schedule_must_return_numbers():
    net, params, X, Y = setup(np.float32)
    with pytest.raises(ValueError, match="learning_rate .*one real number per step"):
        jn.fit(net, params, X, Y, learning_rate=lambda s: "fast", epochs=2, verbose=0)


def test_a_schedule_with_a_transformation_or_an_ensemble_is_refused():
    net, params, X, Y = setup(np.float32)
    decay = jn.schedules.inverse_time_decay(0.1, 1.0)
    with pytest.raises(ValueError, match="learning_rate must be None"):
        jn.fit(net, params, X, Y, optimizer=optax.sgd(0.1), learning_rate=decay, verbose=0)
    stacked = jax.tree.map(lambda a: jnp.stack([a, a]), params)
    with pytest.raises(TypeError, match="learning_rate .*schedules are for jn.fit"):
        jn.fit_ensemble(net, stacked, X, Y, learning_rate=decay, verbose=0)


def test_rates_are_evaluated_in_fixed_blocks():
    """Step s is always computed at the same place of the same call, whatever the range."""
    calls = []

    def schedule(steps):
        calls.append((int(steps[0]), len(steps)))
        return 1.0 / (1.0 + steps)

    rates = arguments.learning_rates(schedule, np.float32, 4000, 4200)
    np.testing.assert_array_equal(rates, (1.0 / (1.0 + np.arange(4000, 4200))).astype(np.float32))
    assert calls == [(0, 4096), (4096, 4096)]
    assert arguments.learning_rates(np.float32(0.5), np.float32, 3, 6).tolist() == [0.5] * 3


# --- resume --------------------------------------------------------------------------------


def test_resume_continues_the_schedule_bitwise(tmp_path):
    net, params, X, Y = setup(np.float32)
    nb = jn.schedules.steps_per_epoch(M, B)
    decay = jn.schedules.fixed_interval_decay(0.01, 1.0, time_interval=2, steps_per_epoch=nb)
    kw = dict(optimizer="adam", learning_rate=decay, batch_size=B, key=jax.random.key(7),
              verbose=0)  # fmt: skip
    straight, h_straight = jn.fit(net, params, X, Y, epochs=6, **kw)
    jn.fit(net, params, X, Y, epochs=3, checkpoint_dir=tmp_path, **kw)
    resumed, h_resumed = jn.fit(net, params, X, Y, epochs=6, resume_from=tmp_path, **kw)
    chex.assert_trees_all_equal(resumed, straight)
    for k in ("loss", "accuracy", "learning_rate", "epoch"):
        assert h_resumed[k] == h_straight[k], k
    expected = [0.01, 0.01, 0.005, 0.005, 0.01 / 3, 0.01 / 3]
    np.testing.assert_allclose(h_straight["learning_rate"], expected, rtol=1e-7)
    # without the schedule the run cannot go on as it was
    with pytest.raises(ValueError, match="schedule: pass the same schedule again as learning_rate"):
        jn.fit(net, params, X, Y, epochs=6, resume_from=tmp_path,
               **{**kw, "learning_rate": None})  # fmt: skip


def test_resume_without_learning_rate_keeps_the_saved_constant_rate(tmp_path):
    net, params, X, Y = setup(np.float32)
    kw = dict(optimizer="rmsprop", batch_size=B, key=jax.random.key(8), verbose=0)
    straight, history = jn.fit(net, params, X, Y, learning_rate=0.003, epochs=4, **kw)
    jn.fit(net, params, X, Y, learning_rate=0.003, epochs=2, checkpoint_dir=tmp_path, **kw)
    resumed, h_resumed = jn.fit(net, params, X, Y, epochs=4, resume_from=tmp_path, **kw)
    chex.assert_trees_all_equal(resumed, straight)
    assert h_resumed["learning_rate"] == history["learning_rate"]
    # a new rate replaces it from the resumed epoch on, and the history says so
    _, h_new = jn.fit(net, params, X, Y, learning_rate=0.001, epochs=4, resume_from=tmp_path, **kw)
    np.testing.assert_allclose(h_new["learning_rate"], [0.003, 0.003, 0.001, 0.001], rtol=1e-7)
