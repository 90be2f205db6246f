"""``jaxnet train --arch`` and the regularisation options: the grammar (valid strings -> layers,
invalid ones -> an error naming the token), networks built on a dataset's shape, real tiny
runs (a CNN on MNIST, a CNN with batch norm and dropout on the cats resumed bitwise, a
regularised dense network), and the filters / feature-map plots they write."""

import json

import jax
import numpy as np
import pytest
from helpers import jaxnet, refused

import jaxnet as jn
from jaxnet import cli, plotting
from jaxnet.cli import arch, commands, config, data
from jaxnet.io import checkpoint
from jaxnet.layers import (
    GRU,
    LSTM,
    Activation,
    AvgPool2D,
    BatchNorm,
    Bidirectional,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    MaxPool2D,
    Residual,
    SimpleRNN,
)

PNG = b"\x89PNG\r\n\x1a\n"


def restore(run_dir):
    net = jn.Network.from_dict(json.loads((run_dir / "config.json").read_text())["network"])
    return net, checkpoint.restore(run_dir, jax.eval_shape(lambda: jn.init(jax.random.key(0), net)))


# The grammar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dense64-dense10", [Dense(64, "relu"), Dense(10, "softmax")]),
        (
            "dense64tanh-bn-dropout0.5-dense10",
            [Dense(64, "tanh"), BatchNorm(), Dropout(0.5), Dense(10, "softmax")],
        ),
        (
            "conv8k3-pool2-conv16k3-pool2-flatten-dense128-dense10",
            [
                Conv2D(8, 3, activation="relu"),
                MaxPool2D(2),
                Conv2D(16, 3, activation="relu"),
                MaxPool2D(2),
                Flatten(),
                Dense(128),
                Dense(10, "softmax"),
            ],
        ),  # fmt: skip
        (
            " Conv32K3S2Same - maxpool3s2 - avgpool2 - batchnorm - flatten - dense10 ",
            [
                Conv2D(32, 3, 2, "same", "relu"),
                MaxPool2D(3, 2),
                AvgPool2D(2),
                BatchNorm(),
                Flatten(),
                Dense(10, "softmax"),
            ],
        ),  # fmt: skip
        (
            "conv4k5p2linear-conv4k3validleaky_relu-flatten-dense10softmax",
            [
                Conv2D(4, 5, 1, 2, "linear"),
                Conv2D(4, 3, activation="leaky_relu"),
                Flatten(),
                Dense(10, "softmax"),
            ],
        ),  # fmt: skip
        (
            "lenet",
            [
                Conv2D(6, 5, padding="same", activation="relu"),
                MaxPool2D(2),
                Conv2D(16, 5, activation="relu"),
                MaxPool2D(2),
                Flatten(),
                Dense(120),
                Dense(84),
                Dense(10, "softmax"),
            ],
        ),  # fmt: skip
        ("dropout.25-dense10", [Dropout(0.25), Dense(10, "softmax")]),
        (  # the course's identity block: inside a block, convs pad "same" and are linear
            "conv8k3same-res[conv8k3-bn-relu-conv8k3-bn]-flatten-dense10",
            [
                Conv2D(8, 3, padding="same", activation="relu"),
                Residual(
                    (
                        Conv2D(8, 3, padding="same"),
                        BatchNorm(),
                        Activation("relu"),
                        Conv2D(8, 3, padding="same"),
                        BatchNorm(),
                    )
                ),
                Flatten(),
                Dense(10, "softmax"),
            ],
        ),  # fmt: skip
        (  # a convolutional block (projection shortcut), its own activation, valid padding
            "res[conv8k3s2-bn-relu-conv8k3valid|conv8k1s2valid-bn]tanh-avgpool2-flatten-dense10",
            [
                Residual(
                    (Conv2D(8, 3, 2, "same"), BatchNorm(), Activation("relu"), Conv2D(8, 3)),
                    (Conv2D(8, 1, 2), BatchNorm()),
                    "tanh",
                ),
                AvgPool2D(2),
                Flatten(),
                Dense(10, "softmax"),
            ],
        ),  # fmt: skip
        (  # dense blocks, nested: inner tokens linear, a nested block gets the hidden activation
            "dense16-res[res[dense16tanh-dense16]-bn|dense16]linear-dense10",
            [
                Dense(16, "relu"),
                Residual(
                    (Residual((Dense(16, "tanh"), Dense(16, "linear")), None, "relu"), BatchNorm()),
                    (Dense(16, "linear"),),
                    "linear",
                ),
                Dense(10, "softmax"),
            ],
        ),  # fmt: skip
        ("dense8-tanh-dense10", [Dense(8), Activation("tanh"), Dense(10, "softmax")]),
        (  # a character model: the vocabulary defaults to the outputs
            "emb16-lstm64seq-rnn8seq-dense4tanh-gru32-dense10",
            [
                Embedding(10, 16),
                LSTM(64, return_sequences=True),
                SimpleRNN(8, return_sequences=True),
                Dense(4, "tanh"),
                GRU(32),
                Dense(10, "softmax"),
            ],
        ),  # fmt: skip
        ("emb4v30-rnn8-dense10", [Embedding(30, 4), SimpleRNN(8), Dense(10, "softmax")]),
        (
            "emb4v30-bilstm8seq-bigru3-dense10",
            [
                Embedding(30, 4),
                Bidirectional(LSTM(8, return_sequences=True)),
                Bidirectional(GRU(3)),
                Dense(10, "softmax"),
            ],
        ),  # fmt: skip
    ],
)
def test_valid_arch_strings_give_these_layers(text, expected):
    layers = arch.layers(text, hidden_activation="relu", output_activation="softmax", outputs=10)
    assert [(type(a), a) for a in layers] == [(type(b), b) for b in expected]
    again = arch.layers(
        arch.canonical(layers), hidden_activation="tanh", output_activation="sigmoid", outputs=10
    )
    assert again == layers  # canonical() spells every activation out


