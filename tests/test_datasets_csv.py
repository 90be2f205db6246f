"""load_csv: labelled CSV files like the seed's mnist_train.csv, and every malformed file."""

import numpy as np
import pytest

import jaxnet.datasets as ds


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_mnist_style_csv(tmp_path):
    path = write(tmp_path, "label,1x1,1x2,1x3\n5,0,0,255\n0,12,0,3\n4,0,1,0\n")
    X, y = ds.load_csv(path)
    assert X.shape == (3, 3) and X.dtype == np.float32
    assert y.shape == (3,) and y.dtype == np.int32
    np.testing.assert_array_equal(y, [5, 0, 4])
    np.testing.assert_array_equal(X[0], [0, 0, 255])


def test_label_column_anywhere_and_named(tmp_path):
    path = write(tmp_path, "a,target,b\n1.5,1,2\n3,0,4\n\n")
    X, y = ds.load_csv(path, label_column="target")
    np.testing.assert_array_equal(X, [[1.5, 2], [3, 4]])
    np.testing.assert_array_equal(y, [1, 0])


@pytest.mark.parametrize(
    "text,problem",
    [
        ("", "empty file"),
        ("\n\n", "empty file"),
        ("label,a\n", "no data rows"),
        ("a,b\n1,2\n", "no column named 'label'"),
        ("label,label\n1,2\n", "more than one column"),
        ("label,a,b\n1,2,3\n0,x,3\n", r"line 3, column 'a': 'x' is not a number"),
        ("label,a,b\n1,2,3\n0,2\n", "line 3: 2 cells, but the header names 3 columns"),
        ("label,a\n1,2,3\n0,1,1\n", "line 2: 3 cells"),
        ("label,a\n1,2\n\n0.5,3\n", r"line 4: label column 'label' holds 0\.5"),
        ("label,a\n1,2\nnan,3\n", r"line 3, column 'label': 'nan' is not a finite number"),
        ("label,a\n1,2\n-1,3\n", r"line 3: label column 'label' holds -1; .* integers 0\.\.K-1"),
        ("label,a\n1,2\n999999999,3\n", r"line 3: .* holds 999999999; .*numpy\.unique"),
        ("label,a\n1,2\n1e300,3\n", r"line 3: .* holds 1e\+300"),
    ],
)
def test_malformed_files_raise_value_error_naming_the_problem(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=problem) as info:
        ds.load_csv(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        ds.load_csv(tmp_path / "nope.csv")
