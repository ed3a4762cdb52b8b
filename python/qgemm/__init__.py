"""qgemm from Python: exact int8 GEMM with fused output stages, PyTorch-compatible quantization
utilities and quantized linear layers, on numpy arrays. ``qgemm.torch`` has the same layers as
``torch.nn.Module`` s (imported only where torch is installed).

Big arrays (activations, weights) must already have the element type a call takes (uint8 or
int8 A, int8 or uint8 weights: the dtypes pick the sign combination; float32 X; float16 or bfloat16 bit patterns in uint16 for the weight-only and int4 layers; int8 int4 values):
anything else is a ``TypeError``, never a silent conversion. Scales and zero points may be Python
numbers or sequences. A call the library refuses raises :class:`Error` (a ``ValueError``) with
the library's status and message, and writes nothing. docs/python.md has the details.
"""
import numpy as _np

from . import _qgemm
from ._qgemm import (Error, active_isa, bf16_to_float, built_with_openmp, float_to_bf16, isa_available,
                     isa_names, isa_unavailable_reason, last_kernel_name, max_abs_error, mean_squared_error,
                     min_max, quant_isa, quantize_multiplier, reset_isa, reset_quant_isa, set_isa,
                     set_quant_isa, weight_only_kernel_name, int4_kernel_name)

__version__ = "0.1.0"

__all__ = [
    "Error", "active_isa", "bf16_to_float", "built_with_openmp", "float_to_bf16", "isa_available", "isa_names",
    "isa_unavailable_reason", "last_kernel_name", "max_abs_error", "mean_squared_error", "min_max", "quant_isa",
    "quantize_multiplier", "reset_isa", "reset_quant_isa", "set_isa", "set_quant_isa", "weight_only_kernel_name", "int4_kernel_name",
    "quant_range", "choose_qparams", "choose_qparams_dynamic", "choose_qparams_tensor",
    "choose_qparams_per_channel", "quantize", "dequantize", "quantize_per_channel", "dequantize_per_channel",
    "quantization_error", "pack_weights", "PackedWeights", "output_s32", "output_fixed_point",
    "output_float_multiplier", "output_f32", "gemm", "DynamicLinear", "StaticLinear", "WeightOnlyLinear",
    "Int4Linear",
]

PackedWeights = _qgemm.PackedWeights

_QTYPES = {"uint8": 0, "u8": 0, "quint8": 0, "int8": 1, "s8": 1, "qint8": 1}
_SCHEMES = {"affine": 0, "symmetric": 1}
_OUT_TYPES = {"int32": 0, "uint8": 1, "int8": 2, "float32": 3}


def _qtype(dtype):
    """0 for uint8 (quint8), 1 for int8 (qint8)."""
    name = dtype if isinstance(dtype, str) else getattr(dtype, "__name__", None) or str(dtype)
    try:
        name = _np.dtype(dtype).name
    except TypeError:
        pass
    name = name.replace("torch.", "")
    if name not in _QTYPES:
        raise ValueError(f"dtype must be uint8 or int8 (quint8 / qint8), got {dtype!r}")
    return _QTYPES[name]


def _scheme(scheme):
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme must be 'affine' or 'symmetric', got {scheme!r}")
    return _SCHEMES[scheme]


def _f32(values, name):
    """Scales: a number (a 0-d array) or a sequence (1-D), as float32."""
    a = _np.asarray(values)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be real numbers, got {a.dtype}")
    if a.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-D sequence")
    return _np.asarray(a, dtype=_np.float32, order="C")


def _i32(values, name):
    """Zero points, shifts, multipliers, int32 biases: integers that fit int32."""
    a = _np.asarray(values)
    if a.dtype.kind not in "iu" and not (a.dtype.kind == "b"):
        raise TypeError(f"{name} must be integers, got {a.dtype}")
    if a.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-D sequence")
    if a.size and (a.min() < -2**31 or a.max() > 2**31 - 1):
        raise ValueError(f"{name} must fit in int32")
    return _np.asarray(a, dtype=_np.int32, order="C")