@pytest.mark.parametrize(
    ("text", "token", "needle"),
    [
        ("dense64-dense64-conv8x3-dense10", "'conv8x3' (3rd)", "is not a conv layer: write conv<"),
        ("lstn32-dense10", "'lstn32' (1st)", "is not a layer; tokens look like dense64"),
        ("lstm32s-dense10", "'lstm32s' (1st)", "is not a lstm layer: write lstm<units>[seq]"),
        ("emb0-lstm8-dense10", "'emb0' (1st)", "dim must be an int in [1, 65536]"),
        ("emb8v0-lstm8-dense10", "'emb8v0' (1st)", "vocab_size must be an int in [1, 16777216]"),
        ("emb8-gru0-dense10", "'gru0' (2nd)", "units must be an int in [1, 16777216]"),
        ("dense-dense10", "'dense' (1st)", "is not a dense layer: write dense<units>"),
        ("conv8k-flatten-dense10", "'conv8k' (1st)", "is not a conv layer"),
        ("pool-flatten-dense10", "'pool' (1st)", "is not a pool layer"),
        ("dense8-dropout1.5-dense10", "'dropout1.5' (2nd)", "rate must be a number in [0, 1)"),
        ("dense8-dropout-dense10", "'dropout' (2nd)", "is not a dropout layer"),
        ("conv0k3-flatten-dense10", "'conv0k3' (1st)", "filters must be an int in [1, 65536]"),
        ("conv8k3s0-flatten-dense10", "'conv8k3s0' (1st)", "strides must be an int in [1, 1024]"),
        ("dense0-dense10", "'dense0' (1st)", "units must be an int in [1, 16777216]"),
        ("dense8swish-dense10", "'dense8swish' (1st)", "is not a dense layer"),
        ("dense8--dense10", "'' (2nd)", "is empty"),
        ("-".join(["dense8"] * 10 + ["dense8x"]), "'dense8x' (11th)", "is not a dense layer"),
        ("res[conv8k-bn]-dense10", "'conv8k' (1st in the main path of 'res[conv8k-bn]')",
         "is not a conv layer"),
        ("dense8-res[dense8|dense8-bn-x]-dense10",
         "'x' (3rd in the shortcut of 'res[dense8|dense8-bn-x]')", "is not a layer"),
        ("res[res[dense8-dense0]]-dense10",
         "'dense0' (2nd in the main path of 'res[dense8-dense0]' in the main path of", "units must"),
        ("res[dense8|]-dense10", "'res[dense8|]' (1st)", "its shortcut is empty; for the identity"),
        ("res[]-dense10", "'res[]' (1st)", "its main path is empty"),
        ("res[dense8|dense8|dense8]-dense10", "'res[dense8|dense8|dense8]' (1st)", "has 3 paths"),
        ("res[dense8]x-dense10", "'res[dense8]x' (1st)", "is not a res layer: write res[<main>]"),
    ],
)  # fmt: skip
def test_invalid_arch_strings_name_the_token(text, token, needle):
    with pytest.raises(ValueError) as e:
        arch.parse(text)
    assert f"--arch token {token}" in str(e.value) and needle in str(e.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("res[conv8k3-bn-dense10", "--arch: the '[' of 'res[conv8k3-bn-dense10' is never closed"),
        ("dense8]-dense10", "--arch: a ']' without its '[' in 'dense8]'"),
        ("dense8-res[dense8|res[dense8]-dense10",
         "--arch: the '[' of 'res[dense8|res[dense8]-dense10' is never closed"),
        # a block and the tokens in it count against jaxnet.limits.MAX_TOKENS: 1 + 99 + 1
        ("res[" + "-".join(["dense8"] * 99) + "]-dense10", "--arch has 101 tokens, more than"),
        ("res[res[res[" + "]" * 3 + "-dense10" * 97, "--arch has 101 tokens, more than"),
        ("res[dense\u0668]-dense10", "--arch holds the non-ASCII character"),
    ],
)  # fmt: skip
def test_malformed_blocks_are_refused_naming_the_part(text, needle):
    with pytest.raises(ValueError) as e:
        arch.parse(text)
    assert needle in str(e.value)


