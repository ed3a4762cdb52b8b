"""qgemm.Int4Linear (numpy level) against numpy references written from the formulas of
include/qgemm/linear.hpp and kernels/int4_ukernel.hpp, on every ISA this CPU runs.

W4A8: X quantized per row (and group) with qgemm's own choose_qparams_dynamic / quantize (the
library's helpers, themselves tested against torch), exact int64 sums per group, then
y = fmaf(float32(acc), float32(sa * s), y) in group order from y = bias. Weight-only:
y = fmaf(x[k], float32(q - z) * s, y) for k in order. refs.fmaf_ref is an exactly rounded fmaf
(the float64 product of two float32 is exact; TwoSum recovers the one rounding error of the sum,
which settles the only case where rounding to float64 and then to float32 could differ from one
rounding: a float64 sum exactly halfway between two float32), so every comparison is bit for bit."""
import copy
import pickle

import numpy as np
import pytest

import qgemm
from refs import fmaf_ref

ISAS = [i for i in qgemm.isa_names() if qgemm.isa_available(i)]


@pytest.fixture(params=ISAS)
def isa(request):
    qgemm.set_isa(request.param)
    yield request.param
    qgemm.reset_isa()


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.int32)


def quantize_x(x, g, per_group):
    """uint8 X and per row and group (scale, zero point), with qgemm's helpers."""
    m, k = x.shape
    ng = k // g
    xq = np.empty((m, k), np.int64)
    sa = np.empty((m, ng), np.float32)
    za = np.empty((m, ng), np.int64)
    for i in range(m):
        if not per_group:
            p = qgemm.choose_qparams_dynamic(x[i].min(), x[i].max())
        for gi in range(ng):
            xs = np.ascontiguousarray(x[i, gi * g:(gi + 1) * g])
            if per_group:
                p = qgemm.choose_qparams_dynamic(xs.min(), xs.max())
            xq[i, gi * g:(gi + 1) * g] = qgemm.quantize(xs, p[0], p[1], np.uint8)
            sa[i, gi], za[i, gi] = np.float32(p[0]), p[1]
    return xq, sa, za


def w4a8_ref(x, q, s, z, bias, g, per_group):
    """The pinned W4A8 formula: exact group sums, fmaf in group order, scale product in float32."""
    m, k = x.shape
    n, ng = s.shape
    xq, sa, za = quantize_x(x, g, per_group)
    y = np.broadcast_to(np.zeros(n, np.float32) if bias is None else bias, (m, n)).astype(np.float32)
    zz = np.zeros((n, ng), np.int64) if z is None else z.astype(np.int64)
    for gi in range(ng):
        sl = slice(gi * g, (gi + 1) * g)
        acc = (xq[:, sl] - za[:, gi:gi + 1]) @ (q[:, sl].astype(np.int64) - zz[:, gi:gi + 1]).T  # exact int64
        assert np.abs(acc).max() < 2**31
        scale = sa[:, gi:gi + 1] * s[None, :, gi]  # float32 * float32: one rounding
        assert scale.dtype == np.float32
        y = fmaf_ref(acc.astype(np.float32), scale, y)
    return y


def weight_only_ref(xf, q, s, z, bias, g):
    """One fmaf per k in k order, the weight float32(q - z) * s."""
    m, k = xf.shape
    n = q.shape[0]
    zz = np.zeros_like(s, dtype=np.int64) if z is None else z.astype(np.int64)
    wdq = (q.astype(np.int64) - np.repeat(zz, g, axis=1)).astype(np.float32) * np.repeat(s, g, axis=1)
    assert wdq.dtype == np.float32
    y = np.broadcast_to(np.zeros(n, np.float32) if bias is None else bias, (m, n)).astype(np.float32)
    for kk in range(k):
        y = fmaf_ref(xf[:, kk:kk + 1], wdq[None, :, kk], y)
    return y


def make_x(rng, m, k):
    x = rng.standard_normal((m, k)).astype(np.float32) * 2
    if m > 1:
        x[1] = np.abs(x[1])   # all positive: za = 0
    if m > 2:
        x[2] = -np.abs(x[2])  # all negative: za = 255
    if m > 3:
        x[3, 5] = 100.0       # one large value
    return x


