"""Text loading (``load_text_lines``, ``load_dinos``) and the character vocabulary."""

import hashlib

import numpy as np
import pytest

import jaxnet as jn

DINOS_SHA256 = "0704eb65c34137226ad13023cfaa77edf70222aaaf3e2a926b9b791a25b025f6"


def test_lines_are_stripped_and_blank_lines_dropped(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes(b"  one \r\n\n\t\ntwo\r\nthree")
    assert jn.datasets.load_text_lines(p) == ["one", "two", "three"]
    assert jn.datasets.load_text_lines(str(p)) == ["one", "two", "three"]


def test_bad_text_files_get_clear_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="holds no text: it is empty"):
        jn.datasets.load_text_lines(empty)
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n\t\n")
    with pytest.raises(ValueError, match="holds no text"):
        jn.datasets.load_text_lines(blank)
    big = tmp_path / "big.txt"
    big.write_text("x" * 101)
    with pytest.raises(ValueError, match="larger than max_bytes=100 bytes"):
        jn.datasets.load_text_lines(big, max_bytes=100)
    assert jn.datasets.load_text_lines(big, max_bytes=101) == ["x" * 101]
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match="is not utf-8 text"):
        jn.datasets.load_text_lines(latin)
    assert jn.datasets.load_text_lines(latin, encoding="latin-1") == ["café"]
    with pytest.raises(FileNotFoundError, match="is not a file"):
        jn.datasets.load_text_lines(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match="is not a file"):
        jn.datasets.load_text_lines(tmp_path)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        jn.datasets.load_text_lines(3)
    with pytest.raises(TypeError, match="max_bytes must be an int"):
        jn.datasets.load_text_lines(big, max_bytes=1.5)


def test_load_dinos_reads_the_shared_file(shared_data):
    """The README's facts: 1,543 names, 27 characters with the newline, sha256 of the file."""
    path = shared_data / "dinos" / "dinos.txt"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == DINOS_SHA256
    names = jn.datasets.load_dinos(shared_data)  # the data root: finds dinos/dinos.txt
    assert names == jn.datasets.load_dinos(shared_data / "dinos") == jn.datasets.load_dinos(path)
    assert len(names) == 1543 and names[:2] == ["aachenosaurus", "aardonyx"]
    assert jn.datasets.load_dinos(path, lower=False)[0] == "Aachenosaurus"
    vocab = jn.datasets.char_vocab(names)
    assert (
        vocab.size == 27
        and vocab.chars[0] == "\n"
        and vocab.chars[1:] == tuple("abcdefghijklmnopqrstuvwxyz")
    )
    assert sum(len(n) for n in names) + len(names) - 1 == 19913  # the file's characters


def test_load_dinos_default_folder_and_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXNET_DATA", str(tmp_path))
    with pytest.raises(
        FileNotFoundError, match=r"dinosaur names: the folder .*dinos does not exist.*dinos\.txt"
    ):
        jn.datasets.load_dinos()
    (tmp_path / "dinos").mkdir()
    (tmp_path / "dinos" / "dinos.txt").write_text("Zuniceratops\n")
    assert jn.datasets.load_dinos() == ["zuniceratops"]
    with pytest.raises(TypeError, match="lower must be True or False"):
        jn.datasets.load_dinos(lower="yes")


def test_char_vocab_is_the_courses():
    vocab = jn.datasets.char_vocab(["cab", "ba"])
    assert vocab.chars == ("\n", "a", "b", "c") and vocab.end == "\n"
    assert vocab.char_to_ix == {"\n": 0, "a": 1, "b": 2, "c": 3}
    assert vocab.ix_to_char == {0: "\n", 1: "a", 2: "b", 3: "c"}
    ids = vocab.encode("cab\n")
    assert ids.dtype == np.int32 and ids.tolist() == [3, 1, 2, 0]
    assert vocab.decode(ids) == "cab\n" and vocab.decode([]) == ""
    assert jn.datasets.char_vocab(["ab"], end=".").chars == (".", "a", "b")


def test_char_vocab_rejects_what_it_cannot_encode():
    vocab = jn.datasets.char_vocab(["ab"])
    with pytest.raises(
        ValueError, match=r"text\[2\] = 'z' is not in the vocabulary of 3 characters"
    ):
        vocab.encode("abz")
    with pytest.raises(TypeError, match="text must be a str"):
        vocab.encode(["a"])
    with pytest.raises(ValueError, match=r"ids\[1\] = 3 is outside the vocabulary 0..2"):
        vocab.decode([1, 3])
    with pytest.raises(ValueError, match=r"ids\[0\] = -1 is outside"):
        vocab.decode(np.array([-1]))
    with pytest.raises(ValueError, match="ids must be a 1-D sequence of integers"):
        vocab.decode([[1]])
    with pytest.raises(ValueError, match="ids must be a 1-D sequence of integers"):
        vocab.decode([1.0])
    with pytest.raises(ValueError, match="lines is empty"):
        jn.datasets.char_vocab([])
    with pytest.raises(TypeError, match="lines must be a list of strings, got one str"):
        jn.datasets.char_vocab("abc")
    with pytest.raises(TypeError, match=r"lines\[1\] must be a str, got int"):
        jn.datasets.char_vocab(["a", 1])
    with pytest.raises(ValueError, match="end must be one character"):
        jn.datasets.char_vocab(["a"], end="\n\n")
