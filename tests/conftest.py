"""Shared test configuration: strict JAX numerics, the real data files, one compilation cache
per test run, and the order the tests start in (the longest first)."""

import contextlib
import ctypes
import ctypes.util
import gc
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

# The tests compile a few thousand small programs; XLA:CPU's code generation, not the
# programs' run time, is most of the suite's time. The test processes (and the subprocesses they
# start, which inherit the variable) compile at LLVM optimisation level 0, with XLA's classic
# elemental emitters instead of its newer fusion emitters, and each program as one LLVM module
# (not split for parallel code generation, which costs more than it saves on two busy cores):
# the same HLO after the same XLA passes, no fast math either way, 2.7x less compile time
# (tests/test_network.py on 2 cores: 38.7 s -> 14.2 s; the one module 12-14% less again on
# compile-heavy files). Results can differ from XLA's defaults in their last bits (LLVM's
# optimisations reorder and contract floating-point operations), which the tests' float
# tolerances cover. The code it makes runs slower (an MNIST CNN trains 2x slower), so a test
# that trains for long is marked `xla_defaults` and runs in a child pytest with XLA's defaults,
# as users, the `jaxnet` command run by hand and the benchmarks compile. Set before JAX starts its
# CPU backend.
TEST_XLA_FLAGS = (
    "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
    " --xla_cpu_parallel_codegen_split_count=1"
)
XLA_DEFAULTS_CHILD = "JAXNET_TEST_XLA_DEFAULTS"  # set in the child of an `xla_defaults` test
# The lowering to MLIR gives each operation a location: by default the whole Python stack that
# traced it (up to 100 frames; under pytest, some 50 of them are pytest's), built for every
# operation of every program. The test processes (and their subprocesses, through the variable)
# keep only the frame of the user's code that made the operation: the same programs, with a
# shorter debug location, and 12% less CPU on lowering-heavy files (tests/test_layers_conv.py,
# test_losses.py and test_schedules.py: 20.3 s against 23.0 s, the mean of three runs each).
os.environ.setdefault("JAX_INCLUDE_FULL_TRACEBACKS_IN_LOCATIONS", "0")
if not os.environ.get(XLA_DEFAULTS_CHILD) and TEST_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {TEST_XLA_FLAGS}".strip()

# A test run started in the background of a shell without job control inherits SIGINT ignored,
# and so would every process it starts: the tests of Ctrl-C (tests/test_interrupts.py) need
# it delivered, as a terminal does.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import jax  # noqa: E402
import lowering_context  # noqa: E402
import pytest  # noqa: E402
from helpers import SHARED_DATA  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
lowering_context.install()  # one MLIR context per test process (tests/lowering_context.py)

# Scripts the tests run in subprocesses (they set XLA_FLAGS at import): never imported by
# --doctest-modules into the test process.
collect_ignore = [
    "sharded_worker.py",
    "sharded_layers_worker.py",
    "sharded_model_worker.py",
    "parallel_worker.py",
]

# The `jaxnet` command turns on JAX's persistent compilation cache (jn.enable_compilation_cache)
# in ~/.cache/jaxnet/xla unless JAXNET_COMPILATION_CACHE names another folder. The commands the
# tests run share one empty folder per test run instead: the run starts cold, as CI does, and
# never reads or writes the user's cache. The first process of the run (pytest itself, or
# xdist's controller) makes it; the xdist workers and every subprocess inherit the variable.
_RUN_CACHE = "JAXNET_TEST_RUN_CACHE"
_MADE_HERE = _RUN_CACHE not in os.environ
if _MADE_HERE:
    os.environ[_RUN_CACHE] = tempfile.mkdtemp(prefix="jaxnet-test-xla-")
    os.environ["JAXNET_COMPILATION_CACHE"] = os.environ[_RUN_CACHE]


# A test process holds a large heap (JAX's caches, compiled programs' objects: a worker reached
# 450,000 objects at its end), and each full collection scans all of it: about 0.1 s apiece,
# some 80 of them, ten seconds per worker in the fast tier. The test processes collect the
# oldest generation a tenth as often (its threshold 10 -> 100; the young generations as
# Python does), and pytest's collection at the end of the session (1-2 s in each worker, which
# the run waits for) is skipped: it only looks for exceptions raised in finalisers of objects
# that nothing collected before. Fast tier, alternating runs: user CPU 132.8 / 136.3 s against
# 139.0 / 153.3 s.
gc.set_threshold(*gc.get_threshold()[:2], 100)


