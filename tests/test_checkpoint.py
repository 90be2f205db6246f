"""Tests for jaxnet.io.checkpoint: round trips into templates, atomic writes, corrupt files."""

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

from jaxnet.io import atomic, checkpoint
from jaxnet.io.checkpoint import Checkpoint, latest, read_metadata, restore, save


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
    """The files in `directory`, less jaxnet's bookkeeping (the record of what it wrote)."""
    return sorted(p.name for p in Path(directory).iterdir() if p.name not in atomic.BOOKKEEPING)


def read_file(file):
    with safetensors.safe_open(file, framework="numpy") as f:
        return json.loads(f.metadata()["jaxnet"]), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118


def write_file(file, meta, tensors):
    """Rewrite a checkpoint with edited metadata/tensors (the checksum is NOT updated)."""
    safetensors.numpy.save_file(tensors, file, metadata={"jaxnet": json.dumps(meta)})


# --- round trips --------------------------------------------------------------------------


def test_params_round_trip_float32(tmp_path):
    params = make_params()
    file = save(tmp_path / "p.safetensors", params, step=3)
    assert file == tmp_path / "p.safetensors"
    ckpt = restore(file, params)
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


def test_structure_comes_from_the_template(tmp_path):
    params = make_params()
    save(tmp_path, params, step=0)
    as_list = restore(tmp_path, [dict(layer) for layer in params]).params
    assert type(as_list) is list
    chex.assert_trees_all_equal(tuple(as_list), params)


def test_params_round_trip_float64(tmp_path):
    with jax.enable_x64(True):
        params = make_params(dtype=jnp.float64)
        assert params[0]["W"].dtype == jnp.float64
        save(tmp_path / "p.safetensors", params, step=0)
        ckpt = restore(tmp_path / "p.safetensors", jax.eval_shape(lambda: params))
        chex.assert_trees_all_equal(ckpt.params, params)
        assert_same_dtypes(ckpt.params, params)


def test_float64_checkpoint_without_x64_is_refused(tmp_path):
    with jax.enable_x64(True):
        params = make_params(dtype=jnp.float64)
        save(tmp_path / "p.safetensors", params, step=0)
        numpy_template = jax.tree.map(np.asarray, params)
    abstract = jax.eval_shape(make_params)  # what a template is without x64: float32
    with pytest.raises(
        ValueError, match=r"params\[0\]\['W'\] was saved as float64, expected float32 .*enable_x64"
    ):
        restore(tmp_path / "p.safetensors", abstract)
    with pytest.raises(ValueError, match=r"params\[0\]\['W'\] is float64 .*enable_x64"):
        restore(tmp_path / "p.safetensors", numpy_template)


class Pair(NamedTuple):
    a: jax.Array
    b: jax.Array


@dataclasses.dataclass
class Registered:
    x: jax.Array


jax.tree_util.register_dataclass(Registered, data_fields=["x"], meta_fields=[])


def test_mixed_leaves_and_any_pytree_nodes_round_trip(tmp_path):
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
        "namedtuple": Pair(jnp.ones(1), jnp.zeros(2)),
        "dataclass": Registered(jnp.arange(3.0)),
        "ordered": collections.OrderedDict(z=jnp.ones(1), a=jnp.zeros(1)),
    }
    save(tmp_path / "t.safetensors", tree, step=1)
    got = restore(tmp_path / "t.safetensors", tree).params
    assert jax.tree.structure(got) == jax.tree.structure(tree)  # (jax sorts dict keys)
    arrays = [k for k in tree if k not in ("scalars", "big_endian")]
    chex.assert_trees_all_equal({k: got[k] for k in arrays}, {k: tree[k] for k in arrays})
    assert got["bf16"].dtype == jnp.bfloat16 and got["np_bf16"].dtype == jnp.bfloat16
    assert got["count"].dtype == jnp.int32 and got["count"].shape == ()
    assert got["np_scalar"].shape == () and got["np_scalar"].dtype == jnp.float32
    assert got["big_endian"].tolist() == [1.0, 2.0]
    assert repr(got["scalars"]) == repr([1, 2.5, True, float("nan"), float("-inf")])
    assert got["none"] is None and got["empty_tuple"] == (None, ())
    assert set(got["ints"]) == {0, 1} and got["c64"].dtype == jnp.complex64
    assert type(got["namedtuple"]) is Pair and type(got["dataclass"]) is Registered
    assert type(got["ordered"]) is collections.OrderedDict


