"""``--arch``: a network written as tokens joined by ``-``, parsed into :mod:`jaxnet.layers`.

    dense64  dense64tanh  dense10softmax     Dense(units[, activation])
    bn                                       BatchNorm() (per feature, or per channel on images)
    dropout0.5                               Dropout(rate): the fraction dropped, in [0, 1)
    conv8k3  conv32k3same  conv16k5s2valid   Conv2D(filters, kernel k, [stride s], [same|valid|p<int>]
    conv8k3tanh                                     padding, [activation])
    pool2  pool3s2  avgpool2                 MaxPool2D(size[, stride s]) / AvgPool2D
    flatten                                  Flatten()
    emb16  emb16v27                          Embedding(vocab v (default: the outputs), dim 16)
    rnn64  lstm64  gru64  lstm64seq          SimpleRNN / LSTM / GRU(units[, return_sequences])
    bilstm32seq  bigru16                     Bidirectional(LSTM(32, return_sequences=True)), ...
    relu  tanh  leaky_relu                   Activation(name): an activation as a layer
    res[MAIN]  res[MAIN|SHORTCUT]tanh        Residual(main, shortcut (none: the identity),
                                                      [activation])

A block's MAIN and SHORTCUT are tokens joined by ``-`` (blocks nest); inside a block, a conv
token's padding defaults to ``same`` (the sum needs equal shapes) and a dense or conv token
without an activation is linear (the course's blocks put batch norm, then the activation):
``res[conv16k3-bn-relu-conv16k3-bn]`` is the identity block,
``res[conv32k3s2-bn-relu-conv32k3-bn|conv32k1s2-bn]`` a convolutional block.

Numbers are written with the ASCII digits 0-9 (``dense٨`` is refused, not read as 8), within
the bounds of :mod:`jaxnet.limits` (units, filters, kernel, stride, padding, pool size), and
an architecture has at most ``jaxnet.limits.MAX_TOKENS`` tokens (a block and the tokens in it
count each); ``jaxnet train`` also
bounds the parameters and activations they imply (:func:`jaxnet.limits.check_budget`).

A ``dense`` or ``conv`` token that names no activation gets the run's hidden activation
(``--hidden-activation``), except the last token: it is the output layer, a ``dense`` whose
activation is the dataset's output activation unless the token names one, and whose units
must be the dataset's outputs (its classes for softmax, else 1). A named architecture
(:data:`NAMED`) is the body of a network: the output layer ``dense<outputs>`` is appended.

>>> [t.text for t in parse("conv8k3-pool2-flatten-dense10")]
['conv8k3', 'pool2', 'flatten', 'dense10']
>>> layers("dense64-bn-dropout0.5-dense10", hidden_activation="relu", output_activation="softmax", outputs=10)[2]
Dropout(rate=0.5)
>>> canonical(layers("emb16-lstm64seq-gru32-dense27", hidden_activation="relu", output_activation="softmax", outputs=27))
'emb16v27-lstm64seq-gru32-dense27softmax'
>>> canonical(layers("lenet", hidden_activation="relu", output_activation="softmax", outputs=10))
'conv6k5samerelu-pool2-conv16k5relu-pool2-flatten-dense120relu-dense84relu-dense10softmax'
>>> block = layers("res[conv8k3s2-bn-relu-conv8k3|conv8k1s2]-flatten-dense10", hidden_activation="relu",
...                output_activation="softmax", outputs=10)[0]
>>> block.shortcut, block.activation
((Conv2D(filters=8, kernel_size=1, strides=2, padding='same', activation=None),), 'relu')
"""

from __future__ import annotations

import re
from typing import NamedTuple

import jaxnet as jn
from jaxnet import limits

# name -> body (the output layer dense<outputs> is appended)
NAMED = {
    "lenet": "conv6k5same-pool2-conv16k5-pool2-flatten-dense120-dense84",
    "cnn": "conv32k3same-pool2-conv64k3same-pool2-flatten-dense128",
}
ABOUT_NAMED = {
    "lenet": "LeNet-5 (LeCun et al. 1998) with max pooling and the hidden activation",
    "cnn": "two conv+pool blocks and a dense layer (the benchmarks' workload E)",
}