OPTIONS = [(g, sym, apg) for g in (0, 32, 64, 128, 256) for sym in (True, False) for apg in (True, False)]


@pytest.mark.parametrize("g,sym,apg", OPTIONS)
def test_w4a8_bit_exact_with_numpy_formula(isa, g, sym, apg):
    rng = np.random.default_rng(g * 4 + sym * 2 + apg)
    M, K, N = 5, 256, 37
    w = (rng.standard_normal((N, K)) * 0.3).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    layer = qgemm.Int4Linear(w, bias, group_size=g, symmetric=sym, act_per_group=apg)
    q, s, z = layer.export()
    G = g or K
    assert q.dtype == np.int8 and q.shape == (N, K)
    assert s.dtype == np.float32 and s.shape == (N, K // G)
    assert (z is None) == sym
    assert q.min() >= (-8 if sym else 0) and q.max() <= (7 if sym else 15)
    x = make_x(rng, M, K)
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == (M, N)
    np.testing.assert_array_equal(bits(y), bits(w4a8_ref(x, q, s, z, bias, G, apg)))
    assert qgemm.int4_kernel_name().startswith("w4a8_")
    # The same bits on two threads and for leading dimensions [..., K].
    np.testing.assert_array_equal(bits(layer.forward(x, num_threads=2)), bits(y))
    y3 = layer(np.concatenate([x, x[:1]]).reshape(2, 3, K))
    assert y3.shape == (2, 3, N)
    np.testing.assert_array_equal(bits(y3.reshape(6, N)[:M]), bits(y))


@pytest.mark.parametrize("g,sym", [(g, sym) for g in (0, 32, 128) for sym in (True, False)])
@pytest.mark.parametrize("act", ["f32", "f16", "bf16"])
def test_weight_only_bit_exact_with_numpy_formula(isa, g, sym, act):
    rng = np.random.default_rng(100 + g + sym)
    M, K, N = 3, 128, 21
    w = (rng.standard_normal((N, K)) * 0.3).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    layer = qgemm.Int4Linear(w, bias, group_size=g, symmetric=sym, weight_only=True)
    q, s, z = layer.export()
    x32 = make_x(rng, M, K)
    if act == "f32":
        x, xf = x32, x32
    elif act == "f16":
        x = x32.astype(np.float16)
        xf = x.astype(np.float32)
    else:
        x = qgemm.float_to_bf16(x32)
        xf = qgemm.bf16_to_float(x)
    y = layer(x)
    np.testing.assert_array_equal(bits(y), bits(weight_only_ref(xf, q, s, z, bias, g or K)))
    assert qgemm.int4_kernel_name().startswith("w4a32_")


@pytest.mark.parametrize("act", ["f16", "bf16"])
def test_w4a8_sixteen_bit_activations_are_widened_first(act):
    rng = np.random.default_rng(5)
    M, K, N = 4, 128, 19
    layer = qgemm.Int4Linear((rng.standard_normal((N, K)) * 0.3).astype(np.float32), group_size=64)
    x32 = make_x(rng, M, K)
    x, xf = (x32.astype(np.float16), None) if act == "f16" else (qgemm.float_to_bf16(x32), None)
    xf = x.astype(np.float32) if act == "f16" else qgemm.bf16_to_float(x)
    np.testing.assert_array_equal(bits(layer(x)), bits(layer(xf)))
    q, s, z = layer.export()
    np.testing.assert_array_equal(bits(layer(x)), bits(w4a8_ref(xf, q, s, z, None, 64, True)))


def test_quantization_from_float_follows_the_documented_rule():
    # symmetric: s = m / -8 with m the group's value of largest magnitude, q = clamp(rint(w / s), -8, 7);
    # asymmetric: s = (max - min) / 15 over a range including 0, z = clamp(rint(-min / s), 0, 15),
    # q = clamp(rint(w / s) + z, 0, 15).
    rng = np.random.default_rng(9)
    N, K, G = 6, 128, 32
    w = rng.standard_normal((N, K)).astype(np.float32)
    w[0, :G] = np.abs(w[0, :G])  # a group with min > 0: the range still includes 0
    w[1, G:2 * G] = 0.0          # an all-zero group: scale 0, q = z
    for sym in (True, False):
        q, s, z = qgemm.Int4Linear(w, group_size=G, symmetric=sym).export()
        wg = w.reshape(N, K // G, G)
        if sym:
            idx = np.abs(wg).argmax(axis=2)
            m = np.take_along_axis(wg, idx[..., None], axis=2)[..., 0]
            s_ref = (m / np.float32(-8.0)).astype(np.float32)
            zz = np.zeros_like(s_ref)
            lo, hi = -8, 7
        else:
            mn = np.minimum(wg.min(axis=2), 0).astype(np.float32)
            mx = np.maximum(wg.max(axis=2), 0).astype(np.float32)
            s_ref = ((mx - mn) / np.float32(15.0)).astype(np.float32)
            with np.errstate(divide="ignore", invalid="ignore"):
                zz = np.where(s_ref == 0, 0, np.clip(np.rint(-mn / s_ref), 0, 15)).astype(np.float32)
            lo, hi = 0, 15
        np.testing.assert_array_equal(bits(s), bits(s_ref))
        if not sym:
            np.testing.assert_array_equal(z, zz.astype(np.int8))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(s_ref[..., None] == 0, 0, np.rint(wg / s_ref[..., None]))
        q_ref = np.clip(r + zz[..., None], lo, hi).astype(np.int8).reshape(N, K)
        np.testing.assert_array_equal(q, q_ref)
        assert q[1, G] == (0 if sym else z[1, 1])


def test_from_quantized_round_trip_and_properties():
    rng = np.random.default_rng(10)
    N, K = 9, 256
    q = rng.integers(0, 16, (N, K)).astype(np.int8)
    s = (rng.random((N, 4)) * 0.05 + 1e-3).astype(np.float32)
    z = rng.integers(0, 16, (N, 4)).astype(np.int8)
    bias = rng.standard_normal(N).astype(np.float32)
    layer = qgemm.Int4Linear.from_quantized(q, s, z, bias)  # group size 64 and asymmetric, inferred
    assert (layer.in_features, layer.out_features, layer.group_size, layer.groups) == (K, N, 64, 4)
    assert (layer.symmetric, layer.weight_only, layer.act_per_group) == (False, False, True)
    assert layer.packed_bytes > N * K // 2
    np.testing.assert_array_equal(layer.bias, bias)
    q2, s2, z2 = layer.export()
    np.testing.assert_array_equal(q2, q)
    np.testing.assert_array_equal(bits(s2), bits(s))
    np.testing.assert_array_equal(z2, z)
    x = make_x(rng, 4, K)
    np.testing.assert_array_equal(bits(layer(x)), bits(w4a8_ref(x, q, s, z, bias, 64, True)))
    # Per channel from 1-D scales; symmetric from the absence of zero points.
    qs = rng.integers(-8, 8, (N, K)).astype(np.int8)
    pc = qgemm.Int4Linear.from_quantized(qs, s[:, 0], weight_only=True)
    assert (pc.group_size, pc.groups, pc.symmetric, pc.weight_only, pc.bias) == (0, 1, True, True, None)
    assert pc.export()[1].shape == (N, 1) and pc.export()[2] is None
    np.testing.assert_array_equal(bits(pc(x)), bits(weight_only_ref(x, qs, s[:, :1], None, None, K)))
    assert "group_size=0" in repr(pc)


def test_pickle_and_deepcopy():
    rng = np.random.default_rng(11)
    w = rng.standard_normal((10, 64)).astype(np.float32)
    x = rng.standard_normal((3, 64)).astype(np.float32)
    for layer in (qgemm.Int4Linear(w, np.ones(10, np.float32), group_size=32, symmetric=False),
                  qgemm.Int4Linear(w, group_size=0, weight_only=True),
                  qgemm.Int4Linear(w, group_size=64, act_per_group=False)):
        y = layer(x)
        for other in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
            assert type(other) is qgemm.Int4Linear
            assert repr(other) == repr(layer)
            np.testing.assert_array_equal(bits(other(x)), bits(y))
            for a, b in zip(other.export(), layer.export()):
                np.testing.assert_array_equal(a, b)


def test_bad_input_raises_and_writes_nothing():
    w = np.ones((4, 64), np.float32)
    with pytest.raises(qgemm.Error, match="bad_argument.*group_size must be 32, 64, 128, 256"):
        qgemm.Int4Linear(w, group_size=48)
    with pytest.raises(qgemm.Error, match="group_size 128 does not divide in_features 64"):
        qgemm.Int4Linear(w)
    with pytest.raises(qgemm.Error, match="negative_dimension"):
        qgemm.Int4Linear(np.ones((0, 64), np.float32), group_size=32)
    wn = w.copy()
    wn[2, 3] = np.nan
    with pytest.raises(qgemm.Error, match=r"weight\[2\]\[3\] is not finite"):
        qgemm.Int4Linear(wn, group_size=32)
    with pytest.raises(TypeError, match="float32"):
        qgemm.Int4Linear(w.astype(np.float64), group_size=32)
    with pytest.raises(ValueError, match="bias"):
        qgemm.Int4Linear(w, np.ones(3, np.float32), group_size=32)
    with pytest.raises(qgemm.Error, match=r"bias\[1\] is not finite"):
        qgemm.Int4Linear(w, np.array([0, np.inf, 0, 0], np.float32), group_size=32)

    q = np.zeros((4, 64), np.int8)
    s = np.full((4, 2), 0.1, np.float32)
    z = np.full((4, 2), 8, np.int8)
    qb = q.copy()
    qb[1, 2] = 8
    with pytest.raises(qgemm.Error, match=r"q\[1\]\[2\] = 8 is outside \[-8, 7\]"):
        qgemm.Int4Linear.from_quantized(qb, s)
    qb[1, 2] = -1
    with pytest.raises(qgemm.Error, match=r"outside \[0, 15\]"):
        qgemm.Int4Linear.from_quantized(qb, s, z)
    sb = s.copy()
    sb[0, 1] = np.inf
    with pytest.raises(qgemm.Error, match=r"bad_output_params.*scale\[0\]\[1\] is not finite"):
        qgemm.Int4Linear.from_quantized(q, sb)
    zb = z.copy()
    zb[3, 0] = 16
    with pytest.raises(qgemm.Error, match=r"bad_zero_point.*\[3\]\[0\] = 16"):
        qgemm.Int4Linear.from_quantized(q, s, zb)
    with pytest.raises(ValueError, match=r"zero_points must be in \[0, 15\]"):
        qgemm.Int4Linear.from_quantized(q, s, np.full((4, 2), 300))
    with pytest.raises(qgemm.Error, match="null_pointer.*zero points"):
        qgemm.Int4Linear.from_quantized(q, s, symmetric=False)
    with pytest.raises(ValueError, match="zero_points given for symmetric"):
        qgemm.Int4Linear.from_quantized(q, s, z, symmetric=True)
    with pytest.raises(ValueError, match=r"scales must have shape \(out_features, in_features / group_size\)"):
        qgemm.Int4Linear.from_quantized(q, s, group_size=64)
    with pytest.raises(ValueError, match="zero_points must have the shape of scales"):
        qgemm.Int4Linear.from_quantized(q, s, z[:, :1])
    with pytest.raises(ValueError, match="do not divide"):
        qgemm.Int4Linear.from_quantized(q, np.ones((4, 3), np.float32))
    with pytest.raises(TypeError, match="int8"):
        qgemm.Int4Linear.from_quantized(q.astype(np.int32), s)
    with pytest.raises(TypeError, match="zero_points must be integers"):
        qgemm.Int4Linear.from_quantized(q, s, z.astype(np.float32))

    layer = qgemm.Int4Linear(w, group_size=32)
    with pytest.raises(ValueError, match="last dimension"):
        layer(np.ones((2, 63), np.float32))
    with pytest.raises(TypeError, match="float16"):
        layer(np.ones((2, 64), np.float64))
    with pytest.raises(TypeError):
        layer([[1.0] * 64])
    with pytest.raises(qgemm.Error, match="bad_argument.*num_threads"):
        layer.forward(np.ones((2, 64), np.float32), num_threads=-1)
    # The layer is unchanged by the refusals.
    np.testing.assert_array_equal(layer.export()[0], qgemm.Int4Linear(w, group_size=32).export()[0])
