"""Workload E in PyTorch eager, as its tutorials write it: ``nn.Sequential`` of ``Conv2d``,
``MaxPool2d`` and ``Linear``, ``CrossEntropyLoss`` on the logits, ``torch.optim.Adam``.

Images NCHW. The shared start is copied in PyTorch's layout: conv kernels OIHW (the start's
HWIO transposed), ``Linear`` weights ``(out, in)``, and the first dense layer's inputs
reordered from the start's (h, w, c) flatten order to PyTorch's (c, h, w). Batches come from
an index shuffle (``torch.randperm``) instead of a ``DataLoader``; default threads.
"""

import numpy as np

from benchmarks import cnn, common
from benchmarks.contenders.torch import accuracy, train_epochs


def model_of(nn):
    (f1, k1), (f2, k2) = cnn.CONVS
    n_flat, hidden, classes = cnn.dense_sizes()
    return nn.Sequential(
        nn.Conv2d(1, f1, k1, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(f1, f2, k2, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(n_flat, hidden),
        nn.ReLU(),
        nn.Linear(hidden, classes),
    )


def torch_layout(start: dict) -> list[np.ndarray]:
    """``[weight, bias]`` of each of the four layers in PyTorch's layout (see the module docstring)."""
    side, channels = cnn.SIDE // 2 ** len(cnn.CONVS), cnn.CONVS[-1][0]
    dense1 = start["dense1_W"].reshape(side, side, channels, -1).transpose(2, 0, 1, 3)
    weights = [
        start["conv1_W"].transpose(3, 2, 0, 1),
        start["conv2_W"].transpose(3, 2, 0, 1),
        dense1.reshape(side * side * channels, -1).T,
        start["dense2_W"].T,
    ]
    biases = [start[f"{k}_b"] for k in ("conv1", "conv2", "dense1", "dense2")]
    return [np.ascontiguousarray(a) for pair in zip(weights, biases, strict=True) for a in pair]


def main():
    args = common.parse_args()
    try:
        import torch
        from torch import nn
    except ImportError as e:
        common.missing("torch", e)
    X, y, X_test, y_test = cnn.images(args)
    nchw = (0, 3, 1, 2)
    X = torch.from_numpy(np.ascontiguousarray(X.transpose(nchw)))
    X_test = torch.from_numpy(np.ascontiguousarray(X_test.transpose(nchw)))
    y, y_test = torch.from_numpy(y).long(), torch.from_numpy(y_test).long()
    start = cnn.start(args.seed)
    torch.manual_seed(args.seed)
    t0 = common.now()
    model = model_of(nn)
    with torch.no_grad():
        for p, value in zip(model.parameters(), torch_layout(start), strict=True):
            p.copy_(torch.from_numpy(value))
    a = cnn.ADAM
    opt = torch.optim.Adam(
        model.parameters(), lr=a["learning_rate"], betas=(a["b1"], a["b2"]), eps=a["eps"]
    )
    epoch_times = train_epochs(torch, nn, model, opt, X, y, cnn.EPOCHS[args.size])
    total = common.now() - t0
    acc = accuracy(torch, model, X_test, y_test)
    common.emit(common.epoch_result(total, epoch_times, 0.0, acc, threads=torch.get_num_threads()))


if __name__ == "__main__":
    main()
