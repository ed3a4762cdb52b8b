"""The question of the seeds: reproducing torch's dynamic quantized Linear from Python.

torch's quantized::linear_dynamic (fbgemm's formula; qnnpack computes the same on this Debian
torch, which has no fbgemm) does, per call:

    sx, zx = choose_qparams(min(x), max(x))      7-bit X on fbgemm/onednn, 8-bit on qnnpack
    xq     = zx + round_half_even(x * (1.0f / sx))            float32 multiply by the inverse
    acc    = sum_k (xq[k] - zx) * (wq[j][k] - zw[j])          exact int32
    y      = float(acc) * (sx * sw[j]) + bias[j]              float32, two roundings

qgemm does the same steps (one fmaf at the end), so it matches torch on every seed: within
2 ulp, bit-equal without a bias. The naive formula round((x - zx) @ w * s) goes wrong in:
  - rounding the output: y is float; round() keeps only the integer part of a value of size ~1;
  - X's range: 7 bits where the engine (fbgemm, onednn) uses reduce_range=True, 8 on qnnpack;
    the wrong one moves every output (column "7-bit X", run on qnnpack);
  - the weights: torch's int8 weights dequantized and observed again get the scale
    127 sw / 127.5, 0.39% smaller, and the integers move with it (column "requant W");
  - rounding X by x / sx instead of x * (1/sx): the two can land on different sides of a .5,
    which would make a seed fail now and then; column "x/s flips" counts such elements (rare:
    none in these seeds).

Run: python seeds.py   (qgemm and torch installed)
"""
import numpy as np
import torch

import qgemm


def run(seed, M=256, K=768, N=64):
    torch.manual_seed(seed)
    lin = torch.nn.Linear(K, N)
    tq = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear})[0]
    x = torch.randn(M, K) * 1.7
    y_torch = torch.ops.quantized.linear_dynamic(x, tq._packed_params._packed_params, reduce_range=False).numpy()
    wq, sw = tq.weight().int_repr().numpy(), np.float32(tq.weight().q_scale())
    bias = tq.bias().detach().numpy()
    xn = x.numpy()
    sx, zx = qgemm.choose_qparams_dynamic(xn.min(), xn.max(), reduce_range=False)

    def dequantized_gemm(xq, wq_, sw_):  # the exact sum, then y = acc * (sx * sw) + bias
        acc = (xq.astype(np.int64) - zx) @ wq_.astype(np.int64).T
        return (acc * np.float64(np.float32(sx) * np.float32(sw_)) + bias).astype(np.float32)

    # qgemm: quantize as torch does, exact GEMM, one fmaf per output.
    xq = qgemm.quantize(xn, sx, zx, np.uint8)
    y_qgemm = qgemm.gemm(xq, qgemm.pack_weights(wq), zx, qgemm.output_f32(sx, sw, bias))
    # 1. round(x / sx): division instead of multiplication by the inverse.
    xq_div = np.clip(np.rint(xn / np.float32(sx)) + zx, 0, 255).astype(np.uint8)
    y_div = dequantized_gemm(xq_div, wq, sw)
    # 2. 7-bit X while the engine (qnnpack) uses 8 bits.
    sx7, zx7 = qgemm.choose_qparams_dynamic(xn.min(), xn.max(), reduce_range=True)
    xq7 = qgemm.quantize(xn, sx7, zx7, np.uint8)
    acc7 = (xq7.astype(np.int64) - zx7) @ wq.astype(np.int64).T
    y_7bit = (acc7 * np.float64(np.float32(sx7) * sw) + bias).astype(np.float32)
    # 3. weights requantized from their float values.
    # (torch's int8 weights dequantized, observed again: max |w| = 127 sw gives the scale
    # 127 sw / 127.5, 0.39% smaller, and the integers move with it)
    w_dq = wq.astype(np.float32) * sw
    sw3, _ = qgemm.choose_qparams_tensor(w_dq, np.int8, "symmetric")
    wq3 = qgemm.quantize(w_dq, sw3, 0, np.int8)
    y_requant = dequantized_gemm(xq, wq3, sw3)

    # The naive formula as written: the output rounded.
    y_naive = np.round(((xq.astype(np.int64) - zx) @ wq.astype(np.int64).T) * float(np.float32(sx) * sw))

    def bad(y):  # outputs farther from torch than the 2-ulp fmaf difference
        tol = 2 * np.spacing(np.maximum(np.abs(y_torch), np.abs(y))) + 1e-7 * np.abs(y_torch).max()
        return int((np.abs(y - y_torch) > tol).sum())

    ties = int((xq_div != xq).sum())
    return bad(y_qgemm), bad(y_naive.astype(np.float32)), ties, bad(y_div), bad(y_7bit), bad(y_requant)


def main(seeds=range(12)):
    old, torch.backends.quantized.engine = torch.backends.quantized.engine, "qnnpack"
    try:
        return table(seeds)
    finally:
        torch.backends.quantized.engine = old


def table(seeds):
    print("outputs (of 256 x 64) farther than 2 ulp from torch's dynamic quantized Linear, per seed")
    print(f"{'seed':>4} {'qgemm':>6} {'round(...)':>10} {'x/s flips':>9} {'x/s':>6} {'7-bit X':>8} {'requant W':>10}")
    rows = []
    for seed in seeds:
        q, nv, ties, d, r7, rq = run(seed)
        rows.append((seed, q, nv, ties, d, r7, rq))
        print(f"{seed:>4} {q:>6} {nv:>10} {ties:>9} {d:>6} {r7:>8} {rq:>10}")
    return rows


if __name__ == "__main__":
    main()