def test_a_block_whose_paths_differ_names_its_token():
    dataset = _images(shape=(8, 8, 1))
    with pytest.raises(ValueError) as e:
        _build(dataset, "conv4k3-res[conv8k3-bn]-flatten-dense10")
    assert (
        "--arch token 'res[conv8k3-bn]' (2nd) on input shape (6, 6, 4): the main path's output "
        "shape (6, 6, 8) differs from the identity shortcut (the input)'s (6, 6, 4)"
    ) in str(e.value)
    net = _build(dataset, "conv4k3-res[conv8k3s2-bn|conv8k1s2]-flatten-dense10")
    assert net.output_shapes[1] == (3, 3, 8) and arch.takes_images("res[bn-conv4k3]-dense1")
    assert not arch.takes_images("res[bn-dense4]-dense1")
    assert (
        arch.canonical(net.layers)
        == "conv4k3relu-res[conv8k3s2-bn|conv8k1s2]relu-flatten-dense10softmax"
    )


def test_ordinals_and_an_empty_arch():
    assert [arch.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="--arch is empty; tokens look like"):
        arch.parse("  ")


# Networks on a dataset's shape (no training) ----------------------------------------------


def _images(classes=10, shape=(12, 12, 1)):
    X = np.zeros((4, *shape), np.float32)
    y = np.arange(4, dtype=np.int32) % classes
    return data.Data("imgs", {"train": (X, y)}, classes, {"scale": 255.0}, shape)


def _vectors(classes=2, n=2):
    X, y = np.zeros((4, n), np.float32), np.arange(4, dtype=np.int32) % classes
    return data.Data("vecs", {"train": (X, y)}, classes, {})


def _build(dataset, text, **options):
    cfg = config.resolve("mnist" if dataset.image_shape else "planar", arch=text, **options)
    return commands.build_network(cfg, dataset)


def test_arch_networks_follow_the_data():
    net = _build(_images(), "conv4k3-pool2-flatten-dense10", l2=0.01)
    assert net.input_shape == (12, 12, 1) and net.output_shapes[1] == (5, 5, 4)
    assert net == jn.Network.from_dict(json.loads(json.dumps(net.to_dict())))
    assert net.layers[-1] == Dense(10, "softmax", l2=0.01) and net.layers[0].l2 == 0.01
    net = _build(_vectors(), "dense8-bn-dropout0.5-dense1", hidden_activation="tanh")
    assert net.layers[0] == Dense(8, "tanh") and net.layers[-1] == Dense(1, "sigmoid")
    net = _build(_vectors(), "dense8-dense2softmax")  # the token's activation wins
    assert net.task == "multiclass" and net.output_shape == (2,)
    net = _build(_images(2, (32, 32, 3)), "lenet", output_activation=None)  # auto: sigmoid
    assert net.layers[-1] == Dense(1, "sigmoid")


