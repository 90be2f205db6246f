"""Verified atomic downloads against a real HTTP server on 127.0.0.1 serving generated IDX files."""

import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest

import jaxnet.datasets as ds
from jaxnet.datasets.mnist import FILES
from jaxnet.io import atomic


def idx_gz(array: np.ndarray, magic: int) -> bytes:
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(
        magic.to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes(), mtime=0
    )


def sums(data: bytes) -> dict:
    return {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}


RNG = np.random.default_rng(0)
ARRAYS = {
    FILES[0]: RNG.integers(0, 256, (10, 28, 28)),
    FILES[1]: RNG.integers(0, 10, 10),
    FILES[2]: RNG.integers(0, 256, (4, 28, 28)),
    FILES[3]: RNG.integers(0, 10, 4),
}
BLOBS = {name: idx_gz(a, 2051 if a.ndim == 3 else 2049) for name, a in ARRAYS.items()}
CHECKSUMS = {name: sums(data) for name, data in BLOBS.items()}


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves /<mode>/<file>: mode "ok", "short" (Content-Length > body), "cut" (no length)."""

    def do_GET(self):
        self.server.requests.append(self.path)
        _, mode, name = self.path.split("/", 2)
        body = self.server.files.get(name)
        if body is None or mode not in ("ok", "short", "cut"):
            self.send_error(404)
            return
        self.send_response(200)
        if mode != "cut":
            self.send_header("Content-Length", str(len(body) + (1000 if mode == "short" else 0)))
        self.end_headers()
        self.wfile.write(body if mode == "ok" else body[: len(body) // 2])
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests = dict(BLOBS), []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_download_lands_verified_files_in_the_cache(server, tmp_path, monkeypatch):
    monkeypatch.setenv("JAXNET_DATA", str(tmp_path))
    (X_train, y_train), (X_test, y_test) = ds.load_mnist(
        download=True, mirrors=[server.url + "/ok/"], checksums=CHECKSUMS
    )
    np.testing.assert_array_equal(X_train, ARRAYS[FILES[0]])
    np.testing.assert_array_equal(y_test, ARRAYS[FILES[3]])
    cache = tmp_path / "mnist"
    names = sorted(p.name for p in cache.iterdir() if p.name not in atomic.BOOKKEEPING)
    assert names == sorted(FILES)  # no temp files
    for name in FILES:
        assert (cache / name).read_bytes() == BLOBS[name]
    server.requests.clear()
    (X_again, _), _ = ds.load_mnist(download=True, mirrors=[server.url + "/ok/"])
    np.testing.assert_array_equal(X_again, X_train)
    assert server.requests == []  # cached files are not fetched again


def test_only_missing_files_are_fetched_and_mirrors_are_tried_in_order(server, tmp_path):
    (tmp_path / FILES[1]).write_bytes(BLOBS[FILES[1]])
    ds.load_mnist(
        tmp_path,
        download=True,
        mirrors=[server.url + "/nope/", server.url + "/ok"],
        checksums=CHECKSUMS,
    )
    fetched = [p.rsplit("/", 1)[1] for p in server.requests if p.startswith("/ok/")]
    assert sorted(fetched) == sorted(set(FILES) - {FILES[1]})
    assert len(server.requests) == 6  # each of 3 files: the 404 mirror, then the good one


def test_md5_only_checksums_work_for_fashion_mnist(server, tmp_path):
    md5s = {name: {"md5": s["md5"]} for name, s in CHECKSUMS.items()}
    (_, y_train), _ = ds.load_fashion_mnist(
        tmp_path, download=True, mirrors=server.url + "/ok/", checksums=md5s
    )
    np.testing.assert_array_equal(y_train, ARRAYS[FILES[1]])


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_checksum_mismatch_raises_and_leaves_nothing_in_the_cache(server, tmp_path, algorithm):
    wrong = {name: dict(s) for name, s in CHECKSUMS.items()}
    wrong[FILES[0]][algorithm] = "0" * len(wrong[FILES[0]][algorithm])
    with pytest.raises(ValueError, match=f"{algorithm} mismatch for {FILES[0]}"):
        ds.load_mnist(tmp_path, download=True, mirrors=[server.url + "/ok/"], checksums=wrong)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_server_file_is_refused(server, tmp_path):
    server.files[FILES[2]] = b"\x1f\x8b garbage"
    with pytest.raises(ValueError, match=FILES[2]):
        ds.load_mnist(tmp_path, download=True, mirrors=[server.url + "/ok/"], checksums=CHECKSUMS)
    assert not (tmp_path / FILES[2]).exists()
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert [p.name for p in left if p.name not in atomic.BOOKKEEPING] == []


@pytest.mark.parametrize("mode,error", [("short", OSError), ("cut", ValueError)])
def test_interrupted_transfer_leaves_the_cache_untouched(server, tmp_path, mode, error):
    old = {name: b"previous contents" for name in FILES[1:]}
    for name, data in old.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(error, match=FILES[0]):
        ds.load_mnist(tmp_path, download=True, mirrors=[f"{server.url}/{mode}/"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(old)  # no temp, no half file
    for name, data in old.items():
        assert (tmp_path / name).read_bytes() == data


def test_download_file_never_replaces_an_existing_file_on_failure(server, tmp_path):
    dest = tmp_path / "f.gz"
    dest.write_bytes(b"old")
    with pytest.raises(OSError, match="interrupted"):
        ds.download_file(f"{server.url}/short/{FILES[1]}", dest, CHECKSUMS[FILES[1]])
    assert dest.read_bytes() == b"old" and list(tmp_path.iterdir()) == [dest]
    ds.download_file(f"{server.url}/ok/{FILES[1]}", dest, CHECKSUMS[FILES[1]])
    assert dest.read_bytes() == BLOBS[FILES[1]]


def test_unreachable_mirror_is_an_os_error_naming_the_file(tmp_path):
    with pytest.raises(OSError, match=FILES[0]):
        ds.download_file("http://127.0.0.1:9/x", tmp_path / FILES[0], {"md5": "0" * 32}, timeout=5)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "checksums,problem", [({}, "checksums"), ({"nohash": "ab"}, "unknown hash algorithm")]
)
def test_download_file_requires_usable_checksums(tmp_path, checksums, problem):
    with pytest.raises(ValueError, match=problem):
        ds.download_file("http://127.0.0.1:9/x", tmp_path / "x", checksums)


def test_missing_checksum_for_a_file_is_refused_before_any_request(server, tmp_path):
    partial = {FILES[0]: CHECKSUMS[FILES[0]]}
    with pytest.raises(ValueError, match="no entry for"):
        ds.load_mnist(tmp_path, download=True, mirrors=[server.url + "/ok/"], checksums=partial)
    assert server.requests == [] and list(tmp_path.iterdir()) == []