def _bias(bias, name="bias"):
    """A float32 or int32 1-D array as it is; a sequence of Python numbers becomes float32."""
    if bias is None or isinstance(bias, _np.ndarray):
        return bias
    return _f32(bias, name)


# ---- quantization utilities -------------------------------------------------------------
def quant_range(dtype, reduce_range=False):
    """(qmin, qmax) of uint8 / int8, 7-bit with reduce_range."""
    return _qgemm.quant_range(_qtype(dtype), bool(reduce_range))


def choose_qparams(min, max, dtype=_np.uint8, scheme="affine", reduce_range=False):
    """(scale, zero_point) as torch's MinMaxObserver chooses them from a min and a max."""
    return _qgemm.choose_qparams(float(min), float(max), _qtype(dtype), _scheme(scheme), bool(reduce_range))


def choose_qparams_dynamic(min, max, reduce_range=False):
    """(scale, zero_point) of uint8 activations as torch's dynamic quantized Linear chooses them."""
    return _qgemm.choose_qparams_dynamic(float(min), float(max), bool(reduce_range))


def choose_qparams_tensor(x, dtype=_np.uint8, scheme="affine", reduce_range=False):
    """choose_qparams(min(x), max(x)) for a float32 array."""
    return _qgemm.choose_qparams_tensor(x, _qtype(dtype), _scheme(scheme), bool(reduce_range))


def choose_qparams_per_channel(x, axis=0, dtype=_np.int8, scheme="symmetric", reduce_range=False):
    """(scales, zero_points) per channel along `axis`, as torch's PerChannelMinMaxObserver."""
    return _qgemm.choose_qparams_per_channel(x, _axis(x, axis), _qtype(dtype), _scheme(scheme), bool(reduce_range))


def _axis(x, axis):
    nd = getattr(x, "ndim", 0)
    if not isinstance(axis, (int, _np.integer)) or not -nd <= axis < max(nd, 1):
        raise ValueError(f"axis {axis!r} out of range for {nd} dimensions")
    return int(axis) % max(nd, 1)


def quantize(x, scale, zero_point, dtype=_np.uint8):
    """clamp(zero_point + round_half_even(x * (1 / scale))) as uint8 or int8 (torch.quantize_per_tensor)."""
    return _qgemm.quantize(x, float(scale), int(zero_point), _qtype(dtype))


def dequantize(q, scale, zero_point):
    """float32 (q - zero_point) * scale for a uint8 or int8 array."""
    return _qgemm.dequantize(q, float(scale), int(zero_point))


def quantize_per_channel(x, scales, zero_points, axis=0, dtype=_np.int8):
    """torch.quantize_per_channel for a float32 array."""
    return _qgemm.quantize_per_channel(x, _f32(scales, "scales"), _i32(zero_points, "zero_points"), _axis(x, axis),
                                       _qtype(dtype))


def dequantize_per_channel(q, scales, zero_points, axis=0):
    return _qgemm.dequantize_per_channel(q, _f32(scales, "scales"), _i32(zero_points, "zero_points"), _axis(q, axis))


def quantization_error(x, scale, zero_point, dtype=_np.uint8):
    """(max |x - dequantize(quantize(x))|, mean squared error) of a float32 array."""
    return _qgemm.quantization_error(x, float(scale), int(zero_point), _qtype(dtype))


# ---- packed weights and gemm -------------------------------------------------------------
def pack_weights(b, layout="nk", zero_points=None):
    """Packs int8 or uint8 weights (by b's dtype) once for the active ISA.

    layout 'nk': b is [N][K] (torch's [out_features][in_features]); 'kn': b is [K][N].
    zero_points: None (0), one value, or N values (per column), each in [-128, 127] for int8
    weights and [0, 255] for uint8 ones.
    """
    if layout not in ("nk", "kn"):
        raise ValueError(f"layout must be 'nk' or 'kn', got {layout!r}")
    return _qgemm.PackedWeights(b, 1 if layout == "nk" else 0,
                                None if zero_points is None else _i32(zero_points, "zero_points"))


