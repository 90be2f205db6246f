"""Issue 23, rows 4 and 13: sizes have documented bounds (:mod:`jaxnet.limits`), checked
where they are given and before anything is compiled or written; numbers are ASCII digits.

Each refusal of the command is one line naming the option (``--arch``, ``--hidden-sizes``, ...),
and leaves no run folder behind. The library's constructors refuse the same sizes with a
ValueError naming the argument.
"""

import pytest

import jaxnet as jn
from jaxnet import cli, limits


def refused(capsys, tmp_path, *argv):
    out = tmp_path / "run"
    code = cli.main([str(a) for a in (*argv, "--quiet", "--out", out)])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert err.startswith("jaxnet: error: ") and err.count("\n") == 1, err
    assert not out.exists()  # checked before anything is written
    return err


# Row 4: --arch sizes, depth, and what they imply -----------------------------------------

MNIST_LIKE = ["--dataset", "planar"]  # vectors: dense tokens; images need a file dataset


@pytest.mark.parametrize(
    ("arch", "needle"),
    [
        ("dense99999999999999999999-dense1", "units must be an int in [1, 16777216]"),
        (f"dense{2**24 + 1}-dense1", "units must be an int in [1, 16777216]"),
        ("dense1000000000-dense1", "units must be an int in [1, 16777216]"),
        ("dense10000000-dense1", "values per example"),  # 10**7 units: under the bound
        ("dense12000-dense12000-dense1", "parameters, more than"),
        ("-".join(["dense5000"] * 7) + "-dense1", "parameters, more than"),
        ("dense1" + "-dense1" * 100, "tokens, more than"),
        ("-".join(["dense2"] * 10_001), "tokens, more than"),
        ("dense" + "9" * 5000 + "-dense1", "--arch token"),
        ("dropout0.5-" * 100 + "dense1", "tokens, more than"),
    ],
)
def test_arch_sizes_beyond_their_bounds_name_arch(arch, needle, tmp_path, capsys):
    err = refused(capsys, tmp_path, "train", *MNIST_LIKE, "--arch", arch, "--epochs", 1)
    assert "--arch" in err and needle in err
    assert "mlir" not in err.lower() and "incompatible" not in err


@pytest.mark.parametrize(
    ("token", "needle"),
    [
        ("conv100000k3", "filters must be an int in ["),
        (f"conv{2**16 + 1}k3", "filters must be an int in ["),
        ("conv8k3p99999", "padding must be an int in ["),
        ("conv8k2000", "kernel_size must be an int in ["),
        ("conv8k3s5000", "strides must be an int in ["),
        ("pool2000", "pool_size must be an int in ["),
        ("avgpool2s4096", "strides must be an int in ["),
        ("emb99999999999", "dim must be an int in ["),
        ("emb8v99999999999", "vocab_size must be an int in ["),
        ("lstm99999999999", "units must be an int in ["),
        ("bigru99999999999seq", "units must be an int in ["),
        ("pool3s99999999999999999999", "strides must be an int in ["),
    ],
)
def test_conv_and_pool_tokens_beyond_their_bounds(token, needle, tmp_path, capsys):
    err = refused(capsys, tmp_path, "train", "--arch", f"{token}-flatten-dense1", "--epochs", 1)
    assert f"--arch token {token!r}" in err and needle in err


def test_activation_memory_is_bounded_before_anything_compiles(shared_data, tmp_path, capsys):
    """Every token within its bound, few parameters, but 28x28 images padded to 228x228 x 128
    filters, twice, x 128 images per batch: over the activations' budget."""
    data = ["--dataset", "mnist", "--data-dir", shared_data / "mnist", "--limit", 256]
    arch = "conv128k3p100-conv128k3-pool16-flatten-dense10"
    err = refused(capsys, tmp_path, "train", *data, "--arch", arch)
    assert "values per example" in err and "MAX_ACTIVATIONS" in err
    arch = "conv8k3p1000-flatten-dense10"  # 32.8M values into a dense layer: the parameters'
    assert "MAX_PARAMS" in refused(capsys, tmp_path, "train", *data, "--arch", arch)


