"""PyTorch eager, as its tutorials write it: ``nn.Sequential``, a loss module, ``torch.optim``.

Batches come from an index shuffle (``torch.randperm``) instead of a ``DataLoader``; threads are
left at PyTorch's default.
"""

from benchmarks import common


def train_epochs(torch, nn, model, opt, X, y, epochs: int) -> list[float]:
    """Minibatches of ``common.BATCH`` from a ``randperm`` shuffle, cross-entropy on the logits;
    returns each epoch's seconds."""
    loss_fn = nn.CrossEntropyLoss()
    epoch_times = []
    for _ in range(epochs):
        te = common.now()
        for idx in common.batches(torch.randperm(len(X))):
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
        epoch_times.append(common.now() - te)
    return epoch_times


def accuracy(torch, model, X, y) -> float:
    """Fraction of ``X``'s rows whose largest logit is the label."""
    with torch.no_grad():
        return (model(X).argmax(1) == y).float().mean().item()


def workload_a(args, torch, nn):
    X, y, X_test, y_test = (torch.from_numpy(a) for a in common.mnist_for(args))
    y, y_test = y.long(), y_test.long()
    torch.manual_seed(args.seed)
    t0 = common.now()
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    r = common.RMSPROP
    opt = torch.optim.RMSprop(
        model.parameters(), lr=r["learning_rate"], alpha=r["rho"], eps=r["eps"]
    )
    epoch_times = train_epochs(torch, nn, model, opt, X, y, common.MNIST_EPOCHS[args.size])
    total = common.now() - t0
    acc = accuracy(torch, model, X_test, y_test)
    return common.epoch_result(total, epoch_times, 0.0, acc, threads=torch.get_num_threads())


def planar_model(torch, nn, X, Y, seed, iterations):
    """2-4-1 tanh/sigmoid (logits + ``BCEWithLogitsLoss``), ``randn * 0.01``, full-batch SGD."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    with torch.no_grad():
        for layer in (model[0], model[2]):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(model.parameters(), lr=common.PLANAR_LR)
    loss_fn = nn.BCEWithLogitsLoss()
    losses = []
    for _ in range(iterations):
        opt.zero_grad()
        loss = loss_fn(model(X), Y)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    with torch.no_grad():
        acc = ((model(X) > 0).float() == Y).float().mean().item()
    return losses[-1].item(), acc


def workload_b(args, torch, nn):
    X, y = common.flower(args.seed)
    X, Y = torch.from_numpy(X), torch.from_numpy(y).float()[:, None]
    t0 = common.now()
    cost, acc = planar_model(torch, nn, X, Y, args.seed, common.PLANAR_ITERS[args.size])
    total = common.now() - t0
    return {
        "total_s": total,
        "compile_s": 0.0,
        "run_s": total,
        "final_cost": cost,
        "train_acc": acc,
    }


def workload_c(args, torch, nn):
    X, y = common.flower(args.seed)
    X, Y = torch.from_numpy(X), torch.from_numpy(y).float()[:, None]
    n, k = common.ENSEMBLE[args.size], common.SEQUENTIAL_TIMED[args.size]
    t0 = common.now()
    accs = [planar_model(torch, nn, X, Y, s, common.PLANAR_ITERS[args.size])[1] for s in range(k)]
    measured = common.now() - t0
    return common.sequential_result(n, k, measured, accs)


def main():
    args = common.parse_args()
    try:
        import torch
        from torch import nn
    except ImportError as e:
        common.missing("torch", e)
    run = {"A": workload_a, "B": workload_b, "C": workload_c}[args.workload]
    common.emit(run(args, torch, nn))


if __name__ == "__main__":
    main()
