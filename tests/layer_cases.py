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

from helpers import ACTIVATIONS, Scale

from jaxnet.layers import Dense

CASES = [
    *((Dense(3, activation), (4,)) for activation in ACTIVATIONS),
    (Dense(1, "sigmoid"), (2,)),  # a tiny layer: products as multiply-adds
    (Dense(7, "relu"), (9,)),  # a larger one: a matrix product
    (Scale(), (5,)),
    (Scale(noise=0.5), (2, 3, 4)),  # any rank; draws from its key in training
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
