"""qgemm's numpy level against the plain numpy references in refs.py: gemm with every output
stage on every ISA this CPU runs, the quantization utilities, the three layers, threads, ISA
selection, pickling, and bad input (TypeError / qgemm.Error, nothing written)."""
import copy
import pickle

import numpy as np
import pytest

import qgemm
from refs import (acc_ref, f32_stage_ref, fixed_point_ref, float_multiplier_ref, fmaf_ref, quantize_ref,
                  ulp_distance)

ISAS = [i for i in qgemm.isa_names() if qgemm.isa_available(i)]


@pytest.fixture(params=ISAS)
def isa(request):
    qgemm.set_isa(request.param)
    yield request.param
    qgemm.reset_isa()


def rand_u8(rng, *shape):
    return rng.integers(0, 256, shape, dtype=np.uint8)


def rand_s8(rng, *shape):
    return rng.integers(-128, 128, shape, dtype=np.int8)


SHAPES = [(1, 1, 1), (1, 64, 768), (3, 7, 5), (17, 300, 19), (64, 129, 70)]


@pytest.mark.parametrize("M,K,N", SHAPES)
@pytest.mark.parametrize("layout", ["nk", "kn"])
def test_gemm_s32_equals_int64_reference(isa, M, K, N, layout):
    rng = np.random.default_rng(M * 1000 + K + N)
    a, b = rand_u8(rng, M, K), rand_s8(rng, N, K)
    zb = rng.integers(-128, 128, N).astype(np.int32)
    w = qgemm.pack_weights(b if layout == "nk" else np.ascontiguousarray(b.T), layout, zero_points=zb)
    assert (w.k, w.n, w.isa) == (K, N, isa)
    bias = rng.integers(-1000, 1000, N).astype(np.int32)
    c = qgemm.gemm(a, w, 17, qgemm.output_s32(bias))
    assert c.dtype == np.int32 and c.shape == (M, N)
    np.testing.assert_array_equal(c, acc_ref(a, 17, b, zb) + bias)
    assert qgemm.last_kernel_name().endswith("__" + isa)


@pytest.mark.parametrize("a_type,b_type", [(np.uint8, np.int8), (np.int8, np.int8), (np.uint8, np.uint8),
                                           (np.int8, np.uint8)])
def test_gemm_sign_combinations_follow_the_dtypes(isa, a_type, b_type):
    # The arrays' dtypes pick the combination; zero points at the ends of each type's range.
    rng = np.random.default_rng(41)
    M, K, N = 7, 131, 33
    a = rng.integers(np.iinfo(a_type).min, np.iinfo(a_type).max + 1, (M, K)).astype(a_type)
    b = rng.integers(np.iinfo(b_type).min, np.iinfo(b_type).max + 1, (N, K)).astype(b_type)
    zb = np.array([np.iinfo(b_type).max] * (N - 1) + [np.iinfo(b_type).min], np.int32)
    for za in (int(np.iinfo(a_type).min), int(np.iinfo(a_type).max), 3):
        c = qgemm.gemm(a, qgemm.pack_weights(b, zero_points=zb), za)
        want = (a.astype(np.int64) - za) @ (b.astype(np.int64) - zb[:, None]).T
        np.testing.assert_array_equal(c, want)
    with pytest.raises(qgemm.Error):  # a zero point outside A's type
        qgemm.gemm(a, qgemm.pack_weights(b), 256 if a_type == np.uint8 else 128)
    with pytest.raises(qgemm.Error):  # a zero point outside B's type
        qgemm.pack_weights(b, zero_points=-1 if b_type == np.uint8 else 128)


def test_gemm_extreme_values_are_exact(isa):
    # 255 x -128 everywhere: the int16 pair saturation case of vpmaddubsw.
    a = np.full((5, 256), 255, np.uint8)
    b = np.full((9, 256), -128, np.int8)
    c = qgemm.gemm(a, qgemm.pack_weights(b), 0)
    np.testing.assert_array_equal(c, acc_ref(a, 0, b))


@pytest.mark.parametrize("per_column", [False, True])
def test_gemm_f32_stage_bit_exact(isa, per_column):
    rng = np.random.default_rng(5)
    M, K, N = 9, 200, 33
    a, b = rand_u8(rng, M, K), rand_s8(rng, N, K)
    sb = (rng.random(N) * 0.01 + 1e-4).astype(np.float32) if per_column else np.float32(0.003)
    bias = rng.standard_normal(N).astype(np.float32)
    y = qgemm.gemm(a, qgemm.pack_weights(b), 100, qgemm.output_f32(0.02, sb, bias))
    ref = f32_stage_ref(acc_ref(a, 100, b), 0.02, sb, bias)
    np.testing.assert_array_equal(y.view(np.int32), ref.view(np.int32))