_ACT = "|".join(sorted(jn.activations.NAMES, key=len, reverse=True))
_NUMBER = r"([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)"
# word -> (pattern of the whole token, how to write it)
GRAMMAR = {
    "dense": (
        rf"dense([0-9]+)({_ACT})?",
        "dense<units>[activation], e.g. dense64 or dense10softmax",
    ),
    "bn": (r"bn|batchnorm", "bn"),
    "dropout": (rf"dropout{_NUMBER}", "dropout<rate>, e.g. dropout0.5"),
    "conv": (
        rf"conv([0-9]+)k([0-9]+)(?:s([0-9]+))?(same|valid|p[0-9]+)?({_ACT})?",
        "conv<filters>k<size>[s<stride>][same|valid|p<pad>][activation], e.g. conv8k3 or "
        "conv32k3s2same",
    ),
    "pool": (r"(?:max)?pool([0-9]+)(?:s([0-9]+))?", "pool<size>[s<stride>], e.g. pool2"),
    "avgpool": (r"avgpool([0-9]+)(?:s([0-9]+))?", "avgpool<size>[s<stride>], e.g. avgpool2"),
    "flatten": (r"flatten", "flatten"),
    "emb": (r"emb(\d+)(?:v(\d+))?", "emb<dim>[v<vocab>], e.g. emb16 or emb16v27"),
    "rnn": (r"rnn(\d+)(seq)?", "rnn<units>[seq], e.g. rnn64 or rnn64seq"),
    "lstm": (r"lstm(\d+)(seq)?", "lstm<units>[seq], e.g. lstm64 or lstm64seq"),
    "gru": (r"gru(\d+)(seq)?", "gru<units>[seq], e.g. gru64 or gru64seq"),
    **{
        f"bi{word}": (rf"bi{word}(\d+)(seq)?", f"bi{word}<units>[seq], e.g. bi{word}32seq")
        for word in ("rnn", "lstm", "gru")
    },
    "activation": (rf"({_ACT})", "an activation's name, e.g. relu or tanh"),
    "res": (
        rf"res\[(.*)\]({_ACT})?",
        "res[<main>] or res[<main>|<shortcut>] with an optional activation after the ']', "
        "each path tokens joined by '-', e.g. res[conv16k3-bn-relu-conv16k3-bn]",
    ),
}
RECURRENT = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
EXAMPLES = (
    "dense64, dense10softmax, bn, dropout0.5, conv8k3, conv32k3s2same, pool2, avgpool2, "
    "flatten, relu, res[conv16k3-bn-relu-conv16k3-bn], emb16, lstm64seq"
)
TAKES_IMAGES = ("conv", "pool", "avgpool", "flatten")
SHAPELESS = ("bn", "dropout", "activation")  # tokens that take vectors and images alike


class Token(NamedTuple):
    """One ``--arch`` token: its text, 1-based position, word and numbers, and the activation
    it names (None: the run's default); a ``res`` block's tokens are in ``main`` and
    ``shortcut`` (None: the identity), and ``context`` says where a token inside a block is."""

    text: str
    position: int
    word: str
    numbers: tuple
    activation: str | None
    main: tuple = ()
    shortcut: tuple | None = None
    context: str = ""

    @property
    def where(self) -> str:
        return f"--arch token {self.text!r} ({ordinal(self.position)}{self.context})"


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ... ``11th``, ``12th``, ``13th``, ``21st``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def parse(text: str) -> tuple[Token, ...]:
    """The tokens of an ``--arch`` string (a named architecture: its body), each checked by
    building its layer (``ValueError`` naming the token and saying what tokens look like)."""
    text = text.strip().lower()
    body = NAMED.get(text, text)
    if not body:
        raise ValueError(f"--arch is empty; {_look_like()}")
    odd = next((c for c in body if not c.isascii()), None)
    if odd is not None:
        raise ValueError(
            f"--arch holds the non-ASCII character {odd!r} (U+{ord(odd):04X}); write tokens "
            "in ASCII, numbers with the digits 0-9"
        )
    count = 1 + sum(body.count(c) for c in "-|[")  # every token, inside blocks too
    if count > limits.MAX_TOKENS:
        raise ValueError(
            f"--arch has {count} tokens, more than the {limits.MAX_TOKENS} it accepts "
            "(jaxnet.limits.MAX_TOKENS; a res[...] block counts as one, its tokens as theirs)"
        )
    tokens = tuple(_token(part, i) for i, part in enumerate(split(body, "-", "--arch"), 1))
    for token in tokens:  # the library checks the numbers
        _layer(token, token.activation or "relu", "relu", vocab_size=1)
    return tokens