def _clamp_int(clamp):
    if clamp is None:
        return -2**31, 2**31 - 1
    lo, hi = clamp
    return int(lo), int(hi)


def _out_type(dtype):
    t = _qtype(dtype)
    return 1 if t == 0 else 2


def output_s32(bias=None):
    """int32 output: C = acc (+ bias[j], int32)."""
    return _qgemm.output_s32(None if bias is None else _i32(bias, "bias"))


def output_fixed_point(dtype, multiplier, shift, zero_point=0, bias=None, rounding="double", clamp=None):
    """uint8/int8 output with TFLite's fixed-point requantization (see quantize_multiplier)."""
    if rounding not in ("double", "single"):
        raise ValueError("rounding must be 'double' or 'single'")
    lo, hi = _clamp_int(clamp)
    return _qgemm.output_fixed_point(_out_type(dtype), _i32(multiplier, "multiplier"), _i32(shift, "shift"),
                                     int(zero_point), None if bias is None else _i32(bias, "bias"),
                                     0 if rounding == "double" else 1, lo, hi)


def output_float_multiplier(dtype, act_scale, weight_scale, out_scale, zero_point=0, bias=None, clamp=None):
    """uint8/int8 output with fbgemm's float multiplier (torch's quantized::linear).

    bias: int32 (added to acc) or float32 (fbgemm: bias[j] / (sa * sb[j]) added to float(acc)).
    """
    lo, hi = _clamp_int(clamp)
    return _qgemm.output_float_multiplier(_out_type(dtype), float(act_scale), _f32(weight_scale, "weight_scale"),
                                          float(out_scale), int(zero_point), _bias(bias), lo, hi)


def output_f32(act_scale, weight_scale, bias=None, clamp=None):
    """float32 output: fmaf(float(acc), act_scale * weight_scale[j], bias[j])."""
    lo, hi = (-_np.inf, _np.inf) if clamp is None else clamp
    return _qgemm.output_f32(float(act_scale), _f32(weight_scale, "weight_scale"),
                             None if bias is None else _f32(bias, "bias"), float(lo), float(hi))


def gemm(a, w, a_zero_point=0, output=None, *, out=None, num_threads=0):
    """C[M][N] = output((A - a_zero_point) @ (B - zb)) for A [M][K] and PackedWeights w.

    A is uint8 (a_zero_point in [0, 255]) or int8 ([-128, 127]); with the weights' own type this
    picks one of the four sign combinations, all exact and with the same bits on every ISA.

    output: an output stage (output_s32() by default). out: optional C-contiguous [M][N] array of
    the stage's type to write into (untouched on error). num_threads: 0 = the default (OpenMP),
    1 = the calling thread. Returns the output array.
    """
    stage = output_s32() if output is None else output
    if not isinstance(stage, _qgemm.OutputStage):
        raise TypeError("output must come from output_s32 / output_fixed_point / output_float_multiplier / output_f32")
    if not isinstance(w, _qgemm.PackedWeights):
        raise TypeError("w must be PackedWeights (qgemm.pack_weights)")
    dtype = _np.dtype(stage.out_dtype)
    m = getattr(a, "shape", (0,))[0] if getattr(a, "ndim", 0) == 2 else 0
    if out is None:
        out = _np.empty((m, w.n), dtype=dtype)
    elif not isinstance(out, _np.ndarray) or out.dtype != dtype:
        raise TypeError(f"out must be a numpy array of {dtype}")
    _qgemm.gemm(a, int(a_zero_point), w, stage, out, int(num_threads))
    return out