@pytest.mark.parametrize("bias_kind", [None, "f32", "s32"])
def test_gemm_float_multiplier_stage_equals_fbgemm_formula(isa, bias_kind):
    rng = np.random.default_rng(6)
    M, K, N = 7, 150, 40
    a, b = rand_u8(rng, M, K), rand_s8(rng, N, K)
    sb = (rng.random(N) * 0.01 + 1e-3).astype(np.float32)
    bias = {None: None, "f32": rng.standard_normal(N).astype(np.float32),
            "s32": rng.integers(-5000, 5000, N).astype(np.int32)}[bias_kind]
    y = qgemm.gemm(a, qgemm.pack_weights(b), 120,
                   qgemm.output_float_multiplier(np.uint8, 0.05, sb, 0.4, 128, bias=bias, clamp=(3, 250)))
    ref = float_multiplier_ref(acc_ref(a, 120, b), 0.05, sb, 0.4, 128, 3, 250,
                               bias_f32=bias if bias_kind == "f32" else None,
                               bias_s32=bias if bias_kind == "s32" else None)
    assert y.dtype == np.uint8
    np.testing.assert_array_equal(y, ref)


def test_gemm_fixed_point_stage_equals_tflite_formula(isa):
    rng = np.random.default_rng(7)
    M, K, N = 6, 90, 21
    a, b = rand_u8(rng, M, K), rand_s8(rng, N, K)
    pairs = [qgemm.quantize_multiplier(r) for r in rng.random(N) * 1e-3 + 1e-5]
    mult = np.array([p[0] for p in pairs], np.int32)
    shift = np.array([p[1] for p in pairs], np.int32)
    y = qgemm.gemm(a, qgemm.pack_weights(b), 128, qgemm.output_fixed_point(np.int8, mult, shift, -5))
    np.testing.assert_array_equal(y, fixed_point_ref(acc_ref(a, 128, b), mult, shift, -5, -128, 127))


def test_every_isa_gives_the_same_bits():
    rng = np.random.default_rng(8)
    a, b = rand_u8(rng, 33, 257), rand_s8(rng, 65, 257)
    outs = []
    for name in ISAS:
        qgemm.set_isa(name)
        try:
            outs.append(qgemm.gemm(a, qgemm.pack_weights(b), 3, qgemm.output_f32(0.01, 0.02)))
        finally:
            qgemm.reset_isa()
    for o in outs[1:]:
        np.testing.assert_array_equal(o.view(np.int32), outs[0].view(np.int32))


def test_thread_counts_give_the_same_bits():
    rng = np.random.default_rng(9)
    a, b = rand_u8(rng, 200, 300), rand_s8(rng, 150, 300)
    w = qgemm.pack_weights(b)
    ref = qgemm.gemm(a, w, 0, num_threads=1)
    for n in (0, 2, 3):
        np.testing.assert_array_equal(qgemm.gemm(a, w, 0, num_threads=n), ref)
    with pytest.raises(qgemm.Error, match="bad_argument"):
        qgemm.gemm(a, w, 0, num_threads=-1)


def test_isa_selection_and_reasons():
    assert qgemm.active_isa() in ISAS
    assert "scalar" in ISAS
    for name in qgemm.isa_names():
        reason = qgemm.isa_unavailable_reason(name)
        assert (reason == "") == qgemm.isa_available(name)
    missing = [n for n in qgemm.isa_names() if not qgemm.isa_available(n)]
    if missing:
        with pytest.raises(qgemm.Error, match="unsupported_isa"):
            qgemm.set_isa(missing[0])
    with pytest.raises(qgemm.Error, match="bad_argument"):
        qgemm.set_isa("sse9")
    best = qgemm.active_isa()
    w = qgemm.pack_weights(np.ones((4, 4), np.int8))
    qgemm.set_isa("scalar")
    try:
        assert qgemm.active_isa() == "scalar"
        if best != "scalar":  # weights packed for another ISA are refused, not misread
            with pytest.raises(qgemm.Error, match="packed_isa_mismatch"):
                qgemm.gemm(np.ones((1, 4), np.uint8), w)
    finally:
        qgemm.reset_isa()
    assert qgemm.active_isa() == best


