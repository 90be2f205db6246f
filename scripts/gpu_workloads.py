"""Workloads C and E for scripts/gpu_check.py, and which ``dW`` form the platform's convolution takes.

- E (benchmarks/cnn.py): the MNIST CNN, Adam 1e-3, batch 128, from one glorot start, trained
  by ``jn.fit`` with the hand-derived backward and with ``jax.grad`` (through the custom VJPs
  of conv and pooling), and by PyTorch when importable. Each returns
  ``(total_s, epoch_times, test_acc)``.
- C: K planar 2-4-1 models (tanh/sigmoid, randn * 0.01, full-batch GD lr 1.2) at once:
  ``jn.fit_ensemble`` against the plain raw-JAX program (the course's layout ``X (2, m)``,
  ``jax.grad``, ``jax.vmap`` of the step over the models, ``lax.fori_loop``). Each returns
  ``(total_s, rerun_s, mean_train_acc)``.
- :func:`conv_dW_forms`: the form of ``dW`` that ``jax.grad`` through jaxnet's convolution
  lowers to on this platform (matrix products on CPU, one convolution elsewhere:
  jaxnet/layers/conv.py), and both forms timed at workload E's second convolution.
"""

from __future__ import annotations

import time

import numpy as np

PLANAR_LR = 1.2


# ----------------------------------------------------------------------------- E


def images(X):
    """MNIST rows ``(m, 784)`` as NHWC images ``(m, 28, 28, 1)``."""
    return X.reshape(-1, 28, 28, 1)


def train_cnn_jaxnet(backprop: str, batch: int, epochs: int, data, seed: int):
    import jax
    import jax.numpy as jnp

    import jaxnet as jn
    from benchmarks import cnn
    from benchmarks.contenders.cnn_jaxnet import network, params_from

    X, y, X_test, y_test = data
    net = network(jn)
    t0 = time.perf_counter()
    params, history = jn.fit(
        net,
        params_from(cnn.start(seed), jnp),
        images(X),
        y,
        optimizer="adam",
        learning_rate=cnn.ADAM["learning_rate"],
        epochs=epochs,
        batch_size=batch,
        key=jax.random.key(seed),
        backprop=backprop,
        verbose=0,
    )
    jax.block_until_ready(params)
    total = time.perf_counter() - t0
    acc = float(jn.evaluate(net, params, images(X_test), y_test)["accuracy"])
    return total, list(history["time"]), acc


def train_cnn_torch(batch: int, epochs: int, data, seed: int, device: str):
    import torch
    from torch import nn

    from benchmarks import cnn
    from benchmarks.contenders.cnn_torch import model_of, torch_layout

    def tensor(a):
        return torch.as_tensor(np.ascontiguousarray(a), device=device)

    X, y, X_test, y_test = data
    nchw = (0, 3, 1, 2)
    X, X_test = tensor(images(X).transpose(nchw)), tensor(images(X_test).transpose(nchw))
    y, y_test = tensor(y).long(), tensor(y_test).long()
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    model = model_of(nn).to(device)
    with torch.no_grad():
        for p, value in zip(model.parameters(), torch_layout(cnn.start(seed)), strict=True):
            p.copy_(torch.as_tensor(value))
    a = cnn.ADAM
    opt = torch.optim.Adam(
        model.parameters(), lr=a["learning_rate"], betas=(a["b1"], a["b2"]), eps=a["eps"]
    )
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        te = time.perf_counter()
        perm = torch.randperm(len(X), device=device)
        for i in range(0, len(X), batch):
            idx = perm[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(X[idx]), y[idx]).backward()
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - te)
    total = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((model(X_test).argmax(1) == y_test).float().mean())
    return total, times, acc


