"""Issue 23, row 6: ``ModelCheckpoint`` path templates are checked before training.

A template's fields are names only (``{epoch}`` or a quantity the fit logs), each with an
optional format spec that is tried on a sample value when the callback is made; what the
fit will log is checked in ``on_train_begin``, before the first epoch. Every refusal is a
one-line ValueError naming ``ModelCheckpoint path``; nothing is trained or written.
"""

import jax
import numpy as np
import pytest

import jaxnet as jn
from jaxnet.io import atomic

NET = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
PARAMS = jn.init(jax.random.key(0), NET)
X = np.random.default_rng(0).normal(size=(24, 2)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)


@pytest.mark.parametrize(
    ("template", "needle"),
    [
        ("m{epoch", "not a valid path template"),
        ("m{epoch}}", "not a valid path template"),
        ("m}", "not a valid path template"),
        ("{epoch:s}", "cannot format the int"),
        ("{loss:d}", "cannot format the float"),
        ("{epoch:%Y}", "cannot format the int"),
        ("{0}", "a positional field"),
        ("{}", "a positional field"),
        ("{epoch.__class__.__name__}", "an attribute or index lookup"),
        ("{epoch.real}", "an attribute or index lookup"),
        ("{logs[0]}", "an attribute or index lookup"),
        ("{epoch!r}", "a conversion or a nested field"),
        ("{epoch:{width}}", "a conversion or a nested field"),
        ("{val loss}", "an attribute or index lookup"),
    ],
)
def test_a_malformed_template_is_refused_when_the_callback_is_made(template, needle, tmp_path):
    with pytest.raises(ValueError) as error:
        jn.callbacks.ModelCheckpoint(str(tmp_path / template) + ".safetensors", monitor="loss")
    message = str(error.value)
    assert message.startswith("ModelCheckpoint path ") and needle in message, message
    assert "\n" not in message and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("template", "validation"),
    [
        ("m-{val_loss:.3f}", False),
        ("m-{val_accuracy}", False),
        ("m-{mse}", True),
        ("m-{time}", True),
        ("m-{stopped_epoch}", True),
        ("m-{lr}", True),
    ],
)
def test_a_field_this_fit_does_not_log_is_refused_before_training(template, validation, tmp_path):
    keep = jn.callbacks.ModelCheckpoint(str(tmp_path / template) + ".safetensors", monitor="loss")
    logger = jn.callbacks.CSVLogger(tmp_path / "log.csv")
    extra = {"validation_data": (X, Y)} if validation else {}
    with pytest.raises(ValueError, match="ModelCheckpoint path .* does not log") as error:
        jn.fit(NET, PARAMS, X, Y, epochs=2, verbose=0, callbacks=[keep, logger], **extra)
    assert error.value.epoch == 0  # refused before the first epoch
    assert "pass validation_data" in str(error.value) or not template.startswith("m-{val")
    assert [p.name for p in tmp_path.iterdir() if p.name not in atomic.BOOKKEEPING] == []


@pytest.mark.parametrize(
    "template",
    ["m-{epoch:03d}-{loss:.4f}", "m-{val_accuracy:.2%}-{epoch}", "{{literal}}-{epoch:>4}",
     "m-{learning_rate:g}", "plain"],
)  # fmt: skip
def test_a_good_template_writes_each_epochs_file(template, tmp_path):
    keep = jn.callbacks.ModelCheckpoint(
        str(tmp_path / template) + ".safetensors", monitor="loss", save_best_only=False
    )
    _, history = jn.fit(NET, PARAMS, X, Y, epochs=2, verbose=0, learning_rate=0.5,
                        validation_data=(X, Y), callbacks=[keep])  # fmt: skip
    names = sorted(p.name for p in tmp_path.iterdir() if p.name not in atomic.BOOKKEEPING)
    logs = [{k: history[k][i] for k in history if k not in ("epoch", "time")} for i in range(2)]
    expected = sorted({(template + ".safetensors").format(epoch=e, **logs[e - 1]) for e in (1, 2)})
    assert names == expected