def normalize(text: str) -> str:
    """``text`` checked and written canonically: lower case, no spaces (``--arch``'s parser)."""
    parse(text)
    text = text.strip().lower()
    return text if text in NAMED else re.sub(r"\s+", "", text)


def split(text: str, sep: str, where: str) -> list[str]:
    """``text`` split at ``sep`` outside brackets, each part stripped (a ``res[...]`` block
    stays whole); an unclosed ``[`` or a stray ``]`` is a ``ValueError`` naming ``where``.

    >>> split("conv8k3-res[conv8k3-bn|conv8k1]-flatten", "-", "--arch")
    ['conv8k3', 'res[conv8k3-bn|conv8k1]', 'flatten']
    """
    parts, opened, start = [], [], 0  # opened: the positions of the '[' not closed yet
    for i, c in enumerate(text):
        if c == "[":
            opened.append(i)
        elif c == "]" and not opened:
            raise ValueError(f"{where}: a ']' without its '[' in {text[: i + 1]!r}")
        elif c == "]":
            opened.pop()
        elif c == sep and not opened:
            parts.append(text[start:i].strip())
            start = i + 1
    if opened:
        begin = text.rfind(sep, 0, opened[0]) + 1
        raise ValueError(f"{where}: the '[' of {text[begin:].strip()!r} is never closed")
    return [*parts, text[start:].strip()]


def _look_like() -> str:
    return (
        f"tokens look like {EXAMPLES}, joined by '-' (e.g. dense64-bn-dropout0.5-dense10), "
        f"or a named architecture: {', '.join(NAMED)}"
    )


def _token(part: str, position: int, context: str = "") -> Token:
    where = f"--arch token {part!r} ({ordinal(position)}{context})"
    if not part:
        raise ValueError(f"{where} is empty; {_look_like()}")
    word = re.match(r"[a-z_]*", part).group()
    word = {"maxpool": "pool", "batchnorm": "bn"}.get(word, word)
    word = "activation" if word in jn.activations.NAMES else word
    if word not in GRAMMAR:
        raise ValueError(f"{where} is not a layer; {_look_like()}")
    pattern, how = GRAMMAR[word]
    match = re.fullmatch(pattern, part, re.ASCII)  # \d: 0-9 only
    if match is None:
        raise ValueError(f"{where} is not a {word} layer: write {how}")
    groups = match.groups()
    if word == "res":
        return _block(part, position, context, where, *groups)
    activation = groups[-1] if word in ("dense", "conv", "activation") else None
    numbers = groups[:-1] if word in ("dense", "conv", "activation") else groups
    return Token(part, position, word, numbers, activation, context=context)


def _block(part, position, context, where, inside, activation) -> Token:
    """A ``res[MAIN|SHORTCUT]`` token: its paths parsed, each token named within its path."""
    paths = split(inside, "|", where)
    if len(paths) > 2:
        raise ValueError(
            f"{where} has {len(paths)} paths; a block is res[<main>] (identity shortcut) or "
            "res[<main>|<shortcut>]"
        )
    tokens = []
    for name, path in zip(("main path", "shortcut"), paths):
        if not path:
            hint = "; for the identity shortcut write res[<main>]" if name == "shortcut" else ""
            raise ValueError(f"{where}: its {name} is empty{hint}")
        inner = f" in the {name} of {part!r}{context}"
        parts = split(path, "-", f"{where}, its {name}")
        tokens.append(tuple(_token(p, i, inner) for i, p in enumerate(parts, 1)))
    shortcut = tokens[1] if len(tokens) == 2 else None
    return Token(part, position, "res", (), activation, tokens[0], shortcut, context)


