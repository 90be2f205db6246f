"""NumPy from scratch, in the course's style: params dict, forward, hand backprop, update; float32."""

import numpy as np

from benchmarks import common

F32 = np.float32


def init(rng, sizes, scale=None):
    """``W[l]`` ``(n[l], n[l-1])`` as ``randn * scale`` (He, ``sqrt(2 / n[l-1])``, if None)."""
    params = {}
    for l, (n_prev, n) in enumerate(zip(sizes, sizes[1:], strict=False), start=1):
        s = np.sqrt(2 / n_prev) if scale is None else scale
        params[f"W{l}"] = (rng.standard_normal((n, n_prev), dtype=F32) * F32(s)).astype(F32)
        params[f"b{l}"] = np.zeros(n, F32)
    return params


# ------------------------------------------------------------------ A: 784-512-10, RMSprop


def mlp_forward(p, X):
    Z1 = X @ p["W1"].T + p["b1"]
    A1 = np.maximum(Z1, 0)
    Z2 = A1 @ p["W2"].T + p["b2"]
    E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True), (X, Z1, A1)


def mlp_backward(p, cache, A2, Y):
    X, Z1, A1 = cache
    dZ2 = (A2 - Y) / F32(len(X))
    dA1 = dZ2 @ p["W2"]
    dZ1 = dA1 * (Z1 > 0)
    return {"W2": dZ2.T @ A1, "b2": dZ2.sum(0), "W1": dZ1.T @ X, "b1": dZ1.sum(0)}


def rmsprop_update(p, grads, s, lr, rho, eps):
    for k, g in grads.items():
        s[k] = rho * s[k] + (1 - rho) * g * g
        p[k] -= lr * g / (np.sqrt(s[k]) + eps)


def workload_a(args):
    X, y, X_test, y_test = common.mnist_for(args)
    Y = np.eye(10, dtype=F32)[y]
    lr, rho, eps = (F32(common.RMSPROP[k]) for k in ("learning_rate", "rho", "eps"))
    rng = np.random.default_rng(args.seed)
    t0 = common.now()
    p = init(rng, (784, 512, 10))
    s = {k: np.zeros_like(v) for k, v in p.items()}
    epoch_times = []
    for _ in range(common.MNIST_EPOCHS[args.size]):
        te = common.now()
        for idx in common.batches(rng.permutation(len(X))):
            A2, cache = mlp_forward(p, X[idx])
            rmsprop_update(p, mlp_backward(p, cache, A2, Y[idx]), s, lr, rho, eps)
        epoch_times.append(common.now() - te)
    total = common.now() - t0
    acc = float((mlp_forward(p, X_test)[0].argmax(1) == y_test).mean())
    return common.epoch_result(total, epoch_times, 0.0, acc)


# ------------------------------------------------------------------ B, C: planar 2-4-1, GD


def planar_model(X, Y, seed, iterations):
    """The course's ``nn_model``: 2-4-1 tanh/sigmoid, randn * 0.01, full-batch gradient descent."""
    p = init(np.random.default_rng(seed), (2, 4, 1), scale=0.01)
    m, lr = F32(len(X)), F32(common.PLANAR_LR)
    costs = []
    for _ in range(iterations):
        A1 = np.tanh(X @ p["W1"].T + p["b1"])
        A2 = 1 / (1 + np.exp(-(A1 @ p["W2"].T + p["b2"])))
        costs.append(-np.mean(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)))
        dZ2 = A2 - Y
        dZ1 = (dZ2 @ p["W2"]) * (1 - A1**2)
        grads = {
            "W2": dZ2.T @ A1 / m,
            "b2": dZ2.sum(0) / m,
            "W1": dZ1.T @ X / m,
            "b1": dZ1.sum(0) / m,
        }
        for k, g in grads.items():
            p[k] -= lr * g
    return p, costs


def planar_accuracy(p, X, y):
    A2 = 1 / (1 + np.exp(-(np.tanh(X @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"])))
    return float(((A2[:, 0] > 0.5) == y).mean())


def workload_b(args):
    X, y = common.flower(args.seed)
    t0 = common.now()
    p, costs = planar_model(X, y[:, None].astype(F32), args.seed, common.PLANAR_ITERS[args.size])
    total = common.now() - t0
    return {
        "total_s": total,
        "compile_s": 0.0,
        "run_s": total,
        "final_cost": float(costs[-1]),
        "train_acc": planar_accuracy(p, X, y),
    }


def workload_c(args):
    X, y = common.flower(args.seed)
    n, k = common.ENSEMBLE[args.size], common.SEQUENTIAL_TIMED[args.size]
    t0 = common.now()
    accs = [
        planar_accuracy(
            planar_model(X, y[:, None].astype(F32), s, common.PLANAR_ITERS[args.size])[0], X, y
        )
        for s in range(k)
    ]
    measured = common.now() - t0
    return common.sequential_result(n, k, measured, accs)


if __name__ == "__main__":
    args = common.parse_args()
    run = {"A": workload_a, "B": workload_b, "C": workload_c}[args.workload]
    common.emit(run(args))