def conv_dW_forms(smoke: bool, calls: int = 20) -> dict:
    """``{"chosen", "matmul_ms", "convolution_ms"}``: the ``dW`` form ``jax.grad`` of a
    3x3 "same" convolution lowers to here, and each form's median time (jitted, after a
    warm-up) at workload E's second convolution (``A (128, 14, 14, 32)`` -> 64 channels;
    ``--smoke``: 8 examples)."""
    import jax
    import jax.numpy as jnp

    from jaxnet.layers import conv

    m = 8 if smoke else 128
    rng = np.random.default_rng(0)
    A = jnp.asarray(rng.standard_normal((m, 14, 14, 32), np.float32))
    W = jnp.asarray(rng.standard_normal((3, 3, 32, 64), np.float32))
    dZ = jnp.asarray(rng.standard_normal((m, 14, 14, 64), np.float32))

    def grad_W(A, W):  # a cost linear in Z: only dW is computed
        return jax.grad(lambda w: conv.conv_forward(A, w, jnp.zeros(64), 1, "same")[0].sum())(W)

    hlo = jax.jit(grad_W).lower(A, W).as_text()
    chosen = "convolution" if "stablehlo.convolution" in hlo else "matmul"
    padding = ((1, 1), (1, 1))
    out = {"chosen": chosen}
    for name, form in (("matmul", conv._dW_matmul), ("convolution", conv._dW_convolution)):
        fn = jax.jit(lambda A, dZ, form=form: form(A, dZ, f=3, stride=1, padding=padding))
        jax.block_until_ready(fn(A, dZ))
        seconds = []
        for _ in range(calls):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(A, dZ))
            seconds.append(time.perf_counter() - t0)
        out[f"{name}_ms"] = round(float(np.median(seconds)) * 1e3, 3)
    return out


# ----------------------------------------------------------------------------- C


def flower(seed: int):
    """The course's planar flower, ``X (400, 2)`` float32 and ``y (400,)`` int32."""
    import jax

    from jaxnet.datasets import planar_flower

    X, y = planar_flower(jax.random.key(seed), m=400)
    return np.asarray(X, np.float32), np.asarray(y, np.int32)


def train_ensemble_jaxnet(n_models: int, iterations: int, seed: int):
    import jax

    import jaxnet as jn

    X, y = flower(seed)
    net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    keys = jax.random.split(jax.random.key(seed), n_models)

    def run():
        t0 = time.perf_counter()
        stacked = jn.init_ensemble(keys, net, scheme="normal")
        params, _ = jn.fit_ensemble(
            net,
            stacked,
            X,
            y,
            keys=keys,
            optimizer="sgd",
            learning_rate=PLANAR_LR,
            epochs=iterations,
            batch_size=None,
            verbose=0,
        )
        jax.block_until_ready(params)
        return time.perf_counter() - t0, params

    total, _ = run()
    rerun, params = run()
    accs = [
        jn.evaluate(net, jax.tree.map(lambda a, i=i: a[i], params), X, y)["accuracy"]
        for i in range(n_models)
    ]
    return total, rerun, float(np.mean(accs))


def train_ensemble_raw(n_models: int, iterations: int, seed: int):
    """The plain raw-JAX program: course layout, ``jax.grad``, ``vmap`` of the step, ``fori_loop``."""
    import jax
    import jax.numpy as jnp

    X, y = flower(seed)
    X, Y = jnp.asarray(X.T), jnp.asarray(y[None, :].astype(np.float32))  # (2, m), (1, m)

    def cost(p):
        Z = p["W2"] @ jnp.tanh(p["W1"] @ X + p["b1"]) + p["b2"]
        return jnp.mean(jnp.logaddexp(0.0, Z) - Y * Z)

    def init(key):
        k1, k2 = jax.random.split(key)
        return {
            "W1": jax.random.normal(k1, (4, 2)) * 0.01,
            "b1": jnp.zeros((4, 1)),
            "W2": jax.random.normal(k2, (1, 4)) * 0.01,
            "b2": jnp.zeros((1, 1)),
        }

    def step(_, params):
        g = jax.vmap(jax.grad(cost))(params)
        return jax.tree.map(lambda p, d: p - PLANAR_LR * d, params, g)

    @jax.jit
    def train(keys):
        return jax.lax.fori_loop(0, iterations, step, jax.vmap(init)(keys))

    keys = jax.random.split(jax.random.key(seed), n_models)
    t0 = time.perf_counter()
    jax.block_until_ready(train(keys))
    total = time.perf_counter() - t0
    t0 = time.perf_counter()
    params = jax.block_until_ready(train(keys))
    rerun = time.perf_counter() - t0

    def accuracy(p):
        Z = p["W2"] @ jnp.tanh(p["W1"] @ X + p["b1"]) + p["b2"]
        return jnp.mean((Z > 0) == (Y > 0.5))

    return total, rerun, float(jax.vmap(accuracy)(params).mean())
