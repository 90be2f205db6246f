"""Importing jaxnet starts no JAX backend: ``jax.distributed.initialize`` (a multi-host run) must
come first, and a backend starts only with the first computation."""

import subprocess
import sys


def test_importing_jaxnet_starts_no_backend():
    code = "import jaxnet, jaxnet.training._cpu, jax._src.xla_bridge as xb;print(len(xb._backends))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0"]