# ---- layers ------------------------------------------------------------------------------
def _opt_f32(v, name):
    return None if v is None else _f32(v, name)


class DynamicLinear:
    """torch.ao.nn.quantized.dynamic.Linear: float32 X quantized to uint8 on every call (7-bit
    with reduce_range, as fbgemm and onednn; 8-bit as qnnpack), int8 weights, float32 Y."""

    def __init__(self, weight, bias=None, *, per_channel=False, reduce_range=True):
        """From float32 weights [out][in]: symmetric int8, per tensor or per output channel."""
        self._l = _qgemm.DynamicLinear.from_float(weight, _opt_f32(bias, "bias"), bool(per_channel),
                                                  bool(reduce_range))

    @classmethod
    def from_quantized(cls, weight_q, scales, zero_points=None, bias=None, *, reduce_range=True):
        """From int8 weights [out][in] as they are, 1 or out scales (and zero points)."""
        self = cls.__new__(cls)
        self._l = _qgemm.DynamicLinear.from_quantized(
            weight_q, _f32(scales, "scales").reshape(-1), None if zero_points is None else
            _i32(zero_points, "zero_points").reshape(-1), _opt_f32(bias, "bias"), bool(reduce_range))
        return self

    def forward(self, x, *, num_threads=0, return_x_params=False):
        """Y[..., out] for float32 X[..., in]; with return_x_params also X's (scale, zero_point)."""
        y, scale, zp = self._l.forward(x, int(num_threads))
        return (y, (scale, zp)) if return_x_params else y

    __call__ = forward

    in_features = property(lambda self: self._l.in_features)
    out_features = property(lambda self: self._l.out_features)
    per_channel = property(lambda self: self._l.per_channel)
    reduce_range = property(lambda self: self._l.reduce_range)
    weight_q = property(lambda self: self._l.weight_q)
    weight_scales = property(lambda self: self._l.weight_scales)
    weight_zero_points = property(lambda self: self._l.weight_zero_points)
    bias = property(lambda self: self._l.bias)

    def __reduce__(self):  # pickle / deepcopy: the int8 weights, packed again on load
        return (_rebuild_dynamic, (self.weight_q, self.weight_scales, self.weight_zero_points, self.bias,
                                   self.reduce_range))

    def __repr__(self):
        return (f"qgemm.DynamicLinear(in_features={self.in_features}, out_features={self.out_features}, "
                f"per_channel={self.per_channel}, reduce_range={self.reduce_range})")


def _rebuild_dynamic(weight_q, scales, zero_points, bias, reduce_range):
    return DynamicLinear.from_quantized(weight_q, scales, zero_points, bias, reduce_range=reduce_range)


class StaticLinear:
    """torch.ao.nn.quantized.Linear: uint8 X -> uint8 Y with fbgemm's float-multiplier
    requantization (bit-exact with fbgemm's requantize_u8acc32_ref)."""

    def __init__(self, weight_q, scales, zero_points=None, bias=None, *, x_scale, x_zero_point, y_scale,
                 y_zero_point, clamp=(0, 255)):
        """int8 weights [out][in], 1 or out scales and zero points; bias int32 or float32."""
        lo, hi = clamp
        self._l = _qgemm.StaticLinear.from_quantized(
            weight_q, _f32(scales, "scales").reshape(-1), None if zero_points is None else
            _i32(zero_points, "zero_points").reshape(-1), _bias(bias), float(x_scale), int(x_zero_point),
            float(y_scale), int(y_zero_point), int(lo), int(hi))

    def forward(self, x, *, num_threads=0):
        """uint8 Y[..., out] for uint8 X[..., in]."""
        return self._l.forward(x, int(num_threads))

    __call__ = forward

    in_features = property(lambda self: self._l.in_features)
    out_features = property(lambda self: self._l.out_features)
    per_channel = property(lambda self: self._l.per_channel)
    weight_q = property(lambda self: self._l.weight_q)
    weight_scales = property(lambda self: self._l.weight_scales)
    weight_zero_points = property(lambda self: self._l.weight_zero_points)
    bias = property(lambda self: self._l.bias)
    x_params = property(lambda self: self._l.x_params)
    y_params = property(lambda self: self._l.y_params)
    clamp = property(lambda self: self._l.clamp)

    def __reduce__(self):
        (xs, xz), (ys, yz) = self.x_params, self.y_params
        return (_rebuild_static, (self.weight_q, self.weight_scales, self.weight_zero_points, self.bias, xs, xz, ys,
                                  yz, self.clamp))

    def __repr__(self):
        return f"qgemm.StaticLinear(in_features={self.in_features}, out_features={self.out_features})"


