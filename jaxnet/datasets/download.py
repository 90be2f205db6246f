"""Atomic, verified downloads: a file lands complete and checked, or not at all."""

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from jaxnet.io import atomic

__all__ = ["download_file"]

_CHUNK = 1 << 20


class _ChecksumMismatch(Exception):
    """The downloaded bytes are complete but are not the expected file."""


def download_file(
    urls: str | Sequence[str],
    destination: str | os.PathLike,
    checksums: Mapping[str, str],
    *,
    timeout: float = 60.0,
) -> Path:
    """Download the first of `urls` that works to `destination`, verified, atomically.

    The bytes go to a temporary file in the destination's folder (`jaxnet.io.atomic`), are
    checked against every entry of `checksums` (e.g. `{"md5": "...", "sha256": "..."}`),
    flushed to disk (fsync) and only then renamed over `destination`: a verified download
    replaces what is there (the caller named it as the file to fetch). On any failure the
    temporary file is removed and an existing `destination` is left exactly as it was.

    Args:
      urls: one URL or several mirrors, tried in order.
      destination: the file to create (its folder is created if needed).
      checksums: hashlib algorithm name -> expected hex digest; at least one.
      timeout: seconds to wait on the network before giving up on a mirror.

    Returns:
      `destination` as a Path.

    Raises:
      ValueError: every mirror failed and at least one served bytes with a wrong checksum.
      OSError: every mirror failed to transfer the file (unreachable, HTTP error,
        connection dropped, fewer bytes than its Content-Length).

    Example:
      A ``file://`` URL stands in for a mirror here (no network):

      >>> import hashlib, pathlib, tempfile
      >>> import jaxnet as jn
      >>> with tempfile.TemporaryDirectory() as d:
      ...     source = pathlib.Path(d) / "published.bin"
      ...     _ = source.write_bytes(b"hello")
      ...     digest = hashlib.sha256(b"hello").hexdigest()
      ...     out = jn.datasets.download_file(
      ...         source.as_uri(), pathlib.Path(d) / "data" / "hello.bin", {"sha256": digest}
      ...     )
      ...     print(out.name, out.read_bytes())
      hello.bin b'hello'
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls or not all(isinstance(u, str) and u for u in urls):
        raise ValueError(f"urls must be a non-empty URL or list of URLs, got {urls!r}")
    if not isinstance(checksums, Mapping) or not checksums:
        raise ValueError(
            f"checksums must map a hash name to its hex digest (e.g. {{'sha256': '...'}}), "
            f"got {checksums!r}; downloads are never used unverified"
        )
    for algorithm in checksums:
        if algorithm not in hashlib.algorithms_available:
            raise ValueError(f"checksums: unknown hash algorithm {algorithm!r}")
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures, corrupt = [], False
    for url in urls:
        try:
            _fetch_one(url, destination, checksums, timeout)
            return destination
        except _ChecksumMismatch as err:
            corrupt = True
            failures.append(f"{url}: {err}")
        except (OSError, http.client.HTTPException) as err:
            failures.append(f"{url}: {type(err).__name__}: {err}")
    message = f"could not download {destination.name} into {destination.parent}: " + "; ".join(
        failures
    )
    if corrupt:
        raise ValueError(message + ". Nothing was written.")
    raise OSError(message + ". Nothing was written.")


def _fetch_one(url: str, destination: Path, checksums: Mapping[str, str], timeout: float):
    """Stream `url` into `destination` through the atomic writer, verified before the rename."""
    hashes = {name: hashlib.new(name, usedforsecurity=False) for name in checksums}
    with (
        atomic.atomic_path(destination, overwrite=True) as tmp,
        open(tmp, "wb") as out,
        _open(url, timeout) as response,
    ):
        length = response.headers.get("Content-Length", "")
        expected = int(length) if length.isdigit() else None
        received = 0
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            received += len(chunk)
            for digest in hashes.values():
                digest.update(chunk)
        if expected is not None and received != expected:
            raise OSError(f"transfer interrupted: got {received} of {expected} bytes")
        for name, digest in hashes.items():
            if digest.hexdigest() != checksums[name].strip().lower():
                raise _ChecksumMismatch(
                    f"{name} mismatch for {destination.name}: expected {checksums[name]}, "
                    f"got {digest.hexdigest()} ({received} bytes)"
                )


def _open(url: str, timeout: float):
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()  # an HTTPError holds the open response; do not leak its socket
        raise OSError(f"HTTP {err.code} {err.reason}") from None
