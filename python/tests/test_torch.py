"""qgemm.torch against Debian's torch 1.13 (quantized engines qnnpack and onednn; no fbgemm).

qnnpack with reduce_range=False quantizes X exactly as qgemm does and sums exactly, so the only
difference is its y = (acc * s) + b in two roundings against qgemm's one fmaf: at most 2 ulp of
max(|acc * s|, |y|), and bit-equal without a bias.

onednn (documented here from what it computes, see docs/python.md): its X quantization rounds
x * (1/s) to float, adds the zero point in float and then rounds half to even, where torch
(quantize_per_tensor) and qgemm round x * (1/s) first and then add the zero point: a value
within float rounding of a .5 tie can land one step apart. Its output multiplier is built from
reciprocal scales, two float roundings away from sx * sw. The test models both: torch's onednn
output is within 4 ulp of max(|P|, |y|) of P + b, where P = acc * sx * sw over X quantized the
onednn way."""
import copy
import io
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import qgemm  # noqa: E402
import qgemm.torch as qt  # noqa: E402
from refs import acc_ref, float_multiplier_ref  # noqa: E402

nn = torch.nn
DQ = torch.ao.quantization


@pytest.fixture
def engine(request):
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = request.param
    yield request.param
    torch.backends.quantized.engine = old


def spacing(v):
    return np.spacing(np.abs(np.asarray(v, np.float32))).astype(np.float64)


def torch_dynamic(lin, per_channel):
    qconfig = DQ.per_channel_dynamic_qconfig if per_channel else DQ.default_dynamic_qconfig
    return DQ.quantize_dynamic(nn.Sequential(lin), {nn.Linear: qconfig})[0]


def exact_products(qm, x2d):
    """P = float(acc) * float32(sx * sw) in float64 (exact), with qgemm's X parameters."""
    y, sx, zx = qm._layer.forward(x2d, 1)
    xq = qgemm.quantize(x2d, sx, zx, np.uint8)
    acc = acc_ref(xq, zx, qm.weight_q.numpy(), qm.weight_zero_point.numpy())
    s = np.float32(sx) * qm.weight_scale.numpy()
    return y, acc.astype(np.float32).astype(np.float64) * s.astype(np.float64), sx, zx


SHAPES = [(1, 768, 64), (16, 300, 70), (33, 129, 40)]


# ---- the quantization utilities match torch -------------------------------------------------
@pytest.mark.parametrize("reduce_range", [False, True])
def test_activation_params_and_quantize_match_torch(reduce_range):
    g = torch.Generator().manual_seed(1)
    for i in range(50):
        x = torch.randn(7, 33, generator=g) * (i + 1) * 0.3 + (i % 5 - 2)
        ts, tz = torch._choose_qparams_per_tensor(x, reduce_range)
        s, z = qgemm.choose_qparams_dynamic(x.min().item(), x.max().item(), reduce_range)
        assert (np.float32(ts), tz) == (s, z)
        q = torch.quantize_per_tensor(x, s, z, torch.quint8).int_repr().numpy()
        np.testing.assert_array_equal(qgemm.quantize(x.numpy(), s, z, np.uint8), q)