def _rebuild_static(weight_q, scales, zero_points, bias, xs, xz, ys, yz, clamp):
    return StaticLinear(weight_q, scales, zero_points, bias, x_scale=xs, x_zero_point=xz, y_scale=ys,
                        y_zero_point=yz, clamp=clamp)


class WeightOnlyLinear:
    """W8A32 / W8A16: int8 weights with per-channel scales, float32, float16 or bfloat16 X
    (bfloat16 as uint16 bit patterns, see float_to_bf16), float32 Y. Runs on the calling thread."""

    def __init__(self, weight, bias=None):
        """From float32 weights [out][in]: per-channel symmetric int8."""
        self._l = _qgemm.WeightOnlyLinear.from_float(weight, _opt_f32(bias, "bias"))

    @classmethod
    def from_quantized(cls, weight_q, scales, bias=None):
        self = cls.__new__(cls)
        self._l = _qgemm.WeightOnlyLinear.from_quantized(weight_q, _f32(scales, "scales").reshape(-1),
                                                        _opt_f32(bias, "bias"))
        return self

    def forward(self, x):
        return self._l.forward(x)

    __call__ = forward

    in_features = property(lambda self: self._l.in_features)
    out_features = property(lambda self: self._l.out_features)
    weight_q = property(lambda self: self._l.weight_q)
    weight_scales = property(lambda self: self._l.weight_scales)
    bias = property(lambda self: self._l.bias)

    def __reduce__(self):
        return (_rebuild_weight_only, (self.weight_q, self.weight_scales, self.bias))

    def __repr__(self):
        return f"qgemm.WeightOnlyLinear(in_features={self.in_features}, out_features={self.out_features})"


def _rebuild_weight_only(weight_q, scales, bias):
    return WeightOnlyLinear.from_quantized(weight_q, scales, bias)