def test_tensor_names_are_keystr_paths_and_the_header_names_no_code(tmp_path):
    params = make_params()
    opt = optax.adam(1e-3)
    file = save(tmp_path, params, opt.init(params), step=5, key=jax.random.key(1))
    with safetensors.safe_open(file, framework="numpy") as f:
        names = set(f.keys())
        header = f.metadata()["jaxnet"]
    assert {"params[0]['W']", "params[1]['b']", "opt_state[0].nu[1]['b']", "key"} <= names
    assert "opt_state[0].count" in names

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    meta = json.loads(header, parse_constant=no_constants)
    assert meta["format"] == checkpoint.FORMAT and meta["step"] == 5
    assert meta["dtypes"]["key"] == "key:threefry2x32"
    assert set(meta["dtypes"]) == names
    for word in ("optax", "ScaleByAdamState", "module", "jaxnet."):
        assert word not in header


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
    like = jax.eval_shape(lambda: params)
    ckpt = restore(tmp_path, like, like_opt_state=jax.eval_shape(optimizer.init, like))
    assert jax.tree.structure(ckpt.opt_state) == jax.tree.structure(state)
    chex.assert_trees_all_equal(ckpt.opt_state, state)
    assert_same_dtypes(ckpt.opt_state, state)
    chex.assert_trees_all_equal(step(ckpt.params, ckpt.opt_state, 4), step(params, state, 4))


def test_opt_state_is_read_only_when_asked(tmp_path):
    params = make_params()
    save(tmp_path, params, optax.adam(1e-3).init(params), step=1)
    assert restore(tmp_path, params).opt_state is None
    with pytest.raises(ValueError, match=r"has no opt_state\[0\]\.trace.*`like_opt_state`"):
        restore(tmp_path, params, like_opt_state=optax.sgd(0.1, momentum=0.9).init(params))
    with pytest.raises(ValueError, match=r"opt_state\[0\]\.count is not in `like_opt_state`"):
        restore(tmp_path, params, like_opt_state=optax.sgd(0.1).init(params))


@pytest.mark.parametrize("impl", checkpoint.KEY_IMPLS)
def test_typed_key_round_trip(tmp_path, impl):
    key = jax.random.split(jax.random.key(42, impl=impl))[1]
    save(tmp_path, make_params(), step=0, key=key)
    got = restore(tmp_path, make_params()).key
    assert jnp.issubdtype(got.dtype, jax.dtypes.prng_key)
    assert str(jax.random.key_impl(got)) == impl
    chex.assert_trees_all_equal(jax.random.key_data(got), jax.random.key_data(key))
    np.testing.assert_array_equal(jax.random.normal(got, (3,)), jax.random.normal(key, (3,)))


def test_raw_key_round_trip(tmp_path):
    key = jax.random.split(jax.random.PRNGKey(7))[0]
    save(tmp_path, make_params(), step=0, key=key)
    got = restore(tmp_path, make_params()).key
    assert not jnp.issubdtype(got.dtype, jax.dtypes.prng_key)
    assert got.dtype == jnp.uint32 and got.shape == (2,)
    chex.assert_trees_all_equal(got, key)


def test_typed_keys_inside_the_state_round_trip(tmp_path):
    state = {"rng": jax.random.split(jax.random.key(3), 4), "w": jnp.ones(2)}
    save(tmp_path, state, step=0)
    got = restore(tmp_path, jax.eval_shape(lambda: state)).params
    chex.assert_trees_all_equal(jax.random.key_data(got["rng"]), jax.random.key_data(state["rng"]))
    with pytest.raises(ValueError, match=r"params\['rng'\] was saved as key<fry>, expected uint32"):
        restore(tmp_path, {"rng": np.zeros((4,), np.uint32), "w": state["w"]})


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
        "name": 'réseau ∑ [[{{ \\" ',
        "nested": {"$tuple": [1, 2], "a": {"$float": "nan"}},
        "$only": {"$dict": (1,)},
    }
    save(tmp_path, make_params(), step=2, history=history, config=config)
    expected_history = dict(history, accuracy=[0.5, 0.75], val_accuracy=[0.5, 0.25])
    for got in (restore(tmp_path, make_params()), read_metadata(tmp_path)):
        got = got._asdict() if isinstance(got, Checkpoint) else got
        assert repr(got["history"]) == repr(expected_history)
        assert repr(got["config"]) == repr(config)
        assert (
            type(got["config"]["sizes"]) is tuple and type(got["history"]["accuracy"][0]) is float
        )