# ---- bad input -------------------------------------------------------------------------
def test_bad_types_raise_type_error():
    w = qgemm.pack_weights(np.ones((3, 4), np.int8))
    with pytest.raises(TypeError, match="a must have dtype uint8"):  # uint8 or int8 (sign combinations)
        qgemm.gemm(np.ones((2, 4), np.int16), w)
    with pytest.raises(TypeError, match="b must have dtype int8"):
        qgemm.pack_weights(np.ones((3, 4), np.int16))
    with pytest.raises(TypeError, match="numpy array"):
        qgemm.pack_weights([[1, 2], [3, 4]])
    with pytest.raises(TypeError):
        qgemm.gemm(np.ones((2, 4), np.uint8), w, out=np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match="float32"):
        qgemm.quantize(np.ones(3), 0.1, 0)
    with pytest.raises(TypeError, match="float32"):
        qgemm.DynamicLinear(np.ones((3, 4)))
    with pytest.raises(TypeError, match="integers"):
        qgemm.pack_weights(np.ones((3, 4), np.int8), zero_points=0.5)


def test_bad_values_raise_value_error_and_write_nothing():
    rng = np.random.default_rng(10)
    a = rand_u8(rng, 2, 4)
    w = qgemm.pack_weights(rand_s8(rng, 3, 4))
    out = np.full((2, 3), 7, np.int32)
    with pytest.raises(qgemm.Error, match="bad_zero_point"):
        qgemm.gemm(a, w, 300, out=out)
    np.testing.assert_array_equal(out, 7)
    with pytest.raises(ValueError, match="columns"):
        qgemm.gemm(rand_u8(rng, 2, 5), w)
    with pytest.raises(ValueError, match="N = 3"):
        qgemm.gemm(a, w, 0, qgemm.output_f32(1.0, np.ones(4, np.float32)))
    with pytest.raises(qgemm.Error, match="bad_output_params"):
        qgemm.gemm(a, w, 0, qgemm.output_f32(-1.0, 1.0))
    with pytest.raises(qgemm.Error, match="bad_zero_point"):
        qgemm.pack_weights(np.ones((3, 4), np.int8), zero_points=[0, 1, 200])
    # Overflow risk: K * 255 * 255 > INT32_MAX.
    K = 33100
    big = qgemm.pack_weights(np.full((1, K), -128, np.int8), zero_points=127)
    out = np.full((1, 1), 7, np.int32)
    with pytest.raises(qgemm.Error, match="overflow_risk"):
        qgemm.gemm(np.zeros((1, K), np.uint8), big, 255, out=out)
    np.testing.assert_array_equal(out, 7)
    with pytest.raises(qgemm.Error, match="bad_argument"):
        qgemm.choose_qparams(2.0, 1.0)
    with pytest.raises(qgemm.Error):
        qgemm.quantize(np.ones(3, np.float32), 0.0, 0)
    with pytest.raises(ValueError, match="dtype must be"):
        qgemm.quantize(np.ones(3, np.float32), 0.1, 0, np.int16)
    with pytest.raises(ValueError, match="axis"):
        qgemm.choose_qparams_per_channel(np.ones((2, 3), np.float32), axis=2)
    with pytest.raises(ValueError, match="layout"):
        qgemm.pack_weights(np.ones((3, 4), np.int8), "nm")


def test_empty_problems():
    w = qgemm.pack_weights(np.ones((3, 4), np.int8))
    c = qgemm.gemm(np.zeros((0, 4), np.uint8), w)
    assert c.shape == (0, 3)


# ---- quantization utilities ----------------------------------------------------------------
def test_quantize_dequantize_equal_formula():
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(1000) * 3).astype(np.float32)
    x[:4] = [np.float32(0.5) * 0.1, -0.0, 1e30, -1e30]
    for dtype, qmin, qmax, zp in ((np.uint8, 0, 255, 128), (np.int8, -128, 127, -3)):
        q = qgemm.quantize(x, 0.1, zp, dtype)
        assert q.dtype == dtype
        np.testing.assert_array_equal(q, quantize_ref(x, 0.1, zp, qmin, qmax))
        d = qgemm.dequantize(q, 0.1, zp)
        np.testing.assert_array_equal(d, (q.astype(np.float32) - np.float32(zp)) * np.float32(0.1))


def test_choose_qparams_formulas():
    s, z = qgemm.choose_qparams(-1.0, 1.0, np.int8, "symmetric")
    assert (s, z) == (np.float32(1.0) / np.float32(127.5), 0)
    s, z = qgemm.choose_qparams(0.5, 2.0, np.uint8, "affine")  # min extended to 0
    assert s == np.float32(2.0) / np.float32(255) and z == 0
    assert qgemm.quant_range(np.uint8, True) == (0, 127)
    assert qgemm.quant_range("qint8") == (-128, 127)
    s, z = qgemm.choose_qparams_dynamic(0.0, 0.0)
    assert (s, z) == (np.float32(0.1), 0)


