"""Tests for jaxnet.checkpoint: round trips, atomic writes, corrupt files and `like` checks."""

import collections
import dataclasses
import json
import os
import stat
from pathlib import Path
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import safetensors
import safetensors.numpy

from jaxnet import checkpoint
from jaxnet.checkpoint import Checkpoint, latest, restore, save


def make_params(sizes=(3, 4, 2), seed=0, dtype=jnp.float32):
    """Course-shaped params: a tuple of {"W": (n_l, n_{l-1}), "b": (n_l,)}."""
    keys = jax.random.split(jax.random.key(seed), len(sizes) - 1)
    return tuple(
        {"W": jax.random.normal(k, (n, n_prev), dtype), "b": jnp.full((n,), 0.1 * n, dtype)}
        for k, n_prev, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
    )


def assert_same_dtypes(a, b):
    chex.assert_trees_all_equal_dtypes(a, b)
    chex.assert_trees_all_equal_structs(a, b)


def only_files(directory):
    return sorted(p.name for p in Path(directory).iterdir())


# --- round trips --------------------------------------------------------------------------


def test_params_round_trip_float32(tmp_path):
    params = make_params()
    file = save(tmp_path / "p.safetensors", params, step=3)
    assert file == tmp_path / "p.safetensors"
    ckpt = restore(file)
    assert isinstance(ckpt, Checkpoint)
    assert type(ckpt.params) is tuple and type(ckpt.params[0]) is dict
    assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(ckpt.params))
    chex.assert_trees_all_equal(ckpt.params, params)
    assert_same_dtypes(ckpt.params, params)
    assert (ckpt.step, ckpt.opt_state, ckpt.key, ckpt.history, ckpt.config) == (
        3,
        None,
        None,
        {},
        {},
    )


def test_params_round_trip_float64(tmp_path):
    with jax.enable_x64(True):
        params = make_params(dtype=jnp.float64)
        assert params[0]["W"].dtype == jnp.float64
        save(tmp_path / "p.safetensors", params, step=0)
        ckpt = restore(tmp_path / "p.safetensors", like=params)
        chex.assert_trees_all_equal(ckpt.params, params)
        assert_same_dtypes(ckpt.params, params)


def test_float64_checkpoint_without_x64_is_refused(tmp_path):
    with jax.enable_x64(True):
        save(tmp_path / "p.safetensors", make_params(dtype=jnp.float64), step=0)
    with pytest.raises(ValueError, match=r"params\[0\]\['W'\] was saved as float64.*enable_x64"):
        restore(tmp_path / "p.safetensors")


def test_mixed_leaves_round_trip(tmp_path):
    import ml_dtypes

    tree = {
        "bf16": jnp.arange(6, dtype=jnp.bfloat16).reshape(2, 3),
        "f16": jnp.array([1.5, -2.0], jnp.float16),
        "count": jnp.array(7, jnp.int32),
        "mask": jnp.array([True, False]),
        "empty": jnp.zeros((0, 3)),
        "np_bf16": np.array([0.5, 3.0], ml_dtypes.bfloat16),
        "np_scalar": np.float32(2.5),
        "c64": np.array([1 + 2j], np.complex64),
        "ints": {1: jnp.ones(1), 0: None},
        "big_endian": np.array([1.0, 2.0], ">f4"),
        "scalars": [1, 2.5, True, float("nan"), float("-inf")],
        "none": None,
        "empty_tuple": (None, ()),
        "nested": [{"a": jnp.ones(2)}, ()],
    }
    save(tmp_path / "t.safetensors", tree, step=1)
    got = restore(tmp_path / "t.safetensors").params
    assert list(got) == list(tree)
    chex.assert_trees_all_equal(
        {k: v for k, v in got.items() if k not in ("scalars", "big_endian")},
        {k: v for k, v in tree.items() if k not in ("scalars", "big_endian")},
    )
    assert got["bf16"].dtype == jnp.bfloat16 and got["np_bf16"].dtype == jnp.bfloat16
    assert got["count"].dtype == jnp.int32 and got["count"].shape == ()
    assert got["np_scalar"].shape == () and got["np_scalar"].dtype == jnp.float32
    assert got["big_endian"].tolist() == [1.0, 2.0]
    assert repr(got["scalars"]) == repr([1, 2.5, True, float("nan"), float("-inf")])
    assert got["none"] is None and got["empty_tuple"] == (None, ())
    assert list(got["ints"]) == [1, 0] and got["c64"].dtype == jnp.complex64