def test_observers_match_torch():
    g = torch.Generator().manual_seed(2)
    w = torch.randn(12, 40, generator=g) * 0.3
    for dtype, scheme, rr in ((torch.qint8, torch.per_tensor_symmetric, False),
                              (torch.quint8, torch.per_tensor_affine, True),
                              (torch.quint8, torch.per_tensor_affine, False)):
        obs = DQ.MinMaxObserver(dtype=dtype, qscheme=scheme, reduce_range=rr)
        obs(w)
        ts, tz = obs.calculate_qparams()
        s, z = qgemm.choose_qparams(w.min().item(), w.max().item(), np.uint8 if dtype == torch.quint8 else np.int8,
                                    "symmetric" if scheme == torch.per_tensor_symmetric else "affine", rr)
        assert (np.float32(ts.item()), int(tz.item())) == (s, z)
    obs = DQ.PerChannelMinMaxObserver(dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    obs(w)
    ts, tz = obs.calculate_qparams()
    s, z = qgemm.choose_qparams_per_channel(w.numpy(), 0, np.int8, "symmetric")
    np.testing.assert_array_equal(s, ts.numpy().astype(np.float32))
    np.testing.assert_array_equal(z, tz.numpy())
    tq = torch.quantize_per_channel(w, torch.from_numpy(s).double(), torch.from_numpy(z).long(), 0, torch.qint8)
    np.testing.assert_array_equal(qgemm.quantize_per_channel(w.numpy(), s, z, 0), tq.int_repr().numpy())


# ---- dynamic Linear against torch's engines ----------------------------------------------------
@pytest.mark.parametrize("engine", ["qnnpack"], indirect=True)
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("M,K,N", SHAPES)
def test_dynamic_qnnpack_within_2_ulp(engine, per_channel, bias, M, K, N):
    torch.manual_seed(M + K + N + per_channel + 2 * bias)
    lin = nn.Linear(K, N, bias=bias)
    if bias:
        lin.bias.data *= 10
    tm = torch_dynamic(lin, per_channel)
    qm = qt.DynamicLinear.from_quantized(tm)  # qnnpack: reduce_range=None means 8-bit X
    assert qm.reduce_range is False
    x = torch.randn(M, K) * 2 + 0.3
    yt = torch.ops.quantized.linear_dynamic(x, tm._packed_params._packed_params, reduce_range=False).numpy()
    yq = qm(x).numpy()
    if not bias:  # fl(acc * s) is fmaf(acc, s, 0)
        np.testing.assert_array_equal(yt.view(np.int32), yq.view(np.int32))
        return
    _, P, _, _ = exact_products(qm, x.numpy())
    diff = np.abs(yt.astype(np.float64) - yq)
    # Two roundings against one: |t - q| <= ulp(P)/2 + ulp(t)/2 + ulp(q)/2 ...
    assert (diff <= 0.5 * (spacing(P) + spacing(yt) + spacing(yq))).all()
    # ... hence at most 2 ulp of the largest magnitude involved.
    assert (diff <= 2 * spacing(np.maximum(np.abs(P), np.maximum(np.abs(yt), np.abs(yq))))).all()


@pytest.mark.parametrize("engine", ["onednn"], indirect=True)
@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("reduce_range", [False, True])
@pytest.mark.parametrize("M,K,N", SHAPES)
def test_dynamic_onednn_documented_differences(engine, per_channel, reduce_range, M, K, N):
    torch.manual_seed(M * 3 + K + N + per_channel)
    lin = nn.Linear(K, N)
    tm = torch_dynamic(lin, per_channel)
    qm = qt.DynamicLinear.from_quantized(tm, reduce_range=reduce_range)
    x = torch.randn(M, K) * 2 + 0.3
    yt = torch.ops.quantized.linear_dynamic(x, tm._packed_params._packed_params, reduce_range=reduce_range).numpy()
    y, sx, zx = qm._layer.forward(x.numpy(), 1)
    # onednn's X: round_half_even(float(float(x * (1/s)) + zp)).
    v = (x.numpy() * (np.float32(1) / np.float32(sx))).astype(np.float32) + np.float32(zx)
    xq = np.clip(np.rint(v), 0, 127 if reduce_range else 255).astype(np.uint8)
    acc = acc_ref(xq, zx, qm.weight_q.numpy(), qm.weight_zero_point.numpy())
    P = acc.astype(np.float32).astype(np.float64) * (np.float32(sx) * qm.weight_scale.numpy()).astype(np.float64)
    exact = P + lin.bias.detach().numpy().astype(np.float64)
    m = np.maximum(np.abs(P), np.maximum(np.abs(yt), np.abs(exact)))
    assert (np.abs(yt - exact) <= 4 * spacing(m)).all()


@pytest.mark.parametrize("engine", ["onednn"], indirect=True)
def test_onednn_rounds_a_tie_after_adding_the_zero_point(engine):
    # x * (1/s) = 19.5 exactly with an odd zero point: torch.quantize_per_tensor and qgemm give
    # zp + 20, onednn gives round(84.5) = 84 = zp + 19.
    lin = nn.Linear(4, 3, bias=False)
    lin.weight.data = torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    tm = torch_dynamic(lin, False)
    qm = qt.DynamicLinear.from_quantized(tm, reduce_range=False)
    lo = next(v for v in (-6.7, -6.6, -6.5, -6.4) if qgemm.choose_qparams_dynamic(v, 3.0, False)[1] % 2 == 1)
    base = torch.tensor([[lo, 0.0, 3.0, 0.0]])
    sx, zx = qgemm.choose_qparams_dynamic(lo, 3.0, False)
    x = base.clone()
    x[0, 1] = float(np.float32(19.5) * np.float32(sx))
    assert np.float32(x[0, 1].item()) * (np.float32(1) / np.float32(sx)) == np.float32(19.5)
    q_torch = torch.quantize_per_tensor(x, sx, zx, torch.quint8).int_repr()[0, 1].item()
    assert q_torch == zx + 20
    yt = torch.ops.quantized.linear_dynamic(x, tm._packed_params._packed_params, reduce_range=False)
    yq = qm(x)
    sw = tm.weight().q_scale()
    step = np.float32(sx) * np.float32(sw) * tm.weight().int_repr()[1, 1].item()
    assert yq[0, 1].item() == pytest.approx(yt[0, 1].item() + step, rel=1e-6)


# ---- from_quantized / from_float keep torch's int8 weights ----------------------------------
@pytest.mark.parametrize("per_channel", [False, True])
def test_from_quantized_keeps_torchs_int8_weights(per_channel):
    torch.manual_seed(3)
    lin = nn.Linear(50, 20)
    tm = torch_dynamic(lin, per_channel)
    qm = qt.DynamicLinear.from_quantized(tm)
    w = tm.weight()
    np.testing.assert_array_equal(qm.weight_q.numpy(), w.int_repr().numpy())
    np.testing.assert_array_equal(qm._layer.weight_q, w.int_repr().numpy())
    if per_channel:
        np.testing.assert_array_equal(qm.weight_scale.numpy(), w.q_per_channel_scales().float().numpy())
        np.testing.assert_array_equal(qm.weight_zero_point.numpy(), w.q_per_channel_zero_points().numpy())
    else:
        assert qm.weight_scale.item() == np.float32(w.q_scale())
    np.testing.assert_array_equal(qm.bias.numpy(), tm.bias().detach().numpy())
    qf = qt.DynamicLinear.from_float(lin, per_channel=per_channel)
    np.testing.assert_array_equal(qf.weight_q.numpy(), qm.weight_q.numpy())
    np.testing.assert_array_equal(qf.weight_scale.numpy(), qm.weight_scale.numpy())


@pytest.mark.parametrize("engine", ["qnnpack", "onednn"], indirect=True)
def test_reduce_range_follows_the_engine(engine):
    tm = torch_dynamic(nn.Linear(8, 4), False)
    assert qt.DynamicLinear.from_quantized(tm).reduce_range == (engine != "qnnpack")
    assert qt.DynamicLinear.from_quantized(tm, reduce_range=False).reduce_range is False


@pytest.mark.parametrize("engine", ["qnnpack"], indirect=True)
def test_quantize_dynamic_swaps_linears(engine):
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Sequential(nn.Linear(64, 16)), nn.LayerNorm(16))
    qmodel = qt.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    assert isinstance(qmodel[0], qt.DynamicLinear) and isinstance(qmodel[2][0], qt.DynamicLinear)
    assert isinstance(model[0], nn.Linear)  # not in place
    tmodel = DQ.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    np.testing.assert_array_equal(qmodel[0].weight_q.numpy(), tmodel[0].weight().int_repr().numpy())
    x = torch.randn(5, 32)
    with torch.no_grad():
        ref = model(x)
        assert torch.allclose(qmodel(x), ref, atol=0.05)
        assert torch.allclose(qmodel(x), tmodel(x), atol=0.02)
    # A dict spec: by name, None leaves a layer float; per-channel qconfig.
    q2 = qt.quantize_dynamic(model, {"0": DQ.per_channel_dynamic_qconfig, "2": None})
    assert isinstance(q2[0], qt.DynamicLinear) and q2[0].weight_scale.numel() == 64
    assert isinstance(q2[2][0], nn.Linear)
    with pytest.raises(ValueError, match="qint8"):
        qt.quantize_dynamic(model, {nn.Linear}, dtype=torch.float16)
    with pytest.raises(ValueError, match="no dynamic module"):
        qt.quantize_dynamic(model, {nn.LSTM})
    q3 = qt.quantize_dynamic(model, {nn.Linear}, inplace=True)
    assert q3 is model and isinstance(model[0], qt.DynamicLinear)


