#!/usr/bin/python3
# Writes MatMulNBits models (int4, block 32, accuracy_level 4, symmetric: default zero point 8)
# for the ONNX Runtime peer of qgemm's int4 benchmark, from the same float weights as
# qgemm_int4_bench (the same hash generator), quantized with ggml's q4_0 rule (qgemm's symmetric
# rule too): s = m / -8 with m the block's element of largest magnitude, q = clamp(round(w / s), -8, 7).
# Usage: make_models.py OUTDIR [NxK ...]
import sys, os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

def gen(seed, n, sd):
    c = sd * np.sqrt(3.0)
    i = np.arange(n, dtype=np.uint64)
    s = np.zeros(n, dtype=np.float64)
    for j in range(4):
        x = ((np.uint64(seed) * np.uint64(0x9E3779B9) + np.uint64(4) * i + np.uint64(j)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        x ^= x >> np.uint32(16); x *= np.uint32(0x7feb352d)
        x ^= x >> np.uint32(15); x *= np.uint32(0x846ca68b)
        x ^= x >> np.uint32(16)
        s += x.astype(np.float64) / 4294967296.0
    return ((s - 2.0) * c).astype(np.float32)

def model(N, K, path, block=32):
    w = gen(1, N * K, 0.02).reshape(N, K // block, block)
    idx = np.argmax(np.abs(w), axis=2)
    m = np.take_along_axis(w, idx[..., None], axis=2)[..., 0]
    s = (m / np.float32(-8.0)).astype(np.float32)
    inv = np.where(s != 0, np.float32(1.0) / np.where(s != 0, s, 1), 0).astype(np.float32)
    q = np.clip(np.rint(w * inv[..., None]), -8, 7).astype(np.int16) + 8
    q = q.astype(np.uint8)
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)  # [N, K/32, 16], low nibble first
    A = helper.make_tensor_value_info("A", TensorProto.FLOAT, ["M", K])
    Y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", N])
    B = numpy_helper.from_array(packed, "B")
    S = numpy_helper.from_array(s.reshape(-1), "scales")
    node = helper.make_node("MatMulNBits", ["A", "B", "scales"], ["Y"], domain="com.microsoft",
                            K=K, N=N, bits=4, block_size=block, accuracy_level=4)
    g = helper.make_graph([node], "mmnb", [A], [Y], initializer=[B, S])
    mdl = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    mdl.ir_version = 8
    onnx.save(mdl, path)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
shapes = sys.argv[2:] or ["4096x4096", "11008x4096", "4096x11008", "32x64"]
for sh in shapes:
    N, K = map(int, sh.split("x"))
    p = os.path.join(out, f"mmnb_{N}x{K}.onnx")
    model(N, K, p)
    print("wrote", p)
