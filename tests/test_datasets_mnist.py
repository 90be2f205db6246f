"""MNIST/Fashion-MNIST loaders on the real IDX files, path resolution, and every bad file."""

import gzip

import numpy as np
import pytest

import jaxnet.datasets as ds
from jaxnet.datasets.mnist import FILES

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An uncompressed IDX file: magic, sizes (big-endian uint32), then the uint8 values."""
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return magic.to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes()


def write_mnist(directory, n_train=10, n_test=5, seed=0, overrides=None):
    """Write four small gzip IDX files; `overrides` maps a file name to raw bytes to write."""
    rng = np.random.default_rng(seed)
    arrays = {
        FILES[0]: (rng.integers(0, 256, (n_train, 28, 28)), 2051),
        FILES[1]: (rng.integers(0, 10, n_train), 2049),
        FILES[2]: (rng.integers(0, 256, (n_test, 28, 28)), 2051),
        FILES[3]: (rng.integers(0, 10, n_test), 2049),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, (array, magic) in arrays.items():
        data = (overrides or {}).get(name)
        if data is None:
            data = gzip.compress(idx_bytes(array, magic), mtime=0)
        (directory / name).write_bytes(data)
    return {name: array for name, (array, _) in arrays.items()}


@pytest.fixture(scope="module")
def mnist(shared_data):
    return ds.load_mnist(shared_data / "mnist")


def test_real_mnist_shapes_and_dtypes(mnist):
    (X_train, y_train), (X_test, y_test) = mnist
    assert X_train.shape == (60000, 28, 28) and X_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert X_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert X_train.flags.writeable


def test_real_mnist_label_counts_and_pixel_means(mnist):
    (X_train, y_train), (X_test, y_test) = mnist
    np.testing.assert_array_equal(np.bincount(y_train), TRAIN_COUNTS)
    np.testing.assert_array_equal(np.bincount(y_test), TEST_COUNTS)
    assert X_train.mean() == pytest.approx(33.318, abs=1e-3)
    assert X_test.mean() == pytest.approx(33.791, abs=1e-3)
    assert X_train.min() == 0 and X_train.max() == 255


def test_a_folder_holding_mnist_subfolder_works(shared_data, mnist):
    (X_train, y_train), _ = ds.load_mnist(shared_data)
    np.testing.assert_array_equal(y_train, mnist[0][1])
    np.testing.assert_array_equal(X_train[:100], mnist[0][0][:100])


def test_jaxnet_data_env_var_is_the_default_root(shared_data, mnist, monkeypatch):
    monkeypatch.setenv("JAXNET_DATA", str(shared_data))
    assert ds.data_dir("mnist") == shared_data / "mnist"
    (_, y_train), (_, y_test) = ds.load_mnist()
    np.testing.assert_array_equal(y_train, mnist[0][1])
    np.testing.assert_array_equal(y_test, mnist[1][1])


def test_default_cache_dir_honours_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.delenv("JAXNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ds.data_dir("mnist") == tmp_path / "xdg" / "jaxnet" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ds.data_dir("mnist") == tmp_path / "home" / ".cache" / "jaxnet" / "mnist"


def test_small_generated_files_round_trip(tmp_path):
    arrays = write_mnist(tmp_path, n_train=7, n_test=3)
    (X_train, y_train), (X_test, y_test) = ds.load_mnist(tmp_path)
    np.testing.assert_array_equal(X_train, arrays[FILES[0]])
    np.testing.assert_array_equal(y_train, arrays[FILES[1]])
    np.testing.assert_array_equal(X_test, arrays[FILES[2]])
    np.testing.assert_array_equal(y_test, arrays[FILES[3]])
    assert X_train.dtype == np.uint8 and y_test.dtype == np.uint8


def test_fashion_mnist_reads_the_same_format_from_its_own_folder(tmp_path, monkeypatch):
    arrays = write_mnist(tmp_path / "fashion_mnist")
    monkeypatch.setenv("JAXNET_DATA", str(tmp_path))
    (X_train, _), (_, y_test) = ds.load_fashion_mnist()
    np.testing.assert_array_equal(X_train, arrays[FILES[0]])
    np.testing.assert_array_equal(y_test, arrays[FILES[3]])


@pytest.mark.parametrize("loader", [ds.load_mnist, ds.load_fashion_mnist])
def test_missing_folder_names_every_file_and_how_to_get_them(tmp_path, loader):
    with pytest.raises(FileNotFoundError) as info:
        loader(tmp_path / "nowhere")
    message = str(info.value)
    for name in FILES:
        assert name in message
    assert "download=True" in message and "JAXNET_DATA" in message


def test_one_missing_file_is_named(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / FILES[3]).unlink()
    with pytest.raises(FileNotFoundError, match=f"lacks {FILES[3]}"):
        ds.load_mnist(tmp_path)


def _gz(array, magic):
    return gzip.compress(idx_bytes(array, magic), mtime=0)


IMAGES = np.zeros((10, 28, 28), np.uint8)
LABELS = np.arange(10, dtype=np.uint8)
BAD_FILES = {
    "truncated gzip": (FILES[0], _gz(IMAGES, 2051)[:-40], "corrupt or truncated gzip"),
    "not gzip": (FILES[1], b"this is not gzip at all", "corrupt or truncated gzip"),
    "wrong image magic": (FILES[0], _gz(IMAGES, 2049), "wrong IDX magic number 2049"),
    "wrong label magic": (FILES[3], _gz(LABELS[:5], 2051), "wrong IDX magic number 2051"),
    "count mismatch": (FILES[1], _gz(LABELS[:9], 2049), "10 images but .* 9 labels"),
    "data shorter than header": (
        FILES[2],
        gzip.compress(idx_bytes(np.zeros((5, 28, 28)), 2051)[:-100]),
        "truncated",
    ),
    "trailing bytes": (FILES[1], gzip.compress(idx_bytes(LABELS, 2049) + b"xx"), "trailing"),
    "wrong image size": (FILES[0], _gz(np.zeros((10, 27, 28)), 2051), r"expected \(m, 28, 28\)"),
    "label out of range": (FILES[3], _gz(np.full(5, 10), 2049), "0..9"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_raise_value_error_naming_file_and_problem(tmp_path, case):
    name, data, problem = BAD_FILES[case]
    write_mnist(tmp_path, overrides={name: data})
    with pytest.raises(ValueError, match=problem) as info:
        ds.load_mnist(tmp_path)
    assert name in str(info.value)


def test_read_idx_plain_file_and_other_dtypes(tmp_path):
    values = np.arange(6, dtype=">i4").reshape(2, 3)
    path = tmp_path / "ints.idx"
    path.write_bytes(b"\0\0\x0c\x02" + b"\0\0\0\x02\0\0\0\x03" + values.tobytes())
    out = ds.read_idx(path)
    np.testing.assert_array_equal(out, values)
    assert out.dtype == np.int32 and out.dtype.isnative
    with pytest.raises(ValueError, match="not an IDX magic number"):
        (tmp_path / "bad.idx").write_bytes(b"\1\2\3\4")
        ds.read_idx(tmp_path / "bad.idx")


def test_download_argument_must_be_bool(tmp_path):
    with pytest.raises(TypeError, match="download"):
        ds.load_mnist(tmp_path, download="yes")
