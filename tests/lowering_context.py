"""One MLIR context for all the programs a test process lowers.

JAX lowers every program it compiles (a ``jax.jit`` call on new shapes, and every new
operation run eagerly) into a fresh MLIR context, and making one loads all its dialects:
about 3 ms in a test worker, which lowers some 10,000 programs. The test processes
(``conftest.py``) make the context once and hand the same one to every lowering instead, until
their compiled programs are freed (``reset``). The lowered programs are the same text
(``tests/test_lowering_context.py`` compares them with a fresh context's), so what XLA compiles
is too; only the interned types and attributes are shared. 18% less time on lowering-heavy
files (``tests/test_layers.py``, ``test_layers_conv.py`` and ``test_losses.py`` on 2 workers:
22.5 s against 27.3 s).

The tests' own multi-device scripts (``sharded_*worker.py``, ``parallel_worker.py``) install it
too. Users' processes, and what the tests run as a user does (the ``jaxnet`` command, the
notebooks, the benchmarks and the scripts), lower as JAX does. Where JAX has no
``make_ir_context`` (a later version), nothing is changed, and the comparison test fails to say
so.
"""

from jax._src.interpreters import mlir

_fresh_context = getattr(mlir, "make_ir_context", None)
_shared: list = []


def _shared_context():
    """The process's context (made on first use); every lowering is handed this one."""
    if not _shared:
        _shared.append(_fresh_context())
    return _shared[0]


def install() -> bool:
    """Lowerings in this process share one context from now on; whether JAX allowed it."""
    if _fresh_context is None:
        return False
    mlir.make_ir_context = _shared_context
    return True


def reset() -> None:
    """The next lowering makes a new context (the old one is freed with the last program that
    holds it): called when the test process frees its compiled programs."""
    _shared.clear()


def fresh_context():
    """A context made as JAX makes one for each lowering (for the comparison test)."""
    return _fresh_context()