@pytest.mark.parametrize(
    "options",
    [
        {"l2": 0.5},
        {"dropout": 0.2},
        {"batch_norm": True},
        {"l2": 0.7, "dropout": 0.14, "batch_norm": True},
    ],  # fmt: skip
)
def test_regularised_shorthand_is_rebuilt_from_config_json(options):
    """config.json's ``network`` (``to_dict``) rebuilds the network the options build, so
    evaluate, predict and resume (which compares the two) accept the run."""
    cfg = config.resolve("planar", hidden_sizes=(4, 3), **options)
    net = commands.build_network(cfg, _vectors())
    assert net == jn.Network((2, 4, 3, 1), "tanh", "sigmoid", **options)
    assert jn.Network.from_dict(json.loads(json.dumps(net.to_dict()))) == net


@pytest.mark.parametrize(
    ("dataset", "text", "needle"),
    [
        (
            _images(),
            "conv8k13-flatten-dense10",
            "--arch token 'conv8k13' (1st) on input shape (12, 12, 1): kernel_size=13 is larger than the padded input 12x12",
        ),  # fmt: skip
        (
            _images(),
            "conv8k3-pool2-dense10",
            "--arch token 'dense10' (3rd) on input shape (5, 5, 8): Dense expects a vector",
        ),  # fmt: skip
        (
            _images(),
            "conv8k3-pool2",
            "'pool2' (2nd) ends the network, but the output layer must be a dense token; add dense10",
        ),  # fmt: skip
        (
            _images(),
            "flatten-dense5",
            "'dense5' (2nd) is the output layer: a softmax output here has 10 unit(s); write dense10",
        ),  # fmt: skip
        (_images(), "flatten-dense1sigmoid", "cannot classify 10 classes"),
        (
            _vectors(),
            "conv8k3-flatten-dense1",
            "'conv8k3' (1st) takes images (n_H, n_W, n_C), but vecs gives vectors of 2 features",
        ),  # fmt: skip
        (_vectors(), "pool2-flatten-dense1", "'pool2' (1st) takes images"),
        (
            _vectors(),
            "lstm8-dense1",
            "'lstm8' (1st) on input shape (2,): LSTM expects a sequence (T, n_x) per example",
        ),  # fmt: skip
        (
            _vectors(),
            "dense4-lstm8seq-dense1",
            "'lstm8seq' (2nd) on input shape (4,): LSTM expects a sequence",
        ),  # fmt: skip
    ],
)
def test_arch_that_does_not_fit_the_data(dataset, text, needle):
    with pytest.raises(ValueError) as e:
        _build(dataset, text)
    assert needle in str(e.value)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["--arch", "dense64-conv8x3-dense1"],
            "jaxnet: error: --arch token 'conv8x3' (2nd) is not a conv layer",
        ),  # fmt: skip
        (["--arch", "dense8-dropout1.5-dense1"], "--arch token 'dropout1.5' (2nd): rate must be"),
        (["--arch", "dense8-dense1", "--hidden-sizes", "4"], "mutually exclusive"),
        (["--arch", "dense8-dense1", "--dropout", "0.5"], "put dropout0.5 tokens"),
        (["--arch", "dense8-dense1", "--batch-norm"], "put bn tokens"),
        (["--arch", "conv8k3-flatten-dense1"], "'conv8k3' (1st) takes images"),
        (["--l2", "-1"], "argument --l2: expected a finite number >= 0, got -1"),
        (["--l2", "nan"], "argument --l2: expected a finite number >= 0, got nan"),
        (["--dropout", "1"], "argument --dropout: expected a rate in [0, 1)"),
        (["--dropout", "-0.1"], "argument --dropout: expected a rate in [0, 1)"),
    ],
)
def test_bad_arch_and_regularisation_options_exit_2(argv, needle, tmp_path, capsys):
    err = refused(capsys, "train", *argv, "--out", tmp_path / "r")
    assert needle in err
    assert not (tmp_path / "r").exists()