def _layer(token: Token, activation: str | None, hidden: str, vocab_size: int):
    """The layer of ``token`` (``activation`` where it has one; ``hidden``, the run's hidden
    activation, for a block inside it that names none; ``vocab_size`` for an ``emb`` token
    that names none); errors name the token."""
    n = token.numbers
    try:
        if token.word == "res":
            main, shortcut = (
                None
                if path is None
                else tuple(_layer(t, _in_block(t, hidden), hidden, vocab_size) for t in path)
                for path in (token.main, token.shortcut)
            )
            return jn.layers.Residual(main, shortcut, activation)
        if token.word == "activation":
            return jn.layers.Activation(activation)
        if token.word == "emb":
            vocab = vocab_size if n[1] is None else int(n[1])
            return jn.layers.Embedding(vocab, int(n[0]))
        if token.word.removeprefix("bi") in RECURRENT:
            cls = getattr(jn.layers, RECURRENT[token.word.removeprefix("bi")])
            layer = cls(int(n[0]), return_sequences=n[1] is not None)
            return jn.layers.Bidirectional(layer) if token.word.startswith("bi") else layer
        if token.word == "dense":
            return jn.layers.Dense(int(n[0]), activation)
        if token.word == "bn":
            return jn.layers.BatchNorm()
        if token.word == "dropout":
            return jn.layers.Dropout(float(n[0]))
        if token.word == "conv":
            pad = n[3] or ("same" if token.context else "valid")  # in a block: same
            pad = int(pad[1:]) if pad.startswith("p") else pad
            strides = 1 if n[2] is None else int(n[2])
            return jn.layers.Conv2D(int(n[0]), int(n[1]), strides, pad, activation)
        if token.word in ("pool", "avgpool"):
            cls = jn.layers.MaxPool2D if token.word == "pool" else jn.layers.AvgPool2D
            return cls(int(n[0]), None if n[1] is None else int(n[1]))
        return jn.layers.Flatten()
    except ValueError as e:
        if str(e).startswith("--arch"):  # a token inside a block, named already
            raise
        raise ValueError(f"{token.where}: {e}") from None


def _in_block(token: Token, hidden: str) -> str | None:
    """A token's activation inside a block: its own, else linear (dense, conv; the course's
    blocks put batch norm and then the activation), else ``hidden`` (a nested block)."""
    if token.activation is not None:
        return token.activation
    return {"dense": "linear", "res": hidden}.get(token.word)


def takes_images(text: str) -> bool:
    """Whether the network's first shape-changing token (conv, pool, flatten; not dense)
    wants images ``(n_H, n_W, n_C)`` rather than vectors (bn and dropout take either)."""
    return _first_word(parse(text)) in TAKES_IMAGES


def _first_word(tokens) -> str:
    """The first shape-changing token's word (a block's: its main path's), or ``dense``."""
    for t in tokens:
        if t.word == "res":
            word = _first_word(t.main)
            if word != "dense" or any(s.word == "dense" for s in t.main):
                return word
        elif t.word not in SHAPELESS:
            return t.word
    return "dense"


def output_token(text: str) -> Token | None:
    """The output layer's token, or None for a named architecture (its output is appended)."""
    return None if text.strip().lower() in NAMED else parse(text)[-1]


def layers(text: str, *, hidden_activation: str, output_activation: str, outputs: int) -> tuple:
    """The layers of ``text``: hidden dense/conv tokens without an activation get
    ``hidden_activation``; the output layer is ``Dense(outputs, output_activation)``
    (``ValueError`` if the last token is not such a dense layer)."""
    tokens = parse(text)
    named = output_token(text) is None
    if named:
        tokens = (*tokens, Token(f"dense{outputs}", len(tokens) + 1, "dense", (outputs,), None))
    last = tokens[-1]
    if last.word != "dense":
        raise ValueError(
            f"{last.where} ends the network, but the output layer must be a dense token; "
            f"add dense{outputs}"
        )
    if int(last.numbers[0]) != outputs:
        raise ValueError(
            f"{last.where} is the output layer: a {last.activation or output_activation} output here has "
            f"{outputs} unit(s); write dense{outputs}"
        )
    body = [
        _layer(t, t.activation or hidden_activation, hidden_activation, outputs)
        for t in tokens[:-1]
    ]
    return (*body, _layer(last, last.activation or output_activation, hidden_activation, outputs))


def check_shapes(text: str, layers: tuple, input_shape: tuple[int, ...]) -> None:
    """Run the shapes through ``layers`` (those of ``text``); the first layer that does not fit
    its input raises ``ValueError`` naming its token and the library's reason."""
    tokens = parse(text)
    shape = tuple(input_shape)
    for i, layer in enumerate(layers):
        try:
            shape = tuple(layer.output_shape(shape))
        except ValueError as e:
            name = (
                tokens[i].where
                if i < len(tokens)
                else f"--arch's output layer {canonical(layers[i:])}"
            )
            raise ValueError(f"{name} on input shape {shape}: {e}") from None


