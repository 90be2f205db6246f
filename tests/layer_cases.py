"""The layers the generic test proves: ``(layer, input_shape)`` examples, one list for every layer.

``tests/test_layers.py::test_backward_equals_vjp_of_forward`` checks, for every case,
that ``layer.backward`` is ``jax.vjp`` of ``layer.forward`` (in the protocol's
convention: ``dA_prev = vjp_A(dA)``, ``dparams = vjp_params(dA) / m``, zeros for the
non-trainable leaves) in float64, over hypothesis-drawn batch sizes, params, inputs,
training/inference mode and padding weights. A new layer is done when its cases pass:
append them here.

``NETWORKS`` are compositions that ``tests/test_network.py`` proves end to end (hand
backprop of the network against ``jax.grad`` of its cost): ``(layers, input_shape, loss)``.
"""

from helpers import ACTIVATIONS, Scale, writing_a_layer

from jaxnet.layers import Dense

CASES = [
    *((Dense(3, activation), (4,)) for activation in ACTIVATIONS),
    (Dense(1, "sigmoid"), (2,)),  # a tiny layer: products as multiply-adds
    (Dense(7, "relu"), (9,)),  # a larger one: a matrix product
    (Scale(), (5,)),
    (Scale(noise=0.5), (2, 3, 4)),  # any rank; draws from its key in training
    (writing_a_layer()["ScaleShift"](0.5), (4, 3)),  # docs/writing_a_layer.md's example
]

NETWORKS = [
    ((Dense(5, "tanh"), Dense(4, "leaky_relu(0.2)"), Dense(3, "softmax")), (4,), None),
    ((Scale(), Dense(5, "relu"), Scale(noise=0.3), Dense(1, "sigmoid")), (3,), None),
    ((Dense(4, "sigmoid"), Scale(), Dense(2, "sigmoid")), (3,), "mse"),  # unfused output
    ((Scale(noise=0.2), Dense(3, "linear")), (2,), None),  # regression
]


def case_id(case) -> str:
    layer, input_shape = case[0], case[1]
    if isinstance(layer, tuple) and not hasattr(layer, "kind"):  # a network's layers
        return "-".join(f"{l.kind}" for l in layer) + f"-on-{'x'.join(map(str, input_shape))}"
    return f"{layer!r}-on-{'x'.join(map(str, input_shape))}"


# --- the layers of the regularisation and convolution issues (appended by the layers engineer) ---
from jaxnet.layers import AvgPool2D, BatchNorm, Conv2D, Dropout, Flatten, MaxPool2D  # noqa: E402

CASES += [
    (Dropout(0.3), (5,)),
    (Dropout(0.5), (3, 4, 2)),  # any rank
    (Dropout(0.0), (4,)),  # the identity, even in training
    (BatchNorm(), (4,)),  # per unit of dense activations
    (BatchNorm(momentum=0.9, epsilon=1e-5), (3, 4, 2)),  # per channel of conv outputs
    (Conv2D(3, 3, padding="same", activation="relu"), (5, 5, 2)),
    (Conv2D(2, 2, strides=2, activation="tanh"), (5, 6, 3)),  # (n - f) % s != 0
    (Conv2D(2, 3, strides=3, padding=1), (7, 4, 1)),
    (Conv2D(2, 1, strides=2, padding="same", activation="sigmoid"), (4, 5, 2)),
    (MaxPool2D(2), (4, 5, 2)),
    (MaxPool2D(3, strides=1), (5, 4, 2)),  # overlapping windows
    (AvgPool2D(2), (5, 4, 3)),
    (AvgPool2D(3, strides=2), (6, 5, 1)),  # overlapping windows
    (Flatten(), (3, 2, 4)),
]

NETWORKS += [
    (  # the regularised dense shorthand's order, L2 on each Dense
        (Dense(5, "relu", l2=0.7), BatchNorm(), Dropout(0.3), Dense(2, "softmax", l2=0.7)),
        (3,),
        None,
    ),
    (  # a CNN: conv -> batch norm per channel -> pool -> flatten -> dropout -> dense, with L2
        (
            Conv2D(3, 3, padding="same", activation="relu", l2=0.2),
            BatchNorm(),
            MaxPool2D(2),
            Conv2D(2, 2, strides=2, activation="tanh", l2=0.1),
            Flatten(),
            Dropout(0.25),
            Dense(1, "sigmoid", l2=0.5),
        ),
        (6, 5, 2),
        None,
    ),
]

# --- residual blocks (course 4, week 2): layers made of layers, params nested ---------------
from jaxnet.layers import Activation, Residual, convolutional_block  # noqa: E402

CASES += [
    (Activation("tanh"), (3, 2)),
    (Residual((Dense(4, "relu"), Dense(4, "linear"))), (4,)),  # a dense identity block
    (convolutional_block(2, (2, 2, 3), s=2), (5, 4, 2)),  # the course's, batch norm inside
]

NETWORKS += [
    (  # a dense block between dense layers, dropout inside, L2 on its layers
        (
            Dense(4, "tanh"),
            Residual(
                (Dense(4, "relu", l2=0.3), Dropout(0.2), Dense(4, "linear")), activation="tanh"
            ),
            Dense(2, "softmax"),
        ),
        (3,),
        None,
    ),
]

# --- the sequence layers of course 5 (inputs (m, T, n); the Embedding's are token ids) ---
from jaxnet.layers import GRU, LSTM, Bidirectional, Embedding, SimpleRNN  # noqa: E402

CASES += [
    (SimpleRNN(3, return_sequences=True), (4, 2)),
    (LSTM(3), (4, 2)),  # the last state only
    (GRU(2, return_sequences=True), (3, 3)),
    (Embedding(6, 3), (4,)),  # the backward is a scatter-add
    (Dense(3, "softmax"), (4, 2)),  # the same Dense at every step of a sequence
    (Bidirectional(LSTM(2, return_sequences=True)), (3, 2)),  # both ways, concatenated
    # the final states returned too: a cotangent per output (LSTM: a<T> and c<T>)
    (SimpleRNN(2, return_state=True), (3, 2)),
    (LSTM(3, return_sequences=True, return_state=True), (4, 2)),
    (GRU(2, return_sequences=True, return_state=True), (3, 3)),
]

NETWORKS += [
    (  # stacked recurrent layers, a Dense per step between them
        (LSTM(3, return_sequences=True), Dense(2, "tanh"), GRU(3), Dense(2, "softmax")),
        (4, 3),
        None,
    ),
    (  # token ids, padding masked (zeros at the end of rows), a simple RNN
        (Embedding(5, 3, mask_zero=True), SimpleRNN(3), Dense(1, "sigmoid")),
        (4,),
        None,
    ),
]


# --- attention (course 5, week 3): the decoder over an encoder's states (m, T_x, n_enc) ---
from jaxnet.layers import AttentionDecoder  # noqa: E402

CASES += [
    (AttentionDecoder(2, 3, n_s=2, n_e=2), (3, 2)),  # T_y = 2 steps of attention + LSTM + softmax
]
