"""The FLOP floor of workload E: its convolutions' and products' FLOPs / the rate measured now.

Times, at one training step's own shapes (batch 128), each convolution as a jitted
``lax.conv_general_dilated`` (NHWC, HWIO, "same"): the forward, and the two backward
convolutions as XLA derives them (``jax.vjp`` of the forward with respect to the kernel
and to the input, so XLA picks their form); and each dense product as a jitted
``jnp.dot``. Median over many calls. The floor is the time those alone take per epoch:
no pooling, activation, loss or optimiser. A second reference, ``matmul_floor_epoch_s``,
puts all the FLOPs at the dense products' rate: the epoch if the convolutions ran as fast
as a matrix product of their size (an im2col lower bound). Run as ``python -m benchmarks.floor_cnn
[--quick]``; prints one JSON line.
"""

import argparse

import numpy as np

from benchmarks import cnn, common


def conv_fn(kind: str):
    """A jitted function of ``(A_prev, W, dZ)`` that runs one convolution of ``kind``."""
    import jax
    from jax import lax

    def forward(A, W):
        return lax.conv_general_dilated(
            A, W, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )

    if kind == "conv_forward":
        return jax.jit(lambda A, W, dZ: forward(A, W))
    if kind == "conv_dW":
        return jax.jit(lambda A, W, dZ: jax.vjp(lambda W: forward(A, W), W)[1](dZ)[0])
    return jax.jit(lambda A, W, dZ: jax.vjp(lambda A: forward(A, W), A)[1](dZ)[0])


def operands(kind: str, shape, rng):
    """The arrays one product of ``kind`` and ``shape`` (see :func:`cnn.products`) takes."""
    import jax.numpy as jnp

    def normal(s):
        return jnp.asarray(rng.standard_normal(s, dtype=np.float32))

    if kind == "matmul":
        return tuple(normal(s) for s in shape)
    m, side, c_in, c_out, f = shape
    return (
        normal((m, side, side, c_in)),
        normal((f, f, c_in, c_out)),
        normal((m, side, side, c_out)),
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args, _ = p.parse_known_args()
    import jax
    import jax.numpy as jnp

    dot = jax.jit(jnp.dot)
    rng = np.random.default_rng(0)
    calls, warmup = (3, 1) if args.quick else (60, 3)
    rows, step_seconds, step_flops = [], 0.0, 0
    for name, kind, shape, flops in cnn.products(common.BATCH):
        fn = dot if kind == "matmul" else conv_fn(kind)
        ops = operands(kind, shape, rng)
        t = common.time_calls(
            lambda fn=fn, ops=ops: fn(*ops).block_until_ready(), calls, warmup=warmup
        )
        rows.append(
            {
                "product": name,
                "shape": str(shape),
                "flops": flops,
                "median_s": t["median_s"],
                "gflops": flops / t["median_s"] / 1e9,
                "best_gflops": flops / t["min_s"] / 1e9,
            }
        )
        step_seconds += t["median_s"]
        step_flops += flops
    per_example = cnn.flops_per_example()
    assert step_flops == per_example * common.BATCH
    rate = step_flops / step_seconds
    dense = [r for r in rows if r["product"].startswith("dense")]
    matmul_rate = sum(r["flops"] for r in dense) / sum(r["median_s"] for r in dense)
    common.emit(
        {
            "flops_per_example": per_example,
            "flops_per_step": step_flops,
            "flops_per_epoch": per_example * cnn.EPOCH_M,
            "products": rows,
            "rate_gflops": rate / 1e9,
            "floor_epoch_s": per_example * cnn.EPOCH_M / rate,
            "matmul_rate_gflops": matmul_rate / 1e9,
            "matmul_floor_epoch_s": per_example * cnn.EPOCH_M / matmul_rate,
        }
    )


if __name__ == "__main__":
    main()