class Int4Linear:
    """int4 weights for LLM layers (docs/int4.md): W4A8 (float32 X quantized to uint8 per row, or
    per row and group, on every call; exact int32 sums per group combined in float32 in a pinned
    order, so the same bits on every ISA and thread count) or, with weight_only, W4A32 / W4A16
    (float32, float16 or bfloat16 X stays float). Weights per group of `group_size` k values
    (32, 64, 128 or 256 dividing in_features; 0: per channel), symmetric (q in [-8, 7]) or with a
    zero point per group (q in [0, 15]). float32 Y."""

    def __init__(self, weight, bias=None, group_size=128, symmetric=True, weight_only=False, act_per_group=True):
        """From float32 weights [out][in]: round-to-nearest per row and group (the C++
        Int4Linear::init; symmetric: ggml q4_0's rule, the group's largest magnitude maps to -8)."""
        self._l = _qgemm.Int4Linear.from_float(weight, _opt_f32(bias, "bias"), int(group_size), bool(symmetric),
                                               bool(weight_only), bool(act_per_group))

    @classmethod
    def from_quantized(cls, q, scales, zero_points=None, bias=None, group_size=None, symmetric=None,
                       weight_only=False, act_per_group=True):
        """From int8 q [out][in] ([-8, 7], or [0, 15] with zero points), scales [out][groups] and
        zero points [out][groups] in [0, 15] (None: symmetric weights). group_size None: read from
        scales' shape (one column: 0, per channel); symmetric None: whether zero_points is None.
        1-D scales (and zero points) of out values are one group per row."""
        out = q.shape[0] if getattr(q, "ndim", 0) == 2 else None
        s = _scales_2d(scales, "scales", out)
        z = None if zero_points is None else _zero_points_2d(zero_points, out)
        if symmetric is None:
            symmetric = zero_points is None
        if group_size is None:
            group_size = _group_size_of(q, s)
        self = cls.__new__(cls)
        self._l = _qgemm.Int4Linear.from_quantized(q, s, z, _opt_f32(bias, "bias"), int(group_size), bool(symmetric),
                                                   bool(weight_only), bool(act_per_group))
        return self

    def forward(self, x, *, num_threads=0):
        """float32 Y[..., out] for X[..., in]: float32, float16, or bfloat16 bit patterns (uint16)."""
        return self._l.forward(x, int(num_threads))

    __call__ = forward

    def export(self):
        """(q int8 [out][in], scales float32 [out][groups], zero_points int8 [out][groups] or None
        when symmetric): what from_quantized takes."""
        return self._l.export()

    in_features = property(lambda self: self._l.in_features)
    out_features = property(lambda self: self._l.out_features)
    group_size = property(lambda self: self._l.group_size)  # as given: 0 for per channel
    groups = property(lambda self: self._l.groups)
    symmetric = property(lambda self: self._l.symmetric)
    weight_only = property(lambda self: self._l.weight_only)
    act_per_group = property(lambda self: self._l.act_per_group)
    bias = property(lambda self: self._l.bias)
    packed_bytes = property(lambda self: self._l.packed_bytes)  # what forward reads

    def __reduce__(self):  # pickle / deepcopy: the int4 values, packed again on load
        q, s, z = self.export()
        return (_rebuild_int4, (q, s, z, self.bias, self.group_size, self.symmetric, self.weight_only,
                                self.act_per_group))

    def __repr__(self):
        return (f"qgemm.Int4Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"group_size={self.group_size}, symmetric={self.symmetric}, weight_only={self.weight_only}, "
                f"act_per_group={self.act_per_group})")


def _rebuild_int4(q, scales, zero_points, bias, group_size, symmetric, weight_only, act_per_group):
    return Int4Linear.from_quantized(q, scales, zero_points, bias, group_size, symmetric, weight_only, act_per_group)


def _scales_2d(values, name, out):
    """float32 [out][groups]; a 1-D array of out values is one group per row."""
    a = _np.asarray(values)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be real numbers, got {a.dtype}")
    if a.ndim == 1 and out is not None and a.size == out:
        a = a.reshape(out, 1)
    return _np.asarray(a, dtype=_np.float32, order="C")


def _zero_points_2d(values, out):
    """int8 [out][groups] of integers (the library refuses any outside [0, 15])."""
    a = _np.asarray(values)
    if a.dtype.kind not in "iu":
        raise TypeError(f"zero_points must be integers, got {a.dtype}")
    if a.size and (a.min() < -128 or a.max() > 127):
        raise ValueError("zero_points must be in [0, 15]")
    if a.ndim == 1 and out is not None and a.size == out:
        a = a.reshape(out, 1)
    return _np.asarray(a, dtype=_np.int8, order="C")


def _group_size_of(q, scales):
    """The group size that scales' columns imply: 0 (per channel) for one column."""
    if getattr(q, "ndim", 0) != 2 or scales.ndim != 2 or scales.shape[1] < 1:
        return 0  # the binding refuses the shapes with its own message
    ng, k = scales.shape[1], q.shape[1]
    if ng == 1:
        return 0
    if k % ng:
        raise ValueError(f"scales has {ng} columns, which do not divide in_features = {k}")
    return k // ng
