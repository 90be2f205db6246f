"""The ``jaxnet`` options, declared once: the argparse options, the rerun command line, the
course table and the checks of a saved config.json all come from the same fields."""

import argparse
import dataclasses
import shlex

import pytest

from jaxnet import cli
from jaxnet.cli import config, data
from jaxnet.cli.config import (
    COURSE,
    COURSE_WITH_HIDDEN_SIZES,
    CommonOptions,
    GradcheckConfig,
    RunConfig,
    TrainOptions,
)


def _train_parser():
    sub = cli.build_parser()._subparsers._group_actions[0]
    return sub.choices["train"]


def test_every_field_is_an_option_of_its_command():
    sub = cli.build_parser()._subparsers._group_actions[0].choices
    commands = {"train": (RunConfig, TrainOptions), "gradcheck": (GradcheckConfig,),
                "evaluate": (), "predict": (), "summary": ()}  # fmt: skip
    for command, classes in commands.items():
        classes = (*classes, CommonOptions)
        flags = {a for action in sub[command]._actions for a in action.option_strings}
        for cls in classes:
            for f in dataclasses.fields(cls):
                assert "--" + f.name.replace("_", "-") in flags, (command, f.name)
                assert f.metadata["help"], f.name


@pytest.mark.parametrize("dataset", [*data.NAMES, "/tmp/some/table.csv"])
@pytest.mark.parametrize("hidden_sizes", [None, (7, 3)])
def test_command_line_reparses_to_the_same_config(dataset, hidden_sizes):
    """``command_line`` (saved as config.json's ``command``) is the run, option for option."""
    options = {} if hidden_sizes is None else {"hidden_sizes": hidden_sizes}
    cfg = config.resolve(dataset, seed=2**32 - 1, limit=50, **options)
    argv = shlex.split(config.command_line(cfg))[2:]
    args = _train_parser().parse_args(argv)
    assert config.resolve(**config.given(args, RunConfig)) == cfg


def test_zero_and_false_values_are_given_options():
    args = _train_parser().parse_args(["--epochs", "0", "--seed", "0", "--hidden-sizes", "none"])
    assert config.given(args, RunConfig) == {"epochs": 0, "seed": 0, "hidden_sizes": ()}
    assert config.given(args, TrainOptions) == {}


@pytest.mark.parametrize("dataset", [*data.NAMES, "/tmp/some/table.csv"])
def test_config_json_round_trip(dataset):
    cfg = config.resolve(dataset, data_dir="/tmp/d" if dataset in data.FROM_FILES else None)
    cfg = dataclasses.replace(cfg, output_activation=cfg.output_activation or "sigmoid")
    assert RunConfig.from_json(cfg.to_json(), "config.json") == cfg


def test_course_settings_parse_as_their_options():
    """Each dataset's course settings are values its options accept (and the table shows them)."""
    table = config.defaults_table()
    for name, course in (*COURSE.items(), *COURSE_WITH_HIDDEN_SIZES.items()):
        assert tuple(course) == config.COURSE_FIELDS
        for f in dataclasses.fields(RunConfig):
            if f.name in course and course[f.name] is not None:
                assert f.metadata["parse"](config.show(course[f.name])) == course[f.name]
        assert name in table
    assert set(COURSE) == {*data.NAMES, "csv"}


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("epochs", "5", "must be an int"),
        ("epochs", True, "must be an int"),
        ("epochs", 5.0, "must be an int"),
        ("epochs", None, "must be an int"),
        ("hidden_sizes", "4", "must be a list of ints"),
        ("hidden_sizes", [4, "8"], "must be a list of ints"),
        ("hidden_sizes", [True], "must be a list of ints"),
        ("learning_rate", "0.1", "must be a number"),
        ("learning_rate", None, "must be a number"),
        ("seed", 2**64, "0..4294967295"),
        ("seed", -1, "0..4294967295"),
        ("limit", 0, ">= 1"),
        ("batch_size", "full", "an int or null"),
        ("dataset", "/etc/passwd", "unknown dataset"),
        ("dataset", ["planar"], "must be a string"),
        ("optimizer", {"name": "sgd"}, "must be a string"),
        ("data_dir", 3, "a string or null"),
        ("batch_norm", 1, "true or false"),
        ("batch_norm", None, "true or false"),
        ("l2", -1, "finite number >= 0"),
        ("l2", "0.1", "must be a number"),
        ("dropout", 1, "[0, 1)"),
        ("arch", "conv8x3-dense10", "--arch token 'conv8x3' (1st)"),
        ("arch", 5, "a string or null"),
    ],
)
def test_a_saved_config_of_the_wrong_type_names_the_file_and_key(key, value, needle):
    saved = {**config.resolve("planar").to_json(), key: value}
    with pytest.raises(ValueError, match="config.json") as e:
        RunConfig.from_json(saved, "run/config.json")
    assert repr(key) in str(e.value) and needle in str(e.value)