def test_per_channel_round_trip():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((5, 6, 7)).astype(np.float32)
    for axis in (0, 1, 2, -1):
        s, z = qgemm.choose_qparams_per_channel(x, axis)
        assert s.shape == (x.shape[axis],) and (z == 0).all()
        q = qgemm.quantize_per_channel(x, s, z, axis)
        shape = [1] * 3
        shape[axis] = -1
        ref = quantize_ref(x, 1.0, 0, -128, 127)  # replaced below per channel
        inv = np.float32(1.0) / s.reshape(shape)
        ref = np.clip(np.rint(x * inv), -128, 127)
        np.testing.assert_array_equal(q, ref)
        d = qgemm.dequantize_per_channel(q, s, z, axis)
        np.testing.assert_array_equal(d, q.astype(np.float32) * s.reshape(shape))
        mx, _ = qgemm.quantization_error(x.reshape(-1), float(s.max()), 0, np.int8)
        assert mx <= float(s.max()) / 2 * 1.0001


def test_error_measures_and_bf16():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([1.0, 2.5, 2.0], np.float32)
    assert qgemm.max_abs_error(a, b) == 1.0
    assert qgemm.mean_squared_error(a, b) == pytest.approx((0.25 + 1.0) / 3)
    assert qgemm.min_max(b) == (1.0, 2.5)
    h = qgemm.float_to_bf16(np.array([1.0, -2.5, 3.140625], np.float32))
    np.testing.assert_array_equal(qgemm.bf16_to_float(h), [1.0, -2.5, 3.140625])


# ---- layers ------------------------------------------------------------------------------
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("reduce_range", [False, True])
def test_dynamic_linear_equals_steps_by_hand(per_channel, reduce_range):
    rng = np.random.default_rng(13)
    M, K, N = 6, 120, 35
    x = rng.standard_normal((M, K)).astype(np.float32)
    w = (rng.standard_normal((N, K)) * 0.2).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    layer = qgemm.DynamicLinear(w, bias, per_channel=per_channel, reduce_range=reduce_range)
    y, (sx, zx) = layer.forward(x, return_x_params=True)
    assert (sx, zx) == qgemm.choose_qparams_dynamic(x.min(), x.max(), reduce_range)
    if per_channel:
        sw, zw = qgemm.choose_qparams_per_channel(w, 0, np.int8, "symmetric")
        wq = qgemm.quantize_per_channel(w, sw, zw, 0)
    else:
        sw, _ = qgemm.choose_qparams_tensor(w, np.int8, "symmetric")
        wq = qgemm.quantize(w, sw, 0, np.int8)
    np.testing.assert_array_equal(layer.weight_q, wq)
    np.testing.assert_array_equal(layer.weight_scales, np.atleast_1d(np.float32(sw)))
    xq = qgemm.quantize(x, sx, zx, np.uint8)
    ref = f32_stage_ref(acc_ref(xq, zx, wq), sx, sw, bias)
    np.testing.assert_array_equal(y.view(np.int32), ref.view(np.int32))
    # Leading dimensions: [2, 3, K] is [6, K].
    y3 = layer(x.reshape(2, 3, K))
    assert y3.shape == (2, 3, N)
    np.testing.assert_array_equal(y3.reshape(M, N), y)


def test_dynamic_linear_from_quantized_with_zero_points():
    rng = np.random.default_rng(14)
    M, K, N = 4, 64, 10
    wq = rand_s8(rng, N, K)
    s = (rng.random(N) * 0.01 + 1e-3).astype(np.float32)
    z = rng.integers(-20, 20, N).astype(np.int32)
    layer = qgemm.DynamicLinear.from_quantized(wq, s, z, reduce_range=False)
    np.testing.assert_array_equal(layer.weight_q, wq)
    np.testing.assert_array_equal(layer.weight_zero_points, z)
    x = rng.standard_normal((M, K)).astype(np.float32)
    y, (sx, zx) = layer.forward(x, return_x_params=True)
    ref = f32_stage_ref(acc_ref(qgemm.quantize(x, sx, zx), zx, wq, z), sx, s)
    np.testing.assert_array_equal(y.view(np.int32), ref.view(np.int32))