def test_read_metadata_reads_the_header_only(tmp_path):
    file = save(tmp_path, make_params(), step=7, history={"loss": [1.0]}, config={"a": 1})
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF  # a damaged tensor: restore refuses, the header is still readable
    file.write_bytes(bytes(data))
    assert read_metadata(tmp_path) == {"step": 7, "history": {"loss": [1.0]}, "config": {"a": 1}}
    with pytest.raises(ValueError, match="checksum"):
        restore(tmp_path, make_params())


# --- paths and latest ---------------------------------------------------------------------


def test_directory_path_writes_checkpoint_safetensors(tmp_path):
    run = tmp_path / "runs" / "exp1"
    file = save(run, make_params(), step=1)
    assert file == run / "checkpoint.safetensors" and file.is_file()
    assert restore(run, make_params()).step == 1 and restore(str(file), make_params()).step == 1
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
    ckpt = restore(tmp_path, old)
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
    for read in (lambda p: restore(p, make_params()), read_metadata):
        with pytest.raises(FileNotFoundError, match="nothere.safetensors"):
            read(tmp_path / "nothere.safetensors")
        with pytest.raises(FileNotFoundError, match=r"empty_dir.checkpoint\.safetensors"):
            read(tmp_path / "empty_dir")


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


def binary_noise(data):
    return bytes(range(256)) * 4


@pytest.mark.parametrize(
    "damage", [truncate, garble_header, garble_data, garble_metadata, empty, binary_noise]
)
def test_corrupt_file_raises_value_error(tmp_path, damage):
    params = make_params()
    file = save(tmp_path, params, optax.adam(1e-3).init(params), step=1)
    file.write_bytes(damage(file.read_bytes()))
    with pytest.raises(
        ValueError, match=r"checkpoint .*checkpoint\.safetensors.* (corrupt|format)"
    ):
        restore(file, params, like_opt_state=optax.adam(1e-3).init(params))


def test_foreign_safetensors_file_is_rejected(tmp_path):
    safetensors.numpy.save_file({"x": np.zeros(2)}, tmp_path / "w.safetensors")
    for read in (lambda p: restore(p, make_params()), read_metadata):
        with pytest.raises(ValueError, match="not a jaxnet checkpoint"):
            read(tmp_path / "w.safetensors")


def _edit(file, edit):
    meta, tensors = read_file(file)
    edit(meta, tensors)
    meta["sha256"] = checkpoint._digest(tensors)  # a consistent file, only its content is wrong
    write_file(file, meta, tensors)


def _add(name, value, dtype):
    def edit(meta, tensors):
        tensors[name], meta["dtypes"][name] = value, dtype

    return edit


def _drop(name):
    def edit(meta, tensors):
        del tensors[name], meta["dtypes"][name]

    return edit


def _set(field, value):
    def edit(meta, tensors):
        meta[field] = value

    return edit