OFF = [f.name for f in dataclasses.fields(RunConfig) if f.metadata.get("off")]


@pytest.mark.parametrize(
    "key", [f.name for f in dataclasses.fields(RunConfig) if f.name not in OFF]
)
def test_a_saved_config_missing_a_key_names_it(key):
    saved = config.resolve("planar").to_json()
    del saved[key]
    with pytest.raises(ValueError, match=f"run/config.json: missing key '{key}'"):
        RunConfig.from_json(saved, "run/config.json")


def test_a_config_from_before_the_regularisation_options_loads_with_them_off():
    assert set(OFF) == {"arch", "l2", "dropout", "batch_norm", "clip_value", "clip_norm"}
    cfg = config.resolve("planar")
    saved = {k: v for k, v in cfg.to_json().items() if k not in OFF}
    assert RunConfig.from_json(saved, "config.json") == cfg
    assert cfg.clip_value is None and cfg.clip_norm is None
    assert "--arch" not in config.command_line(cfg) and "--l2" not in config.command_line(cfg)
    assert "--clip" not in config.command_line(cfg)


@pytest.mark.parametrize("key", ["clip_value", "clip_norm"])
def test_a_saved_clipping_bound_is_checked_as_the_flag_is(key):
    saved = config.resolve("planar", **{key: 5.0}).to_json()
    assert RunConfig.from_json(saved, "config.json") == config.resolve("planar", **{key: 5.0})
    saved[key] = -1
    with pytest.raises(ValueError, match=f"key '{key}': expected a finite number > 0, got -1"):
        RunConfig.from_json(saved, "run/config.json")


@pytest.mark.parametrize(
    "options",
    [
        {"l2": 0.7, "dropout": 0.14, "batch_norm": True, "hidden_sizes": (20, 3)},
        {"arch": "conv8k3-pool2-flatten-dense10", "l2": 0.01},
        {"arch": "lenet"},
    ],
)
def test_regularised_and_arch_configs_round_trip(options):
    cfg = config.resolve("mnist", **options)
    assert RunConfig.from_json(cfg.to_json(), "config.json") == cfg
    args = _train_parser().parse_args(shlex.split(config.command_line(cfg))[2:])
    assert config.resolve(**config.given(args, RunConfig)) == cfg
    if "arch" in options:
        assert cfg.hidden_sizes is None and cfg.optimizer == "adam"  # the CNN course settings


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"arch": "dense8-dense1", "hidden_sizes": (4,)}, "mutually exclusive"),
        ({"arch": "dense8-dense1", "dropout": 0.5}, "put dropout0.5 tokens"),
        ({"arch": "dense8-dense1", "batch_norm": True}, "put bn tokens"),
    ],
)
def test_arch_conflicts(options, needle):
    with pytest.raises(ValueError, match=needle):
        config.resolve("planar", **options)
    saved = {**config.resolve("planar").to_json(), "hidden_sizes": None, **options}
    saved["hidden_sizes"] = saved["hidden_sizes"] and list(saved["hidden_sizes"])
    with pytest.raises(ValueError, match=f"config.json: .*{needle}"):
        RunConfig.from_json(saved, "config.json")


def test_a_saved_config_without_hidden_sizes_or_arch():
    saved = {**config.resolve("planar").to_json(), "hidden_sizes": None}
    with pytest.raises(ValueError, match="key 'hidden_sizes' is null and there is no 'arch'"):
        RunConfig.from_json(saved, "config.json")


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        (config.size_list, "512,256", (512, 256)),
        (config.size_list, "none", ()),
        (config.size_list, "", ()),
        (config.batch_size, "full", None),
        (config.batch_size, "64", 64),
        (config.seed, "4294967295", 2**32 - 1),
        (config.devices, "all", "all"),
        (config.devices, "2", 2),
        (config.nonnegative, "0", 0.0),
        (config.nonnegative, "0.7", 0.7),
        (config.rate, "0.14", 0.14),
        (config.rate, "0", 0.0),
        (data.parse_dataset, "moons", "moons"),
    ],
)
def test_parsers_accept(parse, text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (config.size_list, "5,x"),
        (config.size_list, "5,,3"),
        (config.size_list, "2.5"),
        (config.integer, "1e3"),
        (config.count, "0"),
        (config.real, "fast"),
        (config.seed, "1180591620717411303424"),
        (config.seed, "-3"),
        (config.devices, "many"),
        (config.devices, "0"),
        (config.devices, "-1"),
        (config.nonnegative, "-1"),
        (config.nonnegative, "nan"),
        (config.nonnegative, "inf"),
        (config.rate, "1"),
        (config.rate, "-0.1"),
        (config.rate, "nan"),
        (data.parse_dataset, "nope"),
        (data.parse_dataset, "notes.txt"),
    ],
)
def test_parsers_refuse(parse, text):
    with pytest.raises(ValueError, match="expected|unknown"):
        parse(text)
    with pytest.raises(argparse.ArgumentTypeError):
        config._for_argparse(parse)(text)