def test_shape_errors_on_real_images_are_one_line(shared_data, tmp_path, capsys):
    """The cat images (64x64x3): the library's shape errors, named by token, in one line."""
    common = ["train", "--dataset", "cat", "--data-dir", shared_data / "catvnoncat"]
    err = refused(capsys, *common, "--arch", "conv8k65-flatten-dense1", "--out", tmp_path / "r")
    assert "--arch token 'conv8k65' (1st) on input shape (64, 64, 3): kernel_size=65" in err
    err = refused(capsys, *common, "--arch", "conv8k3-dense1", "--out", tmp_path / "r")
    assert "'dense1' (2nd) on input shape (62, 62, 8): Dense expects a vector" in err
    assert not (tmp_path / "r").exists()


def test_train_help_documents_arch(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    for needle in ("--arch ARCH", "--arch dense64-bn-dropout0.5-dense1", "conv32k3s2same", "lenet",
                   "emb16v27", "lstm64seq", "bilstm32seq",
                   "--l2 LAMBDA", "--dropout RATE", "--batch-norm", "cat --arch",
                   "res[MAIN|SHORTCUT]", "res[conv16k3-bn-relu-conv16k3-bn]",
                   "res[conv32k3s2-bn-relu-conv32k3-bn|conv32k1s2-bn]"):  # fmt: skip
        assert needle in out, needle


# Real tiny runs ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_cnn(shared_data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cnn") / "run"
    argv = ["train", "--dataset", "mnist", "--data-dir", str(shared_data / "mnist"),
            "--arch", "conv4k3-pool2-conv8k3-pool2-flatten-dense10", "--limit", "512",
            "--epochs", "2", "--batch-size", "64", "--learning-rate", "0.005", "--quiet",
            "--out", str(run_dir)]  # fmt: skip
    assert cli.main(argv) == 0
    return run_dir


@pytest.mark.integration  # a CNN trained on MNIST by `jaxnet train`, once: one worker
@pytest.mark.xdist_group("cli_mnist_cnn")
def test_cnn_run_on_mnist_images(mnist_cnn, tmp_path, capsys):
    saved = json.loads((mnist_cnn / "config.json").read_text())
    assert (
        saved["arch"] == "conv4k3-pool2-conv8k3-pool2-flatten-dense10"
        and saved["hidden_sizes"] is None
    )
    assert saved["preprocessing"] == {"scale": 255.0, "image_shape": [28, 28, 1]}
    assert saved["network"]["input_shape"] == [28, 28, 1]
    assert "--arch conv4k3-pool2-conv8k3-pool2-flatten-dense10" in saved["command"]
    net, ckpt = restore(mnist_cnn)
    assert net.layers[0] == Conv2D(4, 3, activation="relu") and ckpt.step == 2
    metrics = json.loads((mnist_cnn / "metrics.json").read_text())
    assert metrics["train"]["examples"] == 512 and metrics["test"]["accuracy"] > 0.5
    for name in ("predictions", "filters", "feature_maps", "learning_curves"):
        assert (mnist_cnn / f"{name}.png").read_bytes()[:8] == PNG, name

    code, out, _ = jaxnet(capsys, "evaluate", mnist_cnn)
    assert code == 0 and f"{100 * metrics['test']['accuracy']:6.2f}%" in out
    code, out, _ = jaxnet(capsys, "summary", mnist_cnn)
    assert code == 0 and "(None, 26, 26, 4)" in out and "(None, 200)" in out
    assert f"Total params: {net.num_params:,}" in out and "Non-trainable params: 0" in out

    pixels = np.random.default_rng(0).integers(0, 256, (3, 784))  # raw rows, as in the files
    inputs = tmp_path / "pixels.csv"
    inputs.write_text("".join(",".join(map(str, row)) + "\n" for row in pixels))
    images = (pixels / 255.0).astype(np.float32).reshape(3, 28, 28, 1)
    expected = [str(k) for k in np.asarray(jn.predict(net, ckpt.params, images))]
    code, out, _ = jaxnet(capsys, "predict", mnist_cnn, inputs)
    assert code == 0 and out.split() == expected
    inputs.write_text("1,2,3\n")
    err = refused(capsys, "predict", mnist_cnn, inputs)
    assert "rows have 3 values, but the network takes images 28x28x1: 784 pixel values" in err


@pytest.mark.integration  # a CNN trained on MNIST by `jaxnet train`, once: one worker
@pytest.mark.xdist_group("cli_mnist_cnn")
def test_evaluate_a_cnn_run_on_images_of_another_shape(mnist_cnn, shared_data, capsys):
    err = refused(capsys, "evaluate", mnist_cnn, "--dataset", "cat", "--data-dir",
                  shared_data / "catvnoncat")  # fmt: skip
    assert "cat has examples of shape (64, 64, 3)" in err and "images of shape (28, 28, 1)" in err


@pytest.mark.integration
def test_cnn_with_batch_norm_and_dropout_resumes_bitwise(shared_data, tmp_path, capsys):
    """The BN moving statistics and the dropout key stream continue where the checkpoint
    left them: 1 + 1 epochs equal 2 epochs, bit for bit."""
    common = ["--dataset", "cat", "--data-dir", shared_data / "catvnoncat", "--quiet",
              "--arch", "conv4k5s2-bn-pool2-flatten-dropout0.3-dense1", "--batch-size", 64]  # fmt: skip
    assert jaxnet(capsys, "train", *common, "--epochs", 2, "--out", tmp_path / "a")[0] == 0
    assert jaxnet(capsys, "train", *common, "--epochs", 1, "--out", tmp_path / "b")[0] == 0
    code, out, err = jaxnet(capsys, "train", "--resume", tmp_path / "b", "--epochs", 2, "--quiet")
    assert code == 0, err
    (net, a), (_, b) = restore(tmp_path / "a"), restore(tmp_path / "b")
    assert net.needs_key and any(isinstance(layer, BatchNorm) for layer in net.layers)
    assert a.step == b.step == 2
    for la, lb in zip(a.params, b.params, strict=True):
        assert la.keys() == lb.keys()
        for k in la:
            np.testing.assert_array_equal(la[k], lb[k], err_msg=k)
    assert np.any(np.asarray(a.params[1]["moving_mean"]) != 0)  # the statistics did move
    history = [json.loads((tmp_path / d / "history.json").read_text()) for d in "ab"]
    assert history[0]["loss"] == history[1]["loss"]
    code, out, _ = jaxnet(capsys, "summary", tmp_path / "b")
    assert code == 0 and "Non-trainable params: 8" in out


def test_regularised_dense_run(tmp_path, capsys):
    """``--l2 0.7 --dropout 0.14 --batch-norm``: the dense shorthand's keywords, recorded."""
    run_dir = tmp_path / "run"
    code, out, err = jaxnet(capsys, "train", "--dataset", "moons", "--hidden-sizes", "16,8", "--l2", 0.7,
                            "--dropout", 0.14, "--batch-norm", "--epochs", 3, "--out", run_dir)  # fmt: skip
    assert code == 0, err
    assert "with l2 0.7, dropout 0.14, batch norm" in out
    saved = json.loads((run_dir / "config.json").read_text())
    assert (saved["l2"], saved["dropout"], saved["batch_norm"]) == (0.7, 0.14, True)
    assert "--l2 0.7 --dropout 0.14 --batch-norm" in saved["command"]
    expected = jn.Network((2, 16, 8, 1), "relu", "sigmoid", l2=0.7, dropout=0.14, batch_norm=True)
    net, ckpt = restore(run_dir)
    assert net == expected and ckpt.step == 3
    assert [type(layer) for layer in net.layers] == [Dense, BatchNorm, Dropout] * 2 + [Dense]
    code, out, _ = jaxnet(capsys, "summary", run_dir)
    assert code == 0 and "Non-trainable params: 48" in out  # 2 x (16 + 8) moving statistics
    code, out, _ = jaxnet(capsys, "evaluate", run_dir)
    assert code == 0 and "validation" in out


def test_residual_dense_run_resumes_and_summarises(tmp_path, capsys):
    """``--arch`` with a block: trained, saved as nested JSON, rebuilt, summarised, resumed."""
    run = ["train", "--dataset", "moons", "--arch", "dense8-res[dense8-bn-relu-dropout0.1-dense8]-dense1",
           "--batch-size", "32", "--learning-rate", "0.01", "--optimizer", "adam", "--quiet"]  # fmt: skip
    code, _, err = jaxnet(capsys, *run, "--epochs", 4, "--out", tmp_path / "straight")
    assert code == 0, err
    net, ckpt = restore(tmp_path / "straight")
    assert net.layers[1] == Residual(
        (Dense(8, "linear"), BatchNorm(), Activation("relu"), Dropout(0.1), Dense(8, "linear")), None, "relu"
    )  # fmt: skip
    assert ckpt.params[1]["main"][1]["moving_var"].shape == (8,)
    code, _, err = jaxnet(capsys, *run, "--epochs", 2, "--out", tmp_path / "half")
    assert code == 0, err
    code, _, err = jaxnet(capsys, "train", "--resume", tmp_path / "half", "--epochs", 4, "--quiet")
    assert code == 0, err
    _, resumed = restore(tmp_path / "half")
    assert all(jax.tree.leaves(jax.tree.map(np.array_equal, resumed.params, ckpt.params)))
    code, out, _ = jaxnet(capsys, "summary", tmp_path / "straight")
    assert code == 0 and "residual_1 (Residual)" in out and "    dense_2 (Dense)" in out


# The plots (jaxnet.plotting.plot_filters, plot_feature_maps) --------------------------------


def test_plot_filters_and_feature_maps(tmp_path):
    net = jn.Sequential([Conv2D(5, 3, activation="relu"), BatchNorm(), MaxPool2D(2),
                         Conv2D(2, 3, padding="same"), Flatten(), Dense(3, "softmax")],
                        input_shape=(9, 9, 3))  # fmt: skip
    params = jn.init(jax.random.key(0), net)
    fig = plotting.plot_filters(params[0]["W"], path=tmp_path / "f.png", max_filters=4)
    assert len(fig.axes) == 4 and (tmp_path / "f.png").read_bytes()[:8] == PNG
    assert fig.axes[0].images[0].get_array().shape == (3, 3, 3)  # RGB filters
    fig = plotting.plot_filters(params[3]["W"], channel=4)
    assert len(fig.axes) == 2 and fig.axes[0].images[0].get_array().shape == (3, 3)
    image = np.random.default_rng(0).random((9, 9, 3))
    fig = plotting.plot_feature_maps(net, params, image, max_maps=4)
    assert len(fig.axes) == 1 + 4 + 2  # the image, then each conv layer's maps
    assert fig.axes[1].images[0].get_array().shape == (7, 7)
    fig = plotting.plot_feature_maps(net, params, image[None], layers=[2], path=tmp_path / "m.png")
    assert len(fig.axes) == 1 + 5 and (tmp_path / "m.png").is_file()


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda net, p: plotting.plot_filters(np.zeros((3, 3, 5))), "(f, f, n_C_prev, n_C)"),
        (
            lambda net, p: plotting.plot_filters(p[0]["W"], channel=3),
            "channel must be an int in [0, 2], got channel=3",
        ),  # fmt: skip
        (lambda net, p: plotting.plot_filters(p[0]["W"], max_filters=0), "max_filters"),
        (
            lambda net, p: plotting.plot_feature_maps(net, p, np.zeros((9, 9, 1))),
            "input shape (9, 9, 3)",
        ),  # fmt: skip
        (
            lambda net, p: plotting.plot_feature_maps(net, p, np.zeros((9, 9, 3)), layers=[3]),
            "whose outputs are images",
        ),  # fmt: skip
        (
            lambda net, p: plotting.plot_feature_maps(jn.Network((2, 1)), None, np.zeros(2)),
            "must take images",
        ),  # fmt: skip
    ],
)
def test_plots_refuse_bad_input(call, needle):
    net = jn.Sequential([Conv2D(2, 3), Flatten(), Dense(1, "sigmoid")], input_shape=(9, 9, 3))
    with pytest.raises(ValueError) as e:
        call(net, jn.init(jax.random.key(0), net))
    assert needle in str(e.value)
