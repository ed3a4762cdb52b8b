"""qgemm.torch.Int4Linear: from_float gives the numpy layer's bits for float32, bfloat16 and
float16 tensors of any leading shape; deepcopy, pickle, torch.save and state_dict round trips;
bad input."""
import copy
import io
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import qgemm  # noqa: E402
import qgemm.torch as qt  # noqa: E402

nn = torch.nn

CONFIGS = [dict(group_size=128), dict(group_size=32, symmetric=False), dict(group_size=0, act_per_group=False),
           dict(group_size=64, weight_only=True), dict(group_size=0, symmetric=False, weight_only=True)]


def ids(c):
    return ",".join(f"{k}={v}" for k, v in c.items())


@pytest.mark.parametrize("cfg", CONFIGS, ids=ids)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_from_float_equals_numpy_layer(cfg, dtype):
    torch.manual_seed(28)
    lin = nn.Linear(256, 40)
    m = qt.Int4Linear.from_float(lin, **cfg)
    ref = qgemm.Int4Linear(lin.weight.detach().numpy(), lin.bias.detach().numpy(), **cfg)
    for a, b in zip((m.weight_q, m.weight_scale, m.weight_zero_point), ref.export()):
        if b is None:
            assert a is None
        else:
            np.testing.assert_array_equal(a.numpy(), b)
    assert m.weight_q.dtype == torch.int8 and m.weight_scale.dtype == torch.float32
    x = torch.randn(2, 3, 256).to(dtype)
    y = m(x)
    assert y.dtype == dtype and y.shape == (2, 3, 40)
    xf = x.float().reshape(6, 256).numpy()  # bfloat16 and float16 widen exactly
    y_ref = torch.from_numpy(ref(xf)).to(dtype).reshape(2, 3, 40)
    assert torch.equal(y.view(torch.int16 if dtype != torch.float32 else torch.int32),
                       y_ref.view(torch.int16 if dtype != torch.float32 else torch.int32))
    # A non-contiguous view (every other row) and a 1-D input.
    xs = torch.randn(8, 256).to(dtype)[::2]
    assert torch.equal(m(xs).float(), torch.from_numpy(ref(xs.float().numpy())).to(dtype).float())
    assert m(xs[0]).shape == (40,)
    assert "group_size" in repr(m)


def test_float32_output_is_the_pinned_formula_on_threads():
    torch.manual_seed(3)
    lin = nn.Linear(128, 24, bias=False)
    m = qt.Int4Linear.from_float(lin, group_size=64)
    assert m.bias is None
    x = torch.randn(5, 128)
    y1 = m(x)
    m.num_threads = 2
    assert torch.equal(m(x).view(torch.int32), y1.view(torch.int32))
    assert qgemm.int4_kernel_name().startswith("w4a8_")


@pytest.mark.parametrize("cfg", [dict(group_size=32), dict(group_size=64, symmetric=False),
                                 dict(group_size=0, weight_only=True)], ids=ids)
def test_deepcopy_pickle_save_state_dict_round_trips(cfg):
    torch.manual_seed(6)
    lin = nn.Linear(128, 12)
    m = qt.Int4Linear.from_float(lin, **cfg)
    x = torch.randn(3, 128)
    y = m(x)
    model = nn.Sequential(m, nn.ReLU())
    for copy_ in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert copy_[0]._layer is not m._layer
        assert torch.equal(copy_[0](x), y)
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    assert torch.equal(torch.load(buf)(x), y)
    sd = m.state_dict()
    assert sd["weight_q"].dtype == torch.int8 and sd["weight_q"].shape == (12, 128)
    assert ("weight_zero_point" in sd) == (cfg.get("symmetric", True) is False)
    fresh = qt.Int4Linear(128, 12, **cfg)
    assert not torch.equal(fresh(x), y)
    fresh.load_state_dict(sd)
    assert torch.equal(fresh(x), y)
    # Casts leave the quantization parameters alone.
    m.double()
    assert m.weight_scale.dtype == torch.float32 and m.weight_q.dtype == torch.int8
    assert torch.equal(m(x), y)


def test_bad_input():
    m = qt.Int4Linear.from_float(nn.Linear(64, 4), group_size=32)
    with pytest.raises(ValueError, match="CPU"):
        m(torch.empty(2, 64, device="meta"))
    with pytest.raises(TypeError, match="dtype"):
        m(torch.randn(2, 64, dtype=torch.float64))
    with pytest.raises(ValueError, match="in_features = 64"):
        m(torch.randn(2, 63))
    with pytest.raises(TypeError):
        m(np.zeros((2, 64), np.float32))
    m.num_threads = -1
    with pytest.raises(qgemm.Error, match="bad_argument"):
        m(torch.randn(2, 64))
    with pytest.raises(TypeError, match="nn.Linear"):
        qt.Int4Linear.from_float(nn.Conv1d(3, 3, 1))
    with pytest.raises(qgemm.Error, match="group_size 128 does not divide in_features 64"):
        qt.Int4Linear.from_float(nn.Linear(64, 4))
    with pytest.raises(qgemm.Error, match="group_size must be"):
        qt.Int4Linear(64, 4, group_size=16)
    lin = nn.Linear(64, 4)
    with torch.no_grad():
        lin.weight[1, 1] = float("inf")
    with pytest.raises(qgemm.Error, match="not finite"):
        qt.Int4Linear.from_float(lin, group_size=32)