def _retype(name, dtype):
    def edit(meta, tensors):
        meta["dtypes"][name] = dtype

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            _add("params[9]['W']", np.ones(2, np.float32), "float32"),
            r"params\[9\]\['W'\] is not in `like`",
        ),
        (_drop("params[1]['b']"), r"has no params\[1\]\['b'\], which `like` has"),
        (_add("evil", np.ones(2, np.float32), "float32"), "corrupt: tensor .* belongs to no part"),
        (_add("keys", np.ones(2, np.uint32), "uint32"), "corrupt: tensor .* belongs to no part"),
        (_add("key[0]", np.ones(2, np.uint32), "uint32"), "corrupt: tensor .* belongs to no part"),
        (
            _add("params_x", np.ones(2, np.float32), "float32"),
            "corrupt: tensor .* belongs to no part",
        ),
        (_set("dtypes", {}), "corrupt: its tensors do not match its metadata"),
        (_set("step", "10"), "metadata field 'step' is not a int"),
        (_set("step", -3), "corrupt"),
        (_set("history", [1, 2]), "metadata field 'history' is not a dict"),
        (_set("config", None), "metadata field 'config' is not a dict"),
        (_set("format", 1), "has format 1; jaxnet reads format 2"),
        (
            _retype("params[0]['W']", "bfloat16"),
            r"corrupt: params\[0\]\['W'\] is float32, not bfloat16",
        ),
        (_retype("params[0]['W']", 7), "corrupt: its dtypes are not names"),
        (
            _add("key", np.ones(3, np.uint32), "key:threefry2x32"),
            "corrupt: key is not threefry2x32",
        ),
        (_add("key", np.ones(2, np.float32), "key:threefry2x32"), "corrupt: key is not key data"),
        (_add("key", np.ones(2, np.uint32), "key:os.system"), "corrupt: key is not key data"),
    ],
)
def test_a_file_that_does_not_fit_its_template_or_itself_is_refused(tmp_path, edit, match):
    file = save(tmp_path, make_params(), step=1)
    _edit(file, edit)
    with pytest.raises(ValueError, match=match):
        restore(file, make_params())


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"W": "a string"}, r"leaf of type builtins.str at params\['W'\]"),
        ((object(),), r"leaf of type builtins.object at params\[0\]"),
        ({"a": np.array(["x"], object)}, r"leaf of dtype object at params\['a'\]"),
        ({"a": np.array(["x"])}, r"leaf of dtype <U1 at params\['a'\]"),
        ({"a": 2**70}, r"leaf of dtype object at params\['a'\]"),
    ],
)
def test_leaves_that_are_not_arrays_raise_on_save(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        save(tmp_path / "bad.safetensors", bad, step=0)
    assert only_files(tmp_path) == []


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"step": -1}, ValueError, r"step must be an int in \[0, 9007199254740991\], got step=-1"),
        ({"step": 1.0}, TypeError, "step must be an int .* got step=1.0 of type float"),
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
    step = read_metadata(tmp_path)["step"]
    assert step == 12 and type(step) is int


# --- templates ----------------------------------------------------------------------------


def test_like_with_other_layer_size_names_leaf_and_shapes(tmp_path):
    save(tmp_path, make_params((2, 4, 3)), step=0)
    with pytest.raises(
        ValueError,
        match=r"params\[0\]\['W'\] has shape \(4, 2\), expected \(5, 2\): "
        "the checkpoint was written for a different network",
    ):
        restore(tmp_path, make_params((2, 5, 3)))


def test_like_with_other_depth_names_missing_leaf(tmp_path):
    save(tmp_path, make_params((2, 4, 3)), step=0)
    with pytest.raises(ValueError, match=r"has no params\[2\]\['W'\], which `like` has"):
        restore(tmp_path, make_params((2, 4, 3, 1)))
    with pytest.raises(ValueError, match=r"params\[1\]\['W'\] is not in `like`"):
        restore(tmp_path, make_params((2, 4)))


def test_like_dtype_mismatch_and_bad_template(tmp_path):
    params = make_params()
    save(tmp_path, params, step=0)
    with pytest.raises(
        ValueError, match=r"params\[0\]\['W'\] was saved as float32, expected bfloat16"
    ):
        restore(tmp_path, jax.tree.map(lambda x: x.astype(jnp.bfloat16), params))
    with pytest.raises(TypeError, match=r"`like` has a str at params\[0\]\['W'\]"):
        restore(tmp_path, ({"W": "W", "b": params[0]["b"]}, params[1]))
    with pytest.raises(ValueError, match=r"params\[0\]\['W'\] has shape \(4, 3\), expected \(\)"):
        restore(tmp_path, ({"W": 1.0, "b": params[0]["b"]}, params[1]))


def test_nothing_is_returned_from_a_partly_matching_file(tmp_path):
    params = make_params()
    save(tmp_path, params, optax.adam(1e-3).init(params), step=0)
    with pytest.raises(ValueError, match=r"opt_state"):
        restore(tmp_path, params, like_opt_state=optax.rmsprop(1e-3).init(params))
