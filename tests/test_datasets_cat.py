"""The cat vs non-cat HDF5 loader on the real files, path resolution and bad files."""

import sys

import h5py
import numpy as np
import pytest

import jaxnet.datasets as ds


@pytest.fixture(scope="module")
def cats(shared_data):
    return ds.load_cat_vs_noncat(shared_data / "catvnoncat")


def test_real_cat_data_shapes_dtypes_and_labels(cats):
    (X_train, y_train), (X_test, y_test), classes = cats
    assert X_train.shape == (209, 64, 64, 3) and X_train.dtype == np.uint8
    assert y_train.shape == (209,) and y_train.dtype == np.int32
    assert X_test.shape == (50, 64, 64, 3) and y_test.shape == (50,)
    assert int(y_train.sum()) == 72 and int(y_test.sum()) == 33
    assert set(np.unique(y_train).tolist()) == {0, 1}
    assert classes == ("non-cat", "cat") and all(isinstance(c, str) for c in classes)


def test_course_sanity_check_first_five_flattened_values(cats):
    (X_train, _), _, _ = cats
    flat = ds.flatten_images(X_train)
    assert flat.shape == (209, 12288)
    np.testing.assert_array_equal(flat[0, :5], [17, 31, 56, 22, 33])


def test_root_folder_and_jaxnet_data_env_var(shared_data, cats, monkeypatch):
    (X_a, _), _, _ = ds.load_cat_vs_noncat(shared_data)
    monkeypatch.setenv("JAXNET_DATA", str(shared_data))
    (X_b, y_b), _, _ = ds.load_cat_vs_noncat()
    np.testing.assert_array_equal(X_a, cats[0][0])
    np.testing.assert_array_equal(X_b, cats[0][0])
    np.testing.assert_array_equal(y_b, cats[0][1])


def test_missing_files_name_both_and_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        ds.load_cat_vs_noncat(tmp_path / "missing")
    message = str(info.value)
    assert "train_catvnoncat.h5" in message and "test_catvnoncat.h5" in message
    assert "JAXNET_DATA" in message and "does not exist" in message


def _write(path, split, m=4, drop=None):
    with h5py.File(path, "w") as f:
        data = {
            f"{split}_set_x": np.zeros((m, 8, 8, 3), np.uint8),
            f"{split}_set_y": np.arange(m) % 2,
            "list_classes": np.array([b"non-cat", b"cat"]),
        }
        for key, value in data.items():
            if key != drop:
                f[key] = value


def test_small_generated_files_load(tmp_path):
    _write(tmp_path / "train_catvnoncat.h5", "train", m=6)
    _write(tmp_path / "test_catvnoncat.h5", "test", m=2)
    (X, y), (X_test, _), classes = ds.load_cat_vs_noncat(tmp_path)
    assert X.shape == (6, 8, 8, 3) and X_test.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(y, [0, 1, 0, 1, 0, 1])
    assert classes == ("non-cat", "cat")


def test_corrupt_file_is_a_value_error_naming_it(tmp_path):
    _write(tmp_path / "train_catvnoncat.h5", "train")
    (tmp_path / "test_catvnoncat.h5").write_bytes(b"not hdf5" * 100)
    with pytest.raises(ValueError, match="test_catvnoncat.h5: not a readable HDF5 file"):
        ds.load_cat_vs_noncat(tmp_path)


def test_missing_dataset_key_is_named(tmp_path):
    _write(tmp_path / "train_catvnoncat.h5", "train", drop="train_set_y")
    _write(tmp_path / "test_catvnoncat.h5", "test")
    with pytest.raises(ValueError, match="train_set_y"):
        ds.load_cat_vs_noncat(tmp_path)


def test_missing_h5py_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r'pip install "jaxnet\[datasets\]"'):
        ds.load_cat_vs_noncat(tmp_path)