def token_of(layer, in_block: bool = False) -> str:
    """The token that writes ``layer`` (activations spelled out, but for a conv inside a
    block; BatchNorm's momentum and epsilon are not part of the grammar)."""
    if isinstance(layer, jn.layers.Residual):
        paths = ["-".join(token_of(s, True) for s in path) for path in layer.sublayers().values()]
        return f"res[{'|'.join(paths)}]{layer.activation or 'linear'}"
    if isinstance(layer, jn.layers.Activation):
        return layer.activation
    if isinstance(layer, jn.layers.Dense):
        return f"dense{layer.units}{layer.activation}"
    if isinstance(layer, jn.layers.Conv2D):
        s = "" if layer.strides == 1 else f"s{layer.strides}"
        pad = layer.padding if isinstance(layer.padding, str) else f"p{layer.padding}"
        pad = "" if pad == ("same" if in_block else "valid") else pad
        activation = layer.activation or ("" if in_block else "linear")
        return f"conv{layer.filters}k{layer.kernel_size}{s}{pad}{activation}"
    if isinstance(layer, jn.layers.MaxPool2D | jn.layers.AvgPool2D):
        word = "pool" if isinstance(layer, jn.layers.MaxPool2D) else "avgpool"
        return f"{word}{layer.pool_size}" + ("" if layer.strides is None else f"s{layer.strides}")
    if isinstance(layer, jn.layers.Dropout):
        return f"dropout{layer.rate:g}"
    if isinstance(layer, jn.layers.BatchNorm):
        return "bn"
    if isinstance(layer, jn.layers.Flatten):
        return "flatten"
    if isinstance(layer, jn.layers.Embedding):
        return f"emb{layer.dim}v{layer.vocab_size}"
    if isinstance(layer, jn.layers.Bidirectional):
        return f"bi{token_of(layer.layer)}"
    for word, name in RECURRENT.items():
        if isinstance(layer, getattr(jn.layers, name)):
            return f"{word}{layer.units}{'seq' if layer.return_sequences else ''}"
    return getattr(layer, "kind", type(layer).__name__).lower()


def canonical(layers) -> str:
    """The ``--arch`` string of ``layers``, every activation spelled out."""
    return "-".join(token_of(layer) for layer in layers)


def help_text() -> str:
    """The grammar as ``jaxnet train --help`` shows it."""
    named = [f"  {k:<7} {ABOUT_NAMED[k]}:\n          {NAMED[k]}-dense<outputs>" for k in NAMED]
    return "\n".join(
        [
            "--arch: layers as tokens joined by '-' (instead of --hidden-sizes):",
            "  dense64  dense10softmax   dense layer: units, [activation]",
            "  bn                        batch normalisation (per feature / per channel)",
            "  dropout0.5                inverted dropout of this fraction, in [0, 1)",
            "  conv8k3  conv32k3s2same   conv: filters, k kernel size, [s stride],",
            "                            [same|valid|p<pad>] padding (default valid), [activation]",
            "  pool2  pool3s2  avgpool2  max / average pooling: size, [s stride (default size)]",
            "  flatten                   images (n_H, n_W, n_C) -> vectors",
            "  relu  tanh  leaky_relu    an activation as a layer of its own (after bn)",
            "  res[MAIN]  res[MAIN|SHORTCUT]  res[...]tanh",
            "                            residual block: MAIN's tokens joined by '-', added to the",
            "                            input (identity) or to SHORTCUT's, then the activation",
            "                            (default --hidden-activation); inside a block, conv tokens",
            "                            pad 'same' unless they say valid/p<pad>, and dense and conv",
            "                            tokens without an activation are linear. The course's",
            "                            identity block:  res[conv16k3-bn-relu-conv16k3-bn]",
            "                            convolutional:   res[conv32k3s2-bn-relu-conv32k3-bn|conv32k1s2-bn]",
            "  emb16  emb16v27           embedding of token ids (m, T): dim, [v vocabulary size",
            "                            (default: the outputs, as in a character model)]",
            "  rnn64  lstm64  gru64      recurrent layer on sequences (m, T, n): units; the last",
            "  lstm64seq                 state, or with seq every step's (to feed another one)",
            "  bilstm32seq  bigru16      the same run both ways, the two outputs concatenated",
            "dense and conv tokens without an activation get --hidden-activation. The last token",
            "is the output layer: dense<outputs> (10 for mnist's softmax, 1 for a sigmoid), with",
            "the dataset's output activation unless it names one. With a conv, pool or flatten",
            "first, image datasets are fed as images (m, n_H, n_W, n_C) scaled to [0, 1]. --l2",
            "applies to every dense and conv layer; --dropout and --batch-norm are for --hidden-sizes.",
            "named architectures (--arch NAME; the output layer is appended):",
            *named,
        ]
    )