@pytest.mark.parametrize("per_channel", [False, True])
def test_static_linear_equals_fbgemm_formula(per_channel):
    rng = np.random.default_rng(15)
    M, K, N = 5, 77, 23
    wq, x = rand_s8(rng, N, K), rand_u8(rng, M, K)
    s = (rng.random(N) * 0.01 + 1e-3).astype(np.float32) if per_channel else 0.004
    z = rng.integers(-5, 5, N).astype(np.int32) if per_channel else 2
    bias = rng.standard_normal(N).astype(np.float32)
    layer = qgemm.StaticLinear(wq, s, z, bias, x_scale=0.03, x_zero_point=110, y_scale=0.2, y_zero_point=60)
    y = layer(x)
    ref = float_multiplier_ref(acc_ref(x, 110, wq, z), 0.03, s, 0.2, 60, bias_f32=bias)
    np.testing.assert_array_equal(y, ref)
    assert layer.per_channel == per_channel
    assert layer.x_params == (np.float32(0.03), 110)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(layer))(x), y)


@pytest.mark.parametrize("act", ["f32", "f16", "bf16"])
def test_weight_only_linear_within_bound_of_float(act):
    rng = np.random.default_rng(16)
    M, K, N = 3, 200, 17
    w = (rng.standard_normal((N, K)) * 0.2).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    layer = qgemm.WeightOnlyLinear(w, bias)
    x32 = rng.standard_normal((M, K)).astype(np.float32)
    if act == "f32":
        x, xf = x32, x32
    elif act == "f16":
        x = x32.astype(np.float16)
        xf = x.astype(np.float32)
    else:
        x = qgemm.float_to_bf16(x32)
        xf = qgemm.bf16_to_float(x)
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == (M, N)
    wdq = layer.weight_q.astype(np.float64) * layer.weight_scales.astype(np.float64)[:, None]
    ref = xf.astype(np.float64) @ wdq.T + bias
    # Float sum of K products and a scale and a bias: gamma_{K+3} * (sum |x w| + |b|).
    u = 2.0 ** -24
    gamma = (K + 3) * u / (1 - (K + 3) * u)
    bound = gamma * (np.abs(xf) @ np.abs(wdq).T + np.abs(bias))
    assert (np.abs(y - ref) <= bound).all()
    assert qgemm.weight_only_kernel_name() != ""


def test_layers_pickle_and_deepcopy():
    rng = np.random.default_rng(17)
    w = rng.standard_normal((9, 16)).astype(np.float32)
    x = rng.standard_normal((3, 16)).astype(np.float32)
    for layer in (qgemm.DynamicLinear(w, per_channel=True), qgemm.WeightOnlyLinear(w, np.ones(9, np.float32))):
        y = layer(x)
        for other in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
            assert type(other) is type(layer)
            np.testing.assert_array_equal(other(x), y)
            np.testing.assert_array_equal(other.weight_q, layer.weight_q)


def test_layer_bad_input():
    w = np.ones((3, 4), np.float32)
    layer = qgemm.DynamicLinear(w)
    with pytest.raises(ValueError, match="last dimension"):
        layer(np.ones((2, 5), np.float32))
    with pytest.raises(TypeError):
        layer(np.ones((2, 4), np.float64))
    with pytest.raises(ValueError, match="bias"):
        qgemm.DynamicLinear(w, np.ones(2, np.float32))
    with pytest.raises(qgemm.Error, match="bad_output_params"):
        qgemm.DynamicLinear.from_quantized(np.ones((3, 4), np.int8), [0.1, -0.1, 0.1])
    with pytest.raises(ValueError, match="1 or 3"):
        qgemm.DynamicLinear.from_quantized(np.ones((3, 4), np.int8), [0.1, 0.1])
    with pytest.raises(qgemm.Error, match="bad_zero_point"):
        qgemm.StaticLinear(np.ones((3, 4), np.int8), 0.1, x_scale=0.1, x_zero_point=300, y_scale=1.0,
                           y_zero_point=0)
    with pytest.raises(qgemm.Error, match="negative_dimension"):
        qgemm.WeightOnlyLinear(np.ones((0, 4), np.float32))
    with pytest.raises(TypeError, match="float16"):
        qgemm.WeightOnlyLinear(w)(np.ones((1, 4), np.int32))


def test_fmaf_reference_itself():
    # The reference must round once: 1 + 2^-24 + 2^-60 is above the tie, so it rounds up.
    a = np.float32(1.0 + 2.0 ** -23)
    b = np.float32(1.0 + 2.0 ** -23)  # a*b = 1 + 2^-22 + 2^-46
    c = np.float32(-(2.0 ** -23))     # a*b + c = 1 + 2^-23 + 2^-46: exact float32 + tiny
    assert fmaf_ref(a, b, c) == np.float32(1.0 + 2.0 ** -23)
    assert ulp_distance(np.float32(1.0), np.nextafter(np.float32(1.0), np.float32(2.0))) == 1
    assert ulp_distance(np.float32(-0.0), np.float32(0.0)) == 0