@pytest.mark.parametrize(
    ("sizes", "needle"),
    [
        ("99999999999", "units must be at most"),
        ("100000000", "units must be at most"),
        ("10000000", "values per example"),
        ("12000,12000", "parameters, more than"),
        (",".join(["2"] * 1100), "layers must be at most"),
        ("0", "sizes >= 1"),
        ("-3", "sizes >= 1"),
    ],
)
def test_hidden_sizes_beyond_their_bounds_name_the_option(sizes, needle, tmp_path, capsys):
    err = refused(capsys, tmp_path, "train", "--hidden-sizes", sizes, "--epochs", 1)
    assert "--hidden-sizes" in err and needle in err


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: jn.layers.Dense(10**20), "units"),
        (lambda: jn.layers.Dense(2**24 + 1), "units"),
        (lambda: jn.layers.Conv2D(2**16 + 1, 3), "filters"),
        (lambda: jn.layers.Conv2D(8, 1025), "kernel_size"),
        (lambda: jn.layers.Conv2D(8, 3, strides=1025), "strides"),
        (lambda: jn.layers.Conv2D(8, 3, padding=10**6), "padding"),
        (lambda: jn.layers.MaxPool2D(1025), "pool_size"),
        (lambda: jn.layers.AvgPool2D(2, 10**9), "strides"),
        (lambda: jn.layers.Embedding(10**9, 8), "vocab_size"),
        (lambda: jn.layers.Embedding(27, 2**16 + 1), "dim"),
        (lambda: jn.layers.SimpleRNN(2**24 + 1), "units"),
        (lambda: jn.layers.GRU(10**20), "units"),
        (lambda: jn.Network((2, *([3] * 1024), 1)), "layers"),
        (lambda: jn.Network((2**31, 1)), "input_size"),
        (lambda: jn.Sequential([jn.layers.Dense(1)] * 1025, input_shape=(2,)), "layers"),
        (
            lambda: jn.Sequential(
                [jn.layers.Flatten(), jn.layers.Dense(1)], input_shape=(2**16, 2**16, 3)
            ),
            "input_size",
        ),  # fmt: skip
    ],
)
def test_library_constructors_have_the_same_bounds(make, name):
    bound = limits.MAXIMA[name]
    with pytest.raises(ValueError, match=rf"{name} must be (at most |an int in \[\d, ){bound}"):
        make()


@pytest.mark.parametrize("name", sorted(limits.MAXIMA))
def test_each_bound_itself_is_accepted(name):
    limits.at_most(**{name: limits.MAXIMA[name]})
    with pytest.raises(ValueError, match=name):
        limits.at_most(**{name: limits.MAXIMA[name] + 1})


def test_the_course_networks_are_well_within_the_budget():
    for net, batch in [
        (jn.Network((784, 512, 10)), 60_000),
        (jn.Network((12288, 20, 7, 5, 1)), 209),
        (
            jn.Sequential(
                [
                    jn.layers.Conv2D(32, 3, padding="same"),
                    jn.layers.MaxPool2D(2),
                    jn.layers.Conv2D(64, 3, padding="same"),
                    jn.layers.MaxPool2D(2),
                    jn.layers.Flatten(),
                    jn.layers.Dense(128),
                    jn.layers.Dense(10, "softmax"),
                ],
                input_shape=(28, 28, 1),
            ),
            128,
        ),  # fmt: skip
    ]:
        limits.check_budget(net, batch, "the course's network")


# Row 13: numbers are ASCII digits ----------------------------------------------------------


@pytest.mark.parametrize(
    "arch",
    ["flatten-dense\u0668-dense1", "dense\u0668-dense1", "dense\uff18-dense1", "dense8-dense\u0661",
     "dropout\u0660.5-dense1", "conv\u0668k3-flatten-dense1", "pool\uff12-flatten-dense1",
     "dense8\u200b-dense1", "dense\U0001d7d6-dense1", "emb\u0661\u0666-lstm8-dense1",
     "lstm\uff18-dense1"],
)  # fmt: skip
def test_arch_refuses_digits_that_are_not_ascii(arch, tmp_path, capsys):
    err = refused(capsys, tmp_path, "train", "--arch", arch, "--epochs", 1)
    assert "--arch" in err and "ASCII" in err


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--hidden-sizes", "\u0668"),
        ("--hidden-sizes", "4,\u0668"),
        ("--epochs", "\u0665"),
        ("--epochs", "\uff15"),
        ("--seed", "\u0661"),
        ("--batch-size", "\u0663\u0662"),
        ("--learning-rate", "\u0660.\u0661"),
        ("--limit", "\u0661\u0660\u0660"),
        ("--l2", "\u0660.\u0661"),
        ("--dropout", "\u0660.\u0665"),
        ("--checkpoint-every", "\u0665"),
    ],
)
def test_numeric_options_refuse_digits_that_are_not_ascii(option, value, tmp_path, capsys):
    err = refused(capsys, tmp_path, "train", "--hidden-sizes", "4", option, value, "--epochs", 1)
    assert option in err and "ASCII" in err


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--epochs", str(10**20), "at most"),
        ("--epochs", "1_000", "expected an int"),
        ("--batch-size", str(2**40), "at most"),
        ("--limit", str(10**30), "at most"),
        ("--checkpoint-every", str(2**31), "at most"),
        ("--learning-rate", "1_0.5", "expected a number"),
    ],
)
def test_numeric_options_have_plausible_bounds(option, value, needle, tmp_path, capsys):
    err = refused(capsys, tmp_path, "train", option, value, "--epochs" if option != "--epochs"
                  else "--quiet", 1 if option != "--epochs" else "--quiet")  # fmt: skip
    assert option in err and needle in err


@pytest.mark.parametrize(
    "argv",
    [
        ["gradcheck", "--inputs", "\u0664"],
        ["gradcheck", "--examples", str(10**6)],
        ["gradcheck", "--hidden-sizes", "100000", "--inputs", "100"],
    ],
)
def test_gradcheck_sizes(argv, capsys):
    code = cli.main(argv)
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1, err
