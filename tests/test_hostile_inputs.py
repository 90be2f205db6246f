"""Hostile and careless inputs (issue 16, security and crash rows): each row is a class of
inputs, tested over several of its members. Hostile files are built in tmp_path."""

import gzip
import json
import subprocess
import sys
import tracemalloc

import h5py
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors
import safetensors.numpy

import jaxnet.datasets as ds
from jaxnet.io import atomic, checkpoint
from jaxnet.io.csv import read_table

PARAMS = ({"W": jnp.ones((3, 2)), "b": jnp.zeros(3)},)


def _one_line_naming(error, path):
    message = str(error.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    return message


# --- row 1: a crafted checkpoint never runs code -------------------------------------------


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """An importable module that leaves a marker file when imported; its name, and the marker."""
    name = f"jaxnet_probe_{tmp_path.name.replace('-', '_').replace('.', '_')}"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('imported')\nclass X: pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, marker


def _craft(file, edit):
    """Rewrite a saved checkpoint with `edit(meta, tensors)` applied, checksum made consistent."""
    with safetensors.safe_open(file, framework="numpy") as f:
        meta = json.loads(f.metadata()["jaxnet"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    edit(meta, tensors)
    meta["sha256"] = checkpoint._digest(tensors)
    safetensors.numpy.save_file(tensors, file, metadata={"jaxnet": json.dumps(meta)})


def _old_format_naming(module):
    def edit(meta, tensors):  # the format of the former _treespec, which imported classes
        meta.clear()
        meta |= {
            "format": 1,
            "step": 1,
            "history": {},
            "config": {},
            "params": {"t": "namedtuple", "module": module, "name": "X", "fields": [],
                       "children": []},
            "opt_state": {"t": "none"},
            "key": {"t": "none"},
        }  # fmt: skip

    return edit


def _fields_naming(module):
    def edit(meta, tensors):
        meta |= {"module": module, "class": f"{module}.X", "opt_state": {"module": module}}
        meta["config"] = {"network": {"module": module, "name": "X", "$class": "os.system"}}
        meta["history"] = {"loss": [{"$float": f"{module}.X"}, {"$tuple": module}]}

    return edit


def _dtype_naming(module):
    def edit(meta, tensors):
        meta["dtypes"]["params[0]['W']"] = f"{module}.X"

    return edit


def _key_impl_naming(module):
    def edit(meta, tensors):
        tensors["key"] = np.zeros(2, np.uint32)
        meta["dtypes"]["key"] = f"key:{module}"

    return edit


def _tensor_naming(module):
    def edit(meta, tensors):
        tensors[module] = np.zeros(1, np.float32)
        meta["dtypes"][module] = "float32"

    return edit


# case -> (craft, restore refuses with, read_metadata refuses with); None: read as plain data
CRAFTED = {
    "old format naming a class": (_old_format_naming, "has format 1", "has format 1"),
    "metadata fields naming modules": (_fields_naming, None, None),
    "dtype naming a module": (_dtype_naming, "corrupt: params", None),
    "key impl naming a module": (_key_impl_naming, "corrupt: key is not key data", None),
    "tensor named after a module": (_tensor_naming, "belongs to no part", "belongs to no part"),
}


@pytest.mark.parametrize("target", ["probe", "jaxnet.__main__", "os"])
@pytest.mark.parametrize("case", CRAFTED)
def test_a_crafted_checkpoint_imports_nothing_it_names(tmp_path, probe, case, target):
    module, marker = probe
    module = module if target == "probe" else target
    craft, restore_refused, metadata_refused = CRAFTED[case]
    file = checkpoint.save(tmp_path / "ckpt", PARAMS, step=1)
    checkpoint.restore(file, PARAMS)  # warm up: whatever restoring imports is imported now
    _craft(file, craft(module))
    before = set(sys.modules)
    reads = [
        (lambda: checkpoint.restore(file, PARAMS), restore_refused),
        (lambda: checkpoint.read_metadata(file), metadata_refused),
    ]
    for read, refused in reads:
        if refused is None:
            read()  # the names are plain strings: kept as data, never looked up
        else:
            with pytest.raises(ValueError, match=refused):
                read()
    assert set(sys.modules) == before
    assert not marker.exists()
    if refused is None and case == "metadata fields naming modules":
        assert checkpoint.read_metadata(file)["config"]["network"]["module"] == module


# --- row 15: deeply nested JSON in checkpoint metadata ----------------------------------


def _deep_list(depth):
    return json.loads("[" * depth + "]" * depth)  # built by the C parser below its limit


def _nest(field, depth):
    def edit(meta, tensors):
        value = "[" * depth + "1" + "]" * depth
        meta[field] = json.loads(value) if depth < 500 else None
        meta["_raw"] = (field, value)

    return edit


def _write_raw(file, field, value):
    """Put `value` (JSON text, any depth) as `field` of the metadata, bypassing json.dumps."""
    with safetensors.safe_open(file, framework="numpy") as f:
        meta = json.loads(f.metadata()["jaxnet"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    meta[field] = "@@"
    text = json.dumps(meta).replace('"@@"', value)
    safetensors.numpy.save_file(tensors, file, metadata={"jaxnet": text})


@pytest.mark.parametrize(
    "field, value",
    [
        ("history", '{"loss": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        ("config", '{"a": ' * 50_000 + "1" + "}" * 50_000),
        ("extra", "[" * 3_000 + '"x"' + "]" * 3_000),
        ("config", '{"n": ' + '{"$tuple": [' * 40 + "1" + "]}" * 40 + "}"),  # 83 levels
        ("history", '{"s": "' + "[" * 10_000 + '", "d": ' + "[" * 70 + "]" * 70 + "}"),
    ],
    ids=["lists-1e5", "dicts-5e4", "unknown-field", "tuple-tags", "brackets-in-strings-too"],
)
def test_deeply_nested_metadata_is_refused_without_recursion_error(tmp_path, field, value):
    file = checkpoint.save(tmp_path / "c.safetensors", PARAMS, step=1)
    _write_raw(file, field, value)
    for read in (
        lambda: checkpoint.restore(file, PARAMS),
        lambda: checkpoint.read_metadata(file),
        lambda: checkpoint.latest(tmp_path),
    ):
        with pytest.raises(ValueError, match="nested more than 64 levels") as error:
            read()
        _one_line_naming(error, file)


def test_brackets_inside_metadata_strings_are_not_nesting(tmp_path):
    config = {"name": "[" * 10_000, "note": '{"[\\\\"'}
    checkpoint.save(tmp_path, PARAMS, step=1, config=config)
    assert checkpoint.read_metadata(tmp_path)["config"] == config


def test_a_deeply_nested_safetensors_header_is_refused(tmp_path):
    header = json.dumps({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
    header = header.replace('"shape": [1]', '"shape": ' + "[" * 10_000 + "1" + "]" * 10_000)
    file = tmp_path / "deep.safetensors"
    file.write_bytes(len(header).to_bytes(8, "little") + header.encode() + b"\0" * 4)
    with pytest.raises(ValueError, match="corrupt or truncated"):
        checkpoint.restore(file, PARAMS)


@pytest.mark.parametrize("depth", [70, 100_000])
def test_saving_what_restore_would_refuse_is_refused(tmp_path, depth):
    deep = []
    for _ in range(depth):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deeply"):
        checkpoint.save(tmp_path, PARAMS, step=1, history={"loss": deep})
    assert list(tmp_path.iterdir()) == []


# --- row 17: a label of 999999999 in a tiny CSV -----------------------------------------


@pytest.mark.parametrize("label", ["999999999", "10000", "4294967296", "1e20", "-1", "2.5"])
def test_labels_must_be_class_indices_0_to_k_minus_1(tmp_path, label):
    path = tmp_path / "tiny.csv"
    path.write_text(f"label,x\n0,1\n{label},2\n")
    with pytest.raises(ValueError, match=r"line 3: .* integers 0\.\.K-1 .*numpy\.unique") as e:
        ds.load_csv(path)
    _one_line_naming(e, path)


def test_the_class_bound_is_an_argument(tmp_path):
    path = tmp_path / "tiny.csv"
    path.write_text("label,x\n0,1\n9999,2\n")
    assert ds.load_csv(path)[1].tolist() == [0, 9999]
    with pytest.raises(ValueError, match="K <= 10"):
        ds.load_csv(path, max_classes=10)


# --- row 18: a small HDF5 file declaring a huge array -----------------------------------


def _cat_files(folder, **train):
    """Course-shaped cat files; `train` replaces a training dataset by create_dataset kwargs."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, m in (("train", 4), ("test", 2)):
        with h5py.File(folder / f"{split}_catvnoncat.h5", "w") as f:
            specs = {
                f"{split}_set_x": {"data": np.zeros((m, 64, 64, 3), np.uint8)},
                f"{split}_set_y": {"data": np.array([0, 1] * (m // 2))},
                "list_classes": {"data": np.array([b"non-cat", b"cat"])},
            }
            if split == "train":
                specs |= {f"train_set_{k}": v for k, v in train.items() if k in ("x", "y")}
                specs |= {k: v for k, v in train.items() if k == "list_classes"}
            for key, kwargs in specs.items():
                f.create_dataset(key, **kwargs)
    return folder


HUGE_HDF5 = {  # case -> (training datasets replaced, the problem named)
    "10^7 images": ({"x": {"shape": (10**7, 64, 64, 3), "dtype": "u1"}}, "122880000000 bytes"),
    "huge images": ({"x": {"shape": (4, 10**5, 10**5, 3), "dtype": "u1"}}, "refusing to read"),
    "float64 pixels": ({"x": {"shape": (4, 64, 64, 3), "dtype": "f8"}}, "expected uint8"),
    "labels of another length": ({"y": {"shape": (10**9,), "dtype": "i8"}}, "expected 4 int"),
    "float labels": ({"y": {"data": np.zeros(4)}}, "expected 4 integer labels"),
    "a million class names": (
        {"list_classes": {"shape": (10**6,), "dtype": "S7"}},
        "expected 2 class names",
    ),
    "very long class names": (
        {"list_classes": {"shape": (2,), "dtype": "S100000"}},
        "expected 2 class names",
    ),
    "external storage": (
        {"x": {"shape": (4, 64, 64, 3), "dtype": "u1", "external": [("/dev/zero", 0, 49152)]}},
        "not a dataset stored in the file itself",
    ),
}


@pytest.mark.parametrize("case", HUGE_HDF5)
def test_hdf5_declared_shapes_are_checked_before_reading(tmp_path, case):
    datasets, problem = HUGE_HDF5[case]
    folder = _cat_files(tmp_path / "cats", **datasets)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=problem) as error:
            ds.load_cat_vs_noncat(folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _one_line_naming(error, folder / "train_catvnoncat.h5")
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MiB allocated before refusing"


def test_hdf5_virtual_dataset_is_refused(tmp_path):
    folder = _cat_files(tmp_path / "cats")
    source = tmp_path / "elsewhere.h5"
    with h5py.File(source, "w") as f:
        f.create_dataset("x", data=np.zeros((4, 64, 64, 3), np.uint8))
    layout = h5py.VirtualLayout(shape=(4, 64, 64, 3), dtype="u1")
    layout[:] = h5py.VirtualSource(source, "x", shape=(4, 64, 64, 3))
    with h5py.File(folder / "train_catvnoncat.h5", "a") as f:
        del f["train_set_x"]
        f.create_virtual_dataset("train_set_x", layout)
    with pytest.raises(ValueError, match="not a dataset stored in the file itself"):
        ds.load_cat_vs_noncat(folder)


# --- row 19: a gzip bomb as an IDX file --------------------------------------------------


def _idx_header(magic, shape):
    return magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in shape)


def _bomb(path, header, zeros=64 * 2**20):
    """A gzip file: `header`, then `zeros` zero bytes (compresses about 1000:1)."""
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(header)
        chunk = bytes(2**20)
        for _ in range(zeros // len(chunk)):
            f.write(chunk)
    return path


IDX_BOMBS = {
    "small header, 64 MB of data": (_idx_header(2051, (10, 28, 28)), "trailing bytes"),
    "header declaring 2**32-1 images": (
        _idx_header(2051, (2**32 - 1, 28, 28)),
        "more than the 2147483648 bytes allowed",
    ),
    "images of another size": (_idx_header(2051, (60000, 4096, 4096)), r"expected \(m, 28, 28\)"),
    "255 dimensions": (_idx_header(0x08FF, (1,) * 255), "wrong IDX magic number"),
}


@pytest.mark.parametrize("case", IDX_BOMBS)
def test_an_idx_gzip_bomb_fails_before_allocating_more_than_its_header_promised(tmp_path, case):
    header, problem = IDX_BOMBS[case]
    path = _bomb(tmp_path / "train-images-idx3-ubyte.gz", header)
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=problem) as error:
            ds.read_idx(path, 2051, expected_shape=(None, 28, 28))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _one_line_naming(error, path)
    assert peak < 8 * 2**20, f"{peak / 2**20:.0f} MiB allocated for a 64 MiB bomb"


def test_a_multi_member_gzip_bomb_behind_a_valid_file_is_refused(tmp_path):
    valid = gzip.compress(_idx_header(2049, (4,)) + bytes(4), mtime=0)
    bomb = _bomb(tmp_path / "bomb.gz", b"")
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(valid + bomb.read_bytes())
    with pytest.raises(ValueError, match="trailing bytes"):
        ds.read_idx(path, 2049)


def test_load_mnist_refuses_a_bomb_among_its_files(tmp_path):
    for name, shape in zip(ds.mnist.FILES, [(10, 28, 28), (10,), (5, 28, 28), (5,)], strict=True):
        magic = 2051 if len(shape) == 3 else 2049
        (tmp_path / name).write_bytes(
            gzip.compress(_idx_header(magic, shape) + bytes(np.prod(shape)))
        )
    assert ds.load_mnist(tmp_path)[1][0].shape == (5, 28, 28)
    _bomb(tmp_path / "t10k-images-idx3-ubyte.gz", _idx_header(2051, (5, 28, 28)))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz.*trailing bytes"):
        ds.load_mnist(tmp_path)


@pytest.mark.parametrize("max_bytes", [0, 7839])
def test_read_idx_max_bytes_is_checked_before_reading(tmp_path, max_bytes):
    path = tmp_path / "x.idx"
    path.write_bytes(_idx_header(2051, (10, 28, 28)) + bytes(7840))
    with pytest.raises(ValueError, match="7840 bytes of data"):
        ds.read_idx(path, max_bytes=max_bytes)
    assert ds.read_idx(path, max_bytes=7840).shape == (10, 28, 28)


# --- row 24: CSV errors name the user's file and line, in one line ----------------------

CSV_CASES = {
    "semicolons": ("a;b\n1;2\n", r"line 2, .*separated by ';', pass delimiter=';'"),
    "semicolons, no header": ("1;2\n3;4\n", r"line 1, .*separated by ';'"),
    "tabs": ("1\t2\n3\t4\n", r"line 1, .*separated by '\\t'"),
    "hex": ("x,y\n1,0x1A\n", r"line 2, column 'y': '0x1A' is not a decimal number"),
    "hex, upper case, no header": ("0X1F,2\n", r"line 1, column 1: '0X1F' is not a decimal"),
    "binary literal": ("x,y\n1,0b101\n", "line 2, column 'y': '0b101' is not a decimal"),
    "empty file": ("", "empty file"),
    "blank lines only": ("\n  \n\r\n", "empty file"),
    "header only": ("x,y\n", "a header but no data rows"),
    "empty cell": ("x,y\n1,\n", "line 2, column 'y': an empty cell"),
    "NaN": ("x,y\n1,2\n3,NaN\n", r"line 3, column 'y': 'NaN' is not a finite number"),
    "nan, no header": ("1,nan\n", "line 1, column 2: 'nan' is not a finite number"),
    "-inf": ("x,y\n-inf,1\n", "line 2, column 'x': '-inf' is not a finite"),
    "Infinity": ("x,y\n1,Infinity\n", "line 2, column 'y': 'Infinity' is not a finite"),
    "1e400": ("x,y\n1,2\n1e400,3\n", r"line 3, column 'x': 1e400 is too large for float64"),
    "-1e309": ("x,y\n-1e309,3\n", "line 2, column 'x': -1e309 is too large for float64"),
    "1e39 in float32": ("x,y\n1e39,3\n", "line 2, column 'x': 1e39 is too large for float32"),
    "ragged": ("x,y\n1,2\n3\n", "line 3: 1 cell, but the header names 2 columns"),
    "ragged, no header": ("1,2\n3,4,5\n", "line 2: 3 cells, but line 1 has 2"),
    "text among numbers": ("x,y\n1,2\n3,four\n", "line 3, column 'y': 'four' is not a number"),
    "mixed first row": ("1.5,abc\n1,2\n", "line 1, column 2: 'abc' is not a number"),
}


@pytest.mark.parametrize("case", CSV_CASES)
def test_csv_problems_are_one_line_naming_file_and_line(tmp_path, case):
    text, problem = CSV_CASES[case]
    path = tmp_path / "user data.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=problem) as error:
        read_table(path)
    _one_line_naming(error, path)


BINARY = {
    "NUL bytes": (b"1,2\n\x00\x00\x00\n", "line 2: a NUL byte; this is a binary file"),
    "PNG": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 3: a NUL byte"),
    "gzip": (gzip.compress(b"1,2\n3,4\n"), "(NUL byte|not UTF-8)"),
    "UTF-16": ("x,y\n1,2\n".encode("utf-16"), "line 1: (a NUL byte|byte 0xff)"),
    "Latin-1": ("x,y\n1,2\ncafé,3\n".encode("latin-1"), "line 3: byte 0xe9 is not UTF-8"),
    "random bytes": (bytes(range(128, 256)) * 8, "line 1: byte 0x80 is not UTF-8"),
}


@pytest.mark.parametrize("case", BINARY)
def test_binary_and_undecodable_csv_files_name_the_file(tmp_path, case):
    data, problem = BINARY[case]
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    for read in (read_table, ds.load_csv):
        with pytest.raises(ValueError, match=problem) as error:
            read(path)
        _one_line_naming(error, path)


def test_a_directory_given_as_csv_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="is a directory, not a CSV file") as error:
        read_table(tmp_path)
    _one_line_naming(error, tmp_path)


# --- row 30: temporaries of a killed save are cleaned by the next save --------------------

_KILLED_SAVE = """
import os, sys
import jax.numpy as jnp
import safetensors.numpy
from jaxnet.io import atomic, checkpoint

def dies(tensors, filename, metadata=None):
    open(filename, "wb").write(b"x" * 100_000)
    os._exit(9)  # like kill -9: no cleanup runs

folder, what = sys.argv[1], sys.argv[2]
if what == "checkpoint":
    safetensors.numpy.save_file = dies
    checkpoint.save(folder, ({"W": jnp.ones((3, 2))},), step=1)
else:
    with atomic.atomic_path(os.path.join(folder, "history.json")) as tmp:
        dies(None, tmp)
"""

_NEXT_SAVE = """
import sys
import jax.numpy as jnp
from jaxnet.io import atomic, checkpoint

folder, what = sys.argv[1], sys.argv[2]
if what == "checkpoint":
    checkpoint.save(folder, ({"W": jnp.ones((3, 2))},), step=2)
else:
    atomic.write_json(folder + "/history.json", {"loss": [1.0]})
"""


@pytest.mark.integration  # two Python processes, the first killed mid-write
@pytest.mark.parametrize("what", ["checkpoint", "json"])
def test_a_save_killed_mid_write_leaves_a_temp_the_next_save_removes(tmp_path, what):
    def run(code):
        return subprocess.run([sys.executable, "-c", code, str(tmp_path), what], check=False)

    assert run(_KILLED_SAVE).returncode == 9
    target = "checkpoint.safetensors" if what == "checkpoint" else "history.json"
    stale = [
        p.name
        for p in tmp_path.iterdir()
        if atomic.temp_pattern(tmp_path / target).fullmatch(p.name)
    ]
    assert len(stale) == 1 and not (tmp_path / target).exists()
    assert run(_NEXT_SAVE).returncode == 0
    left = sorted(p.name for p in tmp_path.iterdir() if p.name not in atomic.BOOKKEEPING)
    assert left == [target]