def test_tensor_names_and_header_are_stable_and_strict_json(tmp_path):
    params = make_params()
    opt = optax.adam(1e-3)
    file = save(tmp_path, params, opt.init(params), step=5, key=jax.random.key(1))
    with safetensors.safe_open(file, framework="numpy") as f:
        names = set(f.keys())
        header = f.metadata()["jaxnet"]
    assert {"params/0/W", "params/1/b", "opt_state/0/nu/1/b", "opt_state/0/count", "key"} <= names

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    meta = json.loads(header, parse_constant=no_constants)
    assert meta["format"] == checkpoint.FORMAT and meta["step"] == 5
    assert meta["opt_state"]["children"][0]["name"] == "ScaleByAdamState"


OPTIMIZERS = {
    "adam": lambda: optax.adam(1e-2),
    "rmsprop": lambda: optax.rmsprop(1e-2),
    "chain": lambda: optax.chain(
        optax.clip_by_global_norm(1.0), optax.scale_by_adam(), optax.scale(-1e-2)
    ),
    "inject_sgd": lambda: optax.inject_hyperparams(optax.sgd)(learning_rate=0.1),
    "inject_schedule": lambda: optax.inject_hyperparams(optax.adam)(
        learning_rate=optax.exponential_decay(0.1, 5, 0.5)
    ),
    "masked": lambda: optax.masked(optax.sgd(0.1, momentum=0.9), ({"W": True, "b": False},) * 2),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optax_state_round_trip_is_bitwise(tmp_path, name):
    optimizer = OPTIMIZERS[name]()
    params = make_params()
    state = optimizer.init(params)

    def step(params, state, seed):
        grads = jax.tree.map(lambda p: jnp.sin(p * seed) + 0.1, params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for seed in (1, 2, 3):
        params, state = step(params, state, seed)
    save(tmp_path, params, state, step=3)
    ckpt = restore(tmp_path, like=params, like_opt_state=state)
    assert jax.tree.structure(ckpt.opt_state) == jax.tree.structure(state)
    chex.assert_trees_all_equal(ckpt.opt_state, state)
    assert_same_dtypes(ckpt.opt_state, state)
    chex.assert_trees_all_equal(step(ckpt.params, ckpt.opt_state, 4), step(params, state, 4))


@pytest.mark.parametrize("impl", ["threefry2x32", "rbg"])
def test_typed_key_round_trip(tmp_path, impl):
    key = jax.random.split(jax.random.key(42, impl=impl))[1]
    save(tmp_path, make_params(), step=0, key=key)
    got = restore(tmp_path).key
    assert jnp.issubdtype(got.dtype, jax.dtypes.prng_key)
    assert str(jax.random.key_impl(got)) == impl
    chex.assert_trees_all_equal(jax.random.key_data(got), jax.random.key_data(key))
    np.testing.assert_array_equal(jax.random.normal(got, (3,)), jax.random.normal(key, (3,)))


def test_raw_key_round_trip(tmp_path):
    key = jax.random.split(jax.random.PRNGKey(7))[0]
    save(tmp_path, make_params(), step=0, key=key)
    got = restore(tmp_path).key
    assert not jnp.issubdtype(got.dtype, jax.dtypes.prng_key)
    assert got.dtype == jnp.uint32 and got.shape == (2,)
    chex.assert_trees_all_equal(got, key)


def test_history_and_config_round_trip_exactly(tmp_path):
    history = {
        "loss": [0.69, 0.5, float("nan"), float("inf")],
        "val_loss": [float("-inf"), 1e-300, 2.0],
        "accuracy": [np.float32(0.5), jnp.array(0.75)],
        "epochs": [],
        "val_accuracy": jnp.array([0.5, 0.25]),
    }
    config = {
        "sizes": (784, 512, 10),
        "activations": ["relu", "softmax"],
        "learning_rate": 1e-3,
        "batch_size": None,
        "shuffle": True,
        "name": "réseau ∑",
        "nested": {"$tuple": [1, 2], "a": {"$float": "nan"}},
        "$only": {"$dict": (1,)},
    }
    save(tmp_path, make_params(), step=2, history=history, config=config)
    ckpt = restore(tmp_path)
    expected_history = dict(history, accuracy=[0.5, 0.75], val_accuracy=[0.5, 0.25])
    assert repr(ckpt.history) == repr(expected_history)
    assert repr(ckpt.config) == repr(config)
    assert type(ckpt.config["sizes"]) is tuple and type(ckpt.history["accuracy"][0]) is float


# --- paths and latest ---------------------------------------------------------------------


def test_directory_path_writes_checkpoint_safetensors(tmp_path):
    run = tmp_path / "runs" / "exp1"
    file = save(run, make_params(), step=1)
    assert file == run / "checkpoint.safetensors" and file.is_file()
    assert restore(run).step == 1 and restore(str(file)).step == 1
    umask = os.umask(0o22)
    os.umask(umask)
    assert stat.S_IMODE(file.stat().st_mode) == 0o666 & ~umask


def test_latest_picks_highest_step(tmp_path):
    assert latest(tmp_path / "missing") is None
    assert latest(tmp_path) is None
    for step in (2, 10, 5):
        save(tmp_path / f"step_{step}.safetensors", make_params(), step=step)
    safetensors.numpy.save_file({"x": np.zeros(2)}, tmp_path / "zzz_foreign.safetensors")
    assert latest(tmp_path) == tmp_path / "step_10.safetensors"


# --- atomicity ----------------------------------------------------------------------------


def partial_write_then_fail(tensors, filename, metadata=None):
    Path(filename).write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{partial")
    raise OSError("disk full")


def fail_replace(src, dst):
    raise OSError("rename failed")


@pytest.mark.parametrize(
    "target, failing",
    [(safetensors.numpy, partial_write_then_fail), (os, fail_replace)],
    ids=["save_file", "replace"],
)
def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch, target, failing):
    old = make_params(seed=0)
    save(tmp_path, old, step=1, history={"loss": [1.0]})
    before = only_files(tmp_path)
    name = "save_file" if target is safetensors.numpy else "replace"
    with monkeypatch.context() as m:
        m.setattr(target, name, failing)
        with pytest.raises(OSError, match="disk full|rename failed"):
            save(tmp_path, make_params(seed=1), step=2, history={"loss": [0.0]})
    assert only_files(tmp_path) == before == ["checkpoint.safetensors"]
    ckpt = restore(tmp_path)
    chex.assert_trees_all_equal(ckpt.params, old)
    assert (ckpt.step, ckpt.history) == (1, {"loss": [1.0]})


def test_interrupt_during_save_leaves_no_temp_file(tmp_path, monkeypatch):
    def interrupted(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.numpy, "save_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(tmp_path / "c.safetensors", make_params(), step=0)
    assert only_files(tmp_path) == []


# --- errors -------------------------------------------------------------------------------


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.safetensors"):
        restore(tmp_path / "nothere.safetensors")
    with pytest.raises(FileNotFoundError, match=r"empty_dir.checkpoint\.safetensors"):
        restore(tmp_path / "empty_dir")


def truncate(data):
    return data[:-100]


def garble_header(data):
    return data[:8] + b"#" * 40 + data[48:]


def garble_data(data):
    return data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:]


def garble_metadata(data):
    assert b'\\"format\\"' in data
    return data.replace(b'\\"format\\"', b'\\"f#rmat\\"', 1)


def empty(data):
    return b""


@pytest.mark.parametrize("damage", [truncate, garble_header, garble_data, garble_metadata, empty])
def test_corrupt_file_raises_value_error(tmp_path, damage):
    params = make_params()
    file = save(tmp_path, params, optax.adam(1e-3).init(params), step=1)
    file.write_bytes(damage(file.read_bytes()))
    with pytest.raises(
        ValueError, match=r"checkpoint .*checkpoint\.safetensors.* (corrupt|format)"
    ):
        restore(file)


def test_foreign_safetensors_file_is_rejected(tmp_path):
    safetensors.numpy.save_file({"x": np.zeros(2)}, tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="not a jaxnet checkpoint"):
        restore(tmp_path / "w.safetensors")


def rewrite_meta(file, edit):
    with safetensors.safe_open(file, framework="numpy") as f:
        meta = json.loads(f.metadata()["jaxnet"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    edit(meta)
    safetensors.numpy.save_file(tensors, file, metadata={"jaxnet": json.dumps(meta)})


def test_checkpoint_naming_a_class_outside_the_allow_list_is_refused(tmp_path):
    params = make_params()
    file = save(tmp_path, params, optax.adam(1e-3).init(params), step=1)

    def evil(meta):
        meta["opt_state"]["children"][1].update(module="subprocess", name="CompletedProcess")

    rewrite_meta(file, evil)
    with pytest.raises(
        ValueError, match=r"opt_state\[1\] names the class subprocess.CompletedProcess: only"
    ):
        restore(file)


def test_extra_or_reshaped_tensor_is_corrupt(tmp_path):
    file = save(tmp_path, make_params(), step=1)

    def reshape(meta):
        meta["params"]["children"][0]["children"][0]["shape"] = [3, 4]

    rewrite_meta(file, reshape)
    with pytest.raises(ValueError, match=r"corrupt.*params/0/W"):
        restore(file)


class Local(NamedTuple):
    x: jax.Array


@dataclasses.dataclass
class Registered:
    x: jax.Array


jax.tree_util.register_dataclass(Registered, data_fields=["x"], meta_fields=[])


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"W": "a string"}, r"leaf of type builtins.str at params\['W'\]"),
        ((object(),), r"leaf of type builtins.object at params\[0\]"),
        (
            Local(jnp.ones(2)),
            r"node at params of type test_checkpoint.Local: only NamedTuples from",
        ),
        ([Registered(jnp.ones(2))], r"node of type test_checkpoint.Registered at params\[0\]"),
        (collections.OrderedDict(a=jnp.ones(2)), "node of type collections.OrderedDict"),
        ({"a": np.array(["x"], object)}, r"leaf of dtype object at params\['a'\]"),
        ({"a/b": jnp.ones(1), "a": {"b": jnp.ones(1)}}, "'params/a/b' is taken by another leaf"),
        ({(1, 2): jnp.ones(1)}, r"dict key \(1, 2\) at params"),
    ],
)
def test_disallowed_nodes_and_leaves_raise_on_save(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        save(tmp_path / "bad.safetensors", bad, step=0)
    assert only_files(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"step": -1}, ValueError, "step must be >= 0"),
        ({"step": 1.0}, TypeError, "step must be an int, got float"),
        ({"step": True}, TypeError, "step must be an int"),
        ({"step": 0, "key": 3}, TypeError, "key must be"),
        ({"step": 0, "key": jnp.zeros(2)}, TypeError, "key must be"),
        ({"step": 0, "history": [1.0]}, TypeError, "history must be a dict"),
        ({"step": 0, "config": {"f": {1, 2}}}, TypeError, r"config\['f'\] is a set"),
        ({"step": 0, "config": {1: "a"}}, TypeError, "config has key 1"),
        ({"step": 0, "history": {"w": [np.array(["a"])]}}, TypeError, r"history\['w'\]\[0\]"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        save(tmp_path / "bad.safetensors", make_params(), **kwargs)
    assert only_files(tmp_path) == []


def test_numpy_integer_step_is_accepted(tmp_path):
    save(tmp_path, make_params(), step=np.int64(12))
    step = restore(tmp_path).step
    assert step == 12 and type(step) is int


# --- like ---------------------------------------------------------------------------------


def test_like_with_other_layer_size_names_leaf_and_shapes(tmp_path):
    save(tmp_path, make_params((2, 4, 3)), step=0)
    with pytest.raises(
        ValueError,
        match=r"checkpoint params\[0\]\['W'\] has shape \(4, 2\), expected \(5, 2\): "
        "the checkpoint was written for a different network",
    ):
        restore(tmp_path, like=make_params((2, 5, 3)))


def test_like_with_other_depth_names_missing_leaf(tmp_path):
    save(tmp_path, make_params((2, 4, 3)), step=0)
    with pytest.raises(ValueError, match=r"checkpoint has no params\[2\]\['W'\]"):
        restore(tmp_path, like=make_params((2, 4, 3, 1)))
    with pytest.raises(ValueError, match=r"checkpoint params\[1\]\['W'\] is not in `like`"):
        restore(tmp_path, like=make_params((2, 4)))


def test_like_dtype_and_structure_mismatch(tmp_path):
    params = make_params()
    save(tmp_path, params, step=0)
    with pytest.raises(
        ValueError, match=r"params\[0\]\['W'\] has dtype float32, expected bfloat16"
    ):
        restore(tmp_path, like=jax.tree.map(lambda x: x.astype(jnp.bfloat16), params))
    with pytest.raises(ValueError, match="tree structure"):
        restore(tmp_path, like=list(params))


def test_like_accepts_abstract_shapes(tmp_path):
    params = make_params()
    optimizer = optax.adam(1e-3)
    save(tmp_path, params, optimizer.init(params), step=0)
    abstract = jax.eval_shape(lambda: params)
    ckpt = restore(tmp_path, like=abstract, like_opt_state=jax.eval_shape(optimizer.init, params))
    chex.assert_trees_all_equal(ckpt.params, params)
    with pytest.raises(ValueError, match=r"opt_state.*`like_opt_state`|no opt_state"):
        restore(tmp_path, like_opt_state=optax.rmsprop(1e-3).init(params))