def pytest_configure(config):
    with contextlib.suppress(ImportError):  # pytest's own knob (its tests set it), if present
        from _pytest.unraisableexception import gc_collect_iterations_key

        config.stash[gc_collect_iterations_key] = 0


def pytest_unconfigure(config):
    if _MADE_HERE:
        shutil.rmtree(os.environ.pop(_RUN_CACHE), ignore_errors=True)


# Tiers (pyproject.toml names the markers): the fast tier is -m "not slow and not integration".
# The tests of those two markers take seconds to a minute each; they start first, so that
# neither xdist worker is left with one of them at the end while the other has finished. A
# module is moved as a whole (its module-scoped fixtures are set up once).
LONG_MARKERS = ("slow", "integration")

# The fast tier's budget (2 minutes on 2 cores): tests measured at a second or more of compiling
# and training, whose property a cheaper test of the fast tier also checks, are marked slow
# here (a node id, or the start of one: a parametrised subset). tests/test_tiers.py checks
# that each still names a test. The docstring examples of jaxnet.interop import Flax or
# Equinox; those of the recurrent layers compile a sequence loop each.
SLOW_HERE = (
    "jaxnet/interop/",
    "jaxnet/layers/attention.py::",
    "jaxnet/layers/attention_decoder.py::",
    "jaxnet/layers/bidirectional.py::",
    "jaxnet/layers/gru.py::",
    "jaxnet/layers/lstm.py::",
    "jaxnet/layers/recurrent.py::",
    "jaxnet/layers/residual.py::",
    "jaxnet/layers/resnet_blocks.py::",
    "jaxnet/layers/rnn.py::",
    "tests/test_attention.py::test_decoder_backward_equals_finite_differences",
    "tests/test_cli_arch.py::test_regularised_dense_run",
    "tests/test_cli_arch.py::test_residual_dense_run_resumes_and_summarises",  # test_cli's resume, test_residual's summary
    "tests/test_cli_hostile.py::test_a_diverging_run_says_where_and_exits_1",
    "tests/test_cli_hostile.py::test_a_very_wide_network_trains_and_plots",
    "tests/test_cli_hostile.py::test_regression_runs_end_to_end",
    "tests/test_ensemble.py::test_a_diverging_model_stops_alone",
    "tests/test_ensemble.py::test_blocks_of_models_equal_sequential_fits",
    "tests/test_ensemble.py::test_hidden_size_sweep_trains_exactly_like_the_narrow_networks",
    "tests/test_ensemble.py::test_layers_without_rules_train_examples_last",
    "tests/test_gradcheck.py::test_gradcheck_passes_on_any_network",
    "tests/test_gradcheck.py::test_non_finite_gradients_fail",
    "tests/test_initializers.py::test_keras_s_initialisers_bit_for_bit",  # imports Keras
    "tests/test_layers.py::test_backward_equals_vjp_of_forward[AttentionDecoder",
    "tests/test_layers.py::test_backward_equals_vjp_of_forward[Bidirectional",
    "tests/test_layers.py::test_backward_equals_vjp_of_forward[GRU",
    "tests/test_layers.py::test_backward_equals_vjp_of_forward[LSTM",
    "tests/test_layers_recurrent.py::test_an_initial_state_is_used_and_differentiated",
    "tests/test_layers_recurrent.py::test_masked_bptt_equals_vjp_of_forward[Bidirectional",
    "tests/test_layers_recurrent.py::test_masked_bptt_equals_vjp_of_forward[GRU",
    "tests/test_layers_recurrent.py::test_padded_sequences_give_the_loss_and_gradients_of_each_alone",
    "tests/test_layers_recurrent.py::test_returned_states_are_the_last_real_steps_and_take_cotangents",
    "tests/test_network.py::test_every_hidden_activation_with_every_output[linear-",
    "tests/test_network.py::test_every_hidden_activation_with_every_output[sigmoid-mse",
    "tests/test_network.py::test_every_hidden_activation_with_every_output[softmax-mse",
    "tests/test_network.py::test_every_hidden_activation_with_every_output[tanh-",
    "tests/test_network.py::test_sequential_backprop_equals_autodiff[False-",
    "tests/test_network.py::test_sequential_backprop_equals_autodiff[True-lstm",
    "tests/test_optimizers.py::test_the_course_update_functions_step_by_step",
    "tests/test_own_model.py::test_a_stateful_ensemble_with_dropout",
    "tests/test_own_model.py::test_fit_ensemble_trains_each_model_as_fit_does",
    "tests/test_own_model.py::test_resume_is_bitwise_a_straight_run",
    "tests/test_per_example.py::test_per_example_grads_stack_the_single_example_gradients[tanh",
    "tests/test_regularization.py::test_fit_ensemble_of_a_regularised_net_is_k_fits",
    "tests/test_regularization.py::test_l2_shrinks_the_weights",
    "tests/test_residual.py::test_block_backward_agrees_with_finite_differences[conv",
    "tests/test_residual.py::test_convolutional_block_is_the_courses",
    "tests/test_residual.py::test_drawn_blocks_backward_equals_vjp",
    "tests/test_residual.py::test_identity_block_is_the_courses[False",
    "tests/test_residual.py::test_the_residual_page_runs",  # as the models page: its blocks are unit-tested
    "tests/test_sequence_outputs.py::test_fit_learns_a_sequence_task_end_to_end",
    "tests/test_sequence_outputs.py::test_hand_derived_equals_autodiff_in_float64[attention-decoder]",
    "tests/test_training.py::test_manual_and_autodiff_trajectories_agree[tanh",
    "tests/test_training_layers.py::test_fit_ensemble_equals_sequential_fits",
)


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(SLOW_HERE):
            item.add_marker(pytest.mark.slow)
    modules = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)

    def long_first(tests):
        return not any(t.get_closest_marker(m) for t in tests for m in LONG_MARKERS)

    items[:] = [item for tests in sorted(modules.values(), key=long_first) for item in tests]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`: MNIST's IDX files and the course's cat HDF5 files (see its README)."""
    if not SHARED_DATA.is_dir():
        raise FileNotFoundError(
            f"real data directory {SHARED_DATA} is missing; set JAXNET_SHARED_DATA to the folder "
            "holding mnist/ and catvnoncat/"
        )
    return SHARED_DATA


@pytest.fixture
def x64():
    """Run the test body with float64 enabled (gradient tests)."""
    with jax.enable_x64(True):
        yield


def _xla_default_flags() -> str:
    """XLA_FLAGS without the test processes' fast-compile flags (what a user's process has)."""
    return os.environ.get("XLA_FLAGS", "").replace(TEST_XLA_FLAGS, "").strip()


@pytest.fixture
def subprocesses_compile_as_users_do(monkeypatch):
    """The processes the test starts (a notebook's kernel) compile with XLA's defaults."""
    monkeypatch.setenv("XLA_FLAGS", _xla_default_flags())


def pytest_pyfunc_call(pyfuncitem):
    """An `xla_defaults` test runs in a child pytest whose JAX compiles with XLA's defaults."""
    if not pyfuncitem.get_closest_marker("xla_defaults") or os.environ.get(XLA_DEFAULTS_CHILD):
        return None
    env = {**os.environ, XLA_DEFAULTS_CHILD: "1", "XLA_FLAGS": _xla_default_flags()}
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider"]
    child = subprocess.run(
        [*cmd, pyfuncitem.nodeid],
        cwd=pyfuncitem.config.rootpath,
        env=env,
        capture_output=True,
        text=True,
    )
    if child.returncode != 0 or " passed" not in child.stdout:
        pytest.fail(
            f"the child run (XLA's defaults) failed:\n{child.stdout[-6000:]}{child.stderr[-2000:]}"
        )
    return True


FREE_PROGRAMS_ABOVE_BYTES = 2 << 30  # a worker's resident memory


def _holds_much_memory() -> bool:
    """Whether this process's resident memory exceeds the bound (``/proc/self/statm``; where
    there is no such file, always)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except OSError:
        return True
    return pages * os.sysconf("SC_PAGE_SIZE") > FREE_PROGRAMS_ABOVE_BYTES


def _return_freed_memory() -> None:
    """glibc's ``malloc_trim(0)``: the memory the freed programs held goes back to the system
    (glibc keeps it otherwise, and the resident size would stay above the bound); elsewhere
    nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


@pytest.fixture(scope="module", autouse=True)
def _free_compiled_programs():
    """A test module's compiled programs are freed when it ends (jax.clear_caches) if the worker
    holds more than 2 GiB: a worker runs some 1,400 tests, and their executables, kept by JAX's
    caches, would fill the memory (a worker reached 16 GB; a small CPU program holds 1.7 MB).
    The freed memory is then returned to the system: without it the resident size stayed above
    the bound, and the programs were freed after every later module (45 times in the fast tier,
    and every shared program compiled again). Below the bound, the next modules reuse the
    programs they share (fit's epoch for the same network and data shapes)."""
    yield
    if _holds_much_memory():
        jax.clear_caches()
        lowering_context.reset()
        _return_freed_memory()