# ---- shapes, dtypes, threads, bad input -------------------------------------------------------
def test_leading_dimensions_strides_and_threads():
    torch.manual_seed(5)
    qm = qt.DynamicLinear.from_float(nn.Linear(24, 10))
    x = torch.randn(2, 3, 4, 24)
    y = qm(x)
    assert y.shape == (2, 3, 4, 10) and y.dtype == torch.float32
    np.testing.assert_array_equal(y.reshape(-1, 10).numpy(), qm(x.reshape(-1, 24)).numpy())
    xt = torch.randn(24, 6).t()  # non-contiguous rows
    np.testing.assert_array_equal(qm(xt).numpy(), qm(xt.contiguous()).numpy())
    wide = torch.randn(6, 40)[:, 3:27]  # row stride 40 > in_features
    np.testing.assert_array_equal(qm(wide).numpy(), qm(wide.contiguous()).numpy())
    assert qm(torch.empty(0, 24)).shape == (0, 10)
    xb = torch.randn(64, 24)
    ys = []
    for n in (1, 2, None):
        qm.num_threads = n
        ys.append(qm(xb).numpy())
    np.testing.assert_array_equal(ys[0], ys[1])
    np.testing.assert_array_equal(ys[0], ys[2])


def test_bad_input():
    qm = qt.DynamicLinear.from_float(nn.Linear(8, 4))
    with pytest.raises(ValueError, match="CPU"):
        qm(torch.empty(2, 8, device="meta"))
    with pytest.raises(TypeError, match="dtype"):
        qm(torch.randn(2, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="in_features = 8"):
        qm(torch.randn(2, 9))
    with pytest.raises(TypeError):
        qm(np.zeros((2, 8), np.float32))
    qm.num_threads = -1
    with pytest.raises(qgemm.Error, match="bad_argument"):
        qm(torch.randn(2, 8))
    with pytest.raises(TypeError):
        qt.DynamicLinear.from_float(nn.Conv1d(3, 3, 1))
    with pytest.raises(ValueError, match="qint8"):
        qt.DynamicLinear.from_float(nn.Linear(8, 4), DQ.float16_dynamic_qconfig)
    wo = qt.WeightOnlyLinear.from_float(nn.Linear(8, 4))
    with pytest.raises(TypeError):
        wo(torch.ones(1, 8, dtype=torch.int32))


# ---- copies and saving -----------------------------------------------------------------------
@pytest.mark.parametrize("cls", ["dynamic", "weight_only"])
def test_deepcopy_pickle_state_dict_round_trips(cls):
    torch.manual_seed(6)
    lin = nn.Linear(20, 12)
    make = (lambda: qt.DynamicLinear.from_float(lin, per_channel=True)) if cls == "dynamic" else \
        (lambda: qt.WeightOnlyLinear.from_float(lin))
    m = make()
    x = torch.randn(3, 20)
    y = m(x)
    model = nn.Sequential(m, nn.ReLU())
    for copy_ in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert copy_[0]._layer is not m._layer
        np.testing.assert_array_equal(copy_[0](x).numpy(), y.numpy())
    del model, m  # the copies own their packed weights
    buf = io.BytesIO()
    m = make()
    torch.save(m, buf)
    buf.seek(0)
    np.testing.assert_array_equal(torch.load(buf)(x).numpy(), y.numpy())
    sd = m.state_dict()
    assert sd["weight_q"].dtype == torch.int8 and "bias" in sd
    fresh = qt.DynamicLinear(20, 12) if cls == "dynamic" else qt.WeightOnlyLinear(20, 12)
    assert not torch.equal(fresh(x), y)
    fresh.load_state_dict(sd)
    np.testing.assert_array_equal(fresh(x).numpy(), y.numpy())
    # Casts leave the quantization parameters alone.
    m.double()
    assert m.weight_scale.dtype == torch.float32 and m.weight_q.dtype == torch.int8
    np.testing.assert_array_equal(m(x).numpy(), y.numpy())


# ---- static and weight-only -------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["qnnpack"], indirect=True)
def test_static_linear_from_torch(engine):
    torch.manual_seed(7)
    K, N = 48, 24
    tq = torch.ao.nn.quantized.Linear(K, N)
    w = torch.quantize_per_tensor(torch.randn(N, K) * 0.2, 0.004, 0, torch.qint8)
    tq.set_weight_bias(w, torch.randn(N))
    tq.scale, tq.zero_point = 0.15, 70
    qs = qt.StaticLinear.from_quantized(tq)
    x = torch.quantize_per_tensor(torch.randn(2, 5, K), 0.03, 120, torch.quint8)
    y = qs(x)
    assert y.dtype == torch.quint8 and y.shape == (2, 5, N)
    assert (y.q_scale(), y.q_zero_point()) == (0.15, 70)
    xq = x.int_repr().reshape(-1, K).numpy()
    ref = float_multiplier_ref(acc_ref(xq, 120, w.int_repr().numpy()), 0.03, np.float32(0.004), 0.15, 70,
                               bias_f32=tq.bias().detach().numpy())
    np.testing.assert_array_equal(y.int_repr().reshape(-1, N).numpy(), ref)  # fbgemm's formula, bit for bit
    # qnnpack requantizes differently (bias quantized to int32 first): at most one step apart.
    yt = tq(x).int_repr().numpy().astype(int)
    assert np.abs(yt - y.int_repr().numpy().astype(int)).max() <= 1
    y2 = pickle.loads(pickle.dumps(qs))(x)
    assert torch.equal(y2.int_repr(), y.int_repr())
    with pytest.raises(TypeError, match="quint8"):
        qs(torch.randn(2, K))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_weight_only_linear(dtype):
    torch.manual_seed(8)
    lin = nn.Linear(64, 32)
    m = qt.WeightOnlyLinear.from_float(lin)
    obs = DQ.PerChannelMinMaxObserver(dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    obs(lin.weight)
    s, _ = obs.calculate_qparams()
    np.testing.assert_array_equal(m.weight_scale.numpy(), s.float().numpy())
    x = torch.randn(4, 64).to(dtype)
    y = m(x)
    assert y.dtype == dtype and y.shape == (4, 32)
    wdq = m.weight_q.double() * m.weight_scale.double()[:, None]
    ref = x.double() @ wdq.t() + lin.bias.double()
    bound = (64 + 3) * 2.0 ** -24 * (x.double().abs() @ wdq.abs().t() + lin.bias.double().abs())
    err = (y.float().double() - ref).abs()
    if dtype != torch.float32:  # plus the final rounding to X's 16-bit type
        bound = bound + ref.abs() * (2.0 ** -8 if dtype == torch.bfloat16 else 2.0 ** -11)
    assert (err <= bound).all()
