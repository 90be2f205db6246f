"""``jn.enable_compilation_cache``: which folder, a second process hits the cache with
bit-identical results, and a bad folder or corrupt entries never fail a run."""

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import jax
import pytest
from helpers import REPO

import jaxnet as jn
from jaxnet.io import compilation_cache as cc

CONFIG = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
    "jax_enable_compilation_cache",
)

# One fit, reported as JSON: a hash of the trained params' bytes and JAX's cache events.
FIT = textwrap.dedent(
    """
    import hashlib, json, sys
    import jax, numpy as np
    import jaxnet as jn
    from jaxnet import datasets as ds

    events = {}
    def listen(event, **kwargs):
        events[event] = events.get(event, 0) + 1
    jax.monitoring.register_event_listener(listen)
    folder = jn.enable_compilation_cache()
    X, y = ds.planar_flower(jax.random.key(1), m=64)
    net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    params = jn.init(jax.random.key(0), net, scheme="normal")
    params, _ = jn.fit(net, params, X, y, optimizer="sgd", learning_rate=1.2, epochs=50, verbose=0)
    digest = hashlib.sha256(b"".join(np.asarray(a).tobytes() for a in jax.tree.leaves(params)))
    print(json.dumps({
        "folder": None if folder is None else str(folder),
        "params": digest.hexdigest(),
        "hits": events.get("/jax/compilation_cache/cache_hits", 0),
        "writes": events.get("/jax/compilation_cache/cache_misses", 0),
    }))
    """
)


@pytest.fixture
def fresh(monkeypatch):
    """A process state where no cache warning was given yet; JAX's cache config restored after."""
    saved = {name: jax.config.values[name] for name in CONFIG}
    monkeypatch.setattr(cc, "_warned", False)
    monkeypatch.delenv(cc.ENV_VAR, raising=False)
    yield
    for name, value in saved.items():
        jax.config.update(name, value)


def run_fit(cache_setting, *extra_args) -> tuple[dict, str]:
    env = {**os.environ, cc.ENV_VAR: str(cache_setting), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, *extra_args, "-c", FIT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


# --- which folder ---------------------------------------------------------------------------


def test_default_folder_honours_xdg_cache_home(fresh, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cc.cache_folder() == tmp_path / "xdg" / "jaxnet" / "xla"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: only absolute paths
    assert cc.cache_folder() == Path.home() / ".cache" / "jaxnet" / "xla"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cc.cache_folder() == Path.home() / ".cache" / "jaxnet" / "xla"


@pytest.mark.parametrize("off", ["0", "off", "OFF", "false", "no"])
def test_environment_variable_disables_the_cache(fresh, monkeypatch, off):
    monkeypatch.setenv(cc.ENV_VAR, off)
    assert cc.cache_folder() is None
    assert jn.enable_compilation_cache() is None
    assert jax.config.values["jax_compilation_cache_dir"] is None


def test_environment_variable_folder_and_explicit_path(fresh, monkeypatch, tmp_path):
    monkeypatch.setenv(cc.ENV_VAR, str(tmp_path / "from_env"))
    assert cc.cache_folder() == tmp_path / "from_env"
    assert cc.cache_folder(tmp_path / "explicit") == tmp_path / "explicit"  # path wins
    monkeypatch.setenv(cc.ENV_VAR, "off")
    assert cc.cache_folder(str(tmp_path / "explicit")) == tmp_path / "explicit"


def test_enable_sets_the_jax_options_and_creates_the_folder(fresh, tmp_path):
    folder = jn.enable_compilation_cache(tmp_path / "a" / "b", min_compile_time_secs=0.25)
    assert folder == tmp_path / "a" / "b" and folder.is_dir()
    assert jax.config.values["jax_compilation_cache_dir"] == str(folder)
    assert jax.config.values["jax_persistent_cache_min_compile_time_secs"] == 0.25
    assert jax.config.values["jax_persistent_cache_min_entry_size_bytes"] == -1
    assert list(folder.iterdir()) == []  # the write probe leaves nothing behind


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"min_compile_time_secs": -1.0}, ValueError, "min_compile_time_secs"),
        ({"min_compile_time_secs": float("nan")}, ValueError, "min_compile_time_secs"),
        ({"min_compile_time_secs": "0"}, TypeError, "min_compile_time_secs"),
        ({"path": 3}, TypeError, "path must be a folder"),
    ],
)
def test_bad_arguments_raise_naming_them(fresh, kwargs, error, match):
    with pytest.raises(error, match=match):
        jn.enable_compilation_cache(**kwargs)


# --- a bad folder never fails a run -----------------------------------------------------------


def test_unusable_folder_warns_once_and_leaves_the_cache_off(fresh, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    with pytest.warns(RuntimeWarning, match="going on without the cache") as caught:
        assert jn.enable_compilation_cache(a_file) is None
    assert len(caught) == 1 and str(a_file) in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process: the second call is silent
        assert jn.enable_compilation_cache(a_file / "below") is None
    assert jax.config.values["jax_compilation_cache_dir"] is None


def test_corrupt_entries_are_removed_with_one_warning(fresh, tmp_path):
    (tmp_path / "deadbeef-cache").write_bytes(b"garbage, not a compressed executable")
    (tmp_path / "empty-cache").write_bytes(b"")
    (tmp_path / "ok-cache").write_bytes(b"\x28\xb5\x2f\xfd rest of a zstandard frame")
    (tmp_path / "zlib-cache").write_bytes(b"\x78\x9c rest of a zlib stream")
    with pytest.warns(RuntimeWarning, match="removed 2 corrupt entries"):
        assert jn.enable_compilation_cache(tmp_path) == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok-cache", "zlib-cache"]


# --- two processes ----------------------------------------------------------------------------


@pytest.mark.integration
def test_second_process_hits_the_cache_with_bit_identical_results(tmp_path):
    folder = tmp_path / "xla"
    first, _ = run_fit(folder)
    assert first["folder"] == str(folder) and first["hits"] == 0 and first["writes"] > 0
    assert len(list(folder.glob("*-cache"))) == first["writes"]
    second, _ = run_fit(folder)
    assert second["hits"] == first["writes"] and second["writes"] == 0
    assert second["params"] == first["params"]
    without, _ = run_fit("off")
    assert without["folder"] is None and without["hits"] == without["writes"] == 0
    assert without["params"] == first["params"]
    for entry in folder.glob("*-cache"):  # now corrupt every entry: the run still succeeds
        entry.write_bytes(b"corrupt")
    third, stderr = run_fit(folder, "-W", "error::UserWarning")
    assert stderr.count("RuntimeWarning") == 1 and "corrupt entries" in stderr
    assert third["params"] == first["params"] and third["writes"] == first["writes"]
