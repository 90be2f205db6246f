"""The matmul floor of workload A: its FLOPs divided by the fp32 matmul rate measured now.

Times a jitted ``jnp.dot`` for each matrix product of one training step (forward, ``dW``,
``dA_prev``) at the step's own shapes, median over many calls. The floor is the time
those products alone take: no framework can train an epoch faster on this machine.
Run as ``python -m benchmarks.floor [--quick]``; prints one JSON line.
"""

import argparse

import numpy as np

from benchmarks import common

SIZES = (784, 512, 10)
M = 60_000


def step_matmuls(sizes, batch):
    """``(name, lhs shape, rhs shape)`` of every product in one step of dense layers ``sizes``."""
    out = []
    for l, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False), start=1):
        out.append((f"Z{l} = A{l - 1} W{l}^T", (batch, n_in), (n_in, n_out)))
        out.append((f"dW{l} = dZ{l}^T A{l - 1}", (n_out, batch), (batch, n_in)))
        if l > 1:
            out.append((f"dA{l - 1} = dZ{l} W{l}", (batch, n_out), (n_out, n_in)))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args, _ = p.parse_known_args()
    import jax
    import jax.numpy as jnp

    dot = jax.jit(jnp.dot)
    rng = np.random.default_rng(0)
    calls = 20 if args.quick else 400
    products, step_seconds, step_flops = [], 0.0, 0
    for name, a_shape, b_shape in step_matmuls(SIZES, common.BATCH):
        a, b = (jnp.asarray(rng.standard_normal(s, dtype=np.float32)) for s in (a_shape, b_shape))
        t = common.time_calls(lambda a=a, b=b: dot(a, b).block_until_ready(), calls, warmup=10)
        flops = 2 * a_shape[0] * a_shape[1] * b_shape[1]
        products.append(
            {
                "product": name,
                "shape": f"{a_shape}x{b_shape}",
                "flops": flops,
                "median_s": t["median_s"],
                "gflops": flops / t["median_s"] / 1e9,
                "best_gflops": flops / t["min_s"] / 1e9,
            }
        )
        step_seconds += t["median_s"]
        step_flops += flops
    per_example = common.flops_per_example(SIZES)
    assert step_flops == per_example * common.BATCH
    rate = step_flops / step_seconds
    common.emit(
        {
            "flops_per_example": per_example,
            "flops_per_step": step_flops,
            "flops_per_epoch": per_example * M,
            "products": products,
            "rate_gflops": rate / 1e9,
            "floor_epoch_s": per_example * M / rate,
        }
    )


if __name__ == "__main__":
    main()
