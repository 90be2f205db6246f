"""The course's building blocks: one file per layer, each ``forward`` with its hand-derived ``backward``.

Every layer derives from :class:`jaxnet.layers.Layer` (:mod:`jaxnet.layers.base`), which
registers it under its ``kind``; ``from_dict`` rebuilds one from its ``to_dict()``.
"""

from jaxnet.layers.activation import Activation
from jaxnet.layers.attention import (
    AttentionCache,
    one_step_attention_backward,
    one_step_attention_forward,
)
from jaxnet.layers.attention_decoder import AttentionDecoder, attention_weights
from jaxnet.layers.base import Layer, field, from_dict
from jaxnet.layers.batchnorm import (
    BatchNorm,
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_inference,
)
from jaxnet.layers.bidirectional import Bidirectional
from jaxnet.layers.conv import Conv2D, conv_backward, conv_forward
from jaxnet.layers.dense import (
    Dense,
    dense_backward,
    dense_forward,
    linear_backward,
    linear_forward,
)
from jaxnet.layers.dropout import Dropout, dropout_backward, dropout_forward
from jaxnet.layers.embedding import Embedding
from jaxnet.layers.flatten import Flatten, flatten_backward, flatten_forward
from jaxnet.layers.gru import (
    GRUCaches,
    GRUCellCache,
    gru_backward,
    gru_cell_backward,
    gru_cell_forward,
    gru_forward,
    gru_params,
)
from jaxnet.layers.lstm import (
    LSTMCaches,
    LSTMCellCache,
    lstm_backward,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_forward,
    lstm_params,
)
from jaxnet.layers.pool import AvgPool2D, MaxPool2D, pool_backward, pool_forward
from jaxnet.layers.recurrent import GRU, LSTM, SimpleRNN
from jaxnet.layers.residual import Residual
from jaxnet.layers.resnet_blocks import (
    convolutional_block,
    convolutional_block_backward,
    convolutional_block_forward,
    identity_block,
    identity_block_backward,
    identity_block_forward,
)
from jaxnet.layers.rnn import (
    RNNCaches,
    RNNCellCache,
    rnn_backward,
    rnn_cell_backward,
    rnn_cell_forward,
    rnn_forward,
    rnn_params,
)
from jaxnet.layers.sampling import rnn_sample

__all__ = [
    "Activation",
    "AvgPool2D",
    "BatchNorm",
    "Conv2D",
    "Dropout",
    "Flatten",
    "MaxPool2D",
    "batchnorm_backward",
    "batchnorm_forward",
    "batchnorm_inference",
    "conv_backward",
    "conv_forward",
    "dropout_backward",
    "dropout_forward",
    "flatten_backward",
    "flatten_forward",
    "pool_backward",
    "pool_forward",
    # residual networks (course 4, week 2)
    "Residual",
    "convolutional_block",
    "convolutional_block_backward",
    "convolutional_block_forward",
    "identity_block",
    "identity_block_backward",
    "identity_block_forward",
    "Dense",
    "Layer",
    "dense_backward",
    "dense_forward",
    "field",
    "from_dict",
    "linear_backward",
    "linear_forward",
    # sequence layers and building blocks (course 5)
    "Bidirectional",
    "Embedding",
    "GRU",
    "LSTM",
    "SimpleRNN",
    "GRUCaches",
    "GRUCellCache",
    "LSTMCaches",
    "LSTMCellCache",
    "RNNCaches",
    "RNNCellCache",
    "gru_backward",
    "gru_cell_backward",
    "gru_cell_forward",
    "gru_forward",
    "gru_params",
    "lstm_backward",
    "lstm_cell_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "lstm_params",
    "rnn_backward",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "rnn_forward",
    "rnn_params",
    "rnn_sample",
    # attention (course 5, week 3)
    "AttentionCache",
    "AttentionDecoder",
    "attention_weights",
    "one_step_attention_backward",
    "one_step_attention_forward",
]
