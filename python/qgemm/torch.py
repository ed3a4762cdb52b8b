"""qgemm's layers as torch.nn.Modules, and quantize_dynamic.

    import torch, qgemm.torch
    model = qgemm.torch.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

- DynamicLinear: torch.ao.nn.quantized.dynamic.Linear (float32 X -> float32 Y).
- StaticLinear: torch.ao.nn.quantized.Linear (quint8 X -> quint8 Y, fbgemm's arithmetic).
- WeightOnlyLinear: W8A32 / W8A16 (float32, bfloat16 or float16 X; Y in X's dtype).
- Int4Linear: int4 weights per group, W4A8 or weight-only W4A32 / W4A16 (float32, bfloat16 or
  float16 X; Y in X's dtype).

Each module keeps its int8 (int4) weights, scales, zero points and bias as buffers (so state_dict,
load_state_dict, copy.deepcopy, pickle and torch.save work) and packs them again on load. CPU
tensors only; no autograd; torch.jit.script is not supported (no custom op is registered).
`num_threads` (None: torch.get_num_threads()) is the thread count of each call.
"""
import copy as _copy

import torch
from torch import nn

from . import _qgemm

__all__ = ["DynamicLinear", "StaticLinear", "WeightOnlyLinear", "Int4Linear", "quantize_dynamic",
           "default_reduce_range"]


def default_reduce_range():
    """The X range torch's dynamic Linear uses on the current engine: 7 bits (True) on fbgemm and
    onednn, 8 bits (False) on qnnpack, which ignores reduce_range."""
    return torch.backends.quantized.engine != "qnnpack"


def _rows(x, in_features, dtypes, name):
    """x as M rows of in_features (a view when it can be), with its row stride in elements."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: input must be a torch.Tensor, got {type(x).__name__}")
    if x.device.type != "cpu":
        raise ValueError(f"{name}: qgemm runs on the CPU; the input is on {x.device} (move it with .cpu())")
    if x.dtype not in dtypes:
        raise TypeError(f"{name}: input dtype must be one of {', '.join(str(d) for d in dtypes)}, got {x.dtype}")
    if x.dim() < 1 or x.shape[-1] != in_features:
        raise ValueError(f"{name}: the input's last dimension must be in_features = {in_features}, "
                         f"got shape {tuple(x.shape)}")
    x2 = x.reshape(-1, in_features)
    m = x2.shape[0]
    if x2.stride(1) != 1 or (m > 1 and x2.stride(0) < in_features):
        x2 = x2.contiguous()
    return x2, m, (x2.stride(0) if m > 1 else in_features)


def _threads(n):
    return torch.get_num_threads() if n is None else int(n)


def _np(t, dtype):
    return t.detach().to("cpu", dtype).contiguous().numpy()


def _weight_parts(qweight):
    """(int8 [out][in], float32 scales, int32 zero points) of a torch qint8 weight, as they are."""
    if qweight.dtype != torch.qint8:
        raise ValueError(f"qgemm takes qint8 weights, got {qweight.dtype}")
    scheme = qweight.qscheme()
    if scheme in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        scales = torch.tensor([qweight.q_scale()], dtype=torch.float32)
        zps = torch.tensor([qweight.q_zero_point()], dtype=torch.int32)
    elif scheme in (torch.per_channel_affine, torch.per_channel_symmetric):
        if qweight.q_per_channel_axis() != 0:
            raise ValueError("per-channel weights must be quantized along axis 0 (output channels)")
        scales = qweight.q_per_channel_scales().to(torch.float32)
        zps = qweight.q_per_channel_zero_points().to(torch.int32)
    else:
        raise ValueError(f"unsupported weight qscheme {scheme}")
    return qweight.int_repr().contiguous(), scales.contiguous(), zps.contiguous()


def _float_bias(bias):
    return None if bias is None else bias.detach().to("cpu", torch.float32).contiguous().clone()


class _QgemmModule(nn.Module):
    # Buffers and the dtype each keeps: casts such as model.half() or model.double() leave them as
    # they are (they are quantization parameters, not activations).
    _buffer_dtypes = {}

    def _pack(self):
        raise NotImplementedError

    def _apply(self, fn):
        saved = {n: getattr(self, n) for n in self._buffer_dtypes}
        super()._apply(fn)
        for n, dt in self._buffer_dtypes.items():
            b = getattr(self, n)
            if b is not None and b.dtype != dt:
                setattr(self, n, saved[n].to(b.device))
        self._pack()
        return self

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # Per-tensor and per-channel parameters differ in length: take the saved ones' shape.
        for n in ("weight_scale", "weight_zero_point"):
            t = state_dict.get(prefix + n)
            cur = getattr(self, n, None)
            if n in self._buffer_dtypes and t is not None and (cur is None or cur.shape != t.shape):
                setattr(self, n, torch.empty(t.shape, dtype=self._buffer_dtypes[n]))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        self._pack()

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_layer", None)  # the packed C++ object: rebuilt from the buffers
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._pack()


class DynamicLinear(_QgemmModule):
    """torch.ao.nn.quantized.dynamic.Linear on qgemm: float32 X of any leading shape is quantized
    to uint8 per call (7-bit with reduce_range), int8 weights, float32 Y."""

    _buffer_dtypes = {"weight_q": torch.int8, "weight_scale": torch.float32, "weight_zero_point": torch.int32,
                      "bias": torch.float32}

    def __init__(self, in_features, out_features, bias=True, *, per_channel=False, reduce_range=True,
                 num_threads=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.reduce_range = bool(reduce_range)
        self.num_threads = num_threads
        nc = self.out_features if per_channel else 1
        self.register_buffer("weight_q", torch.zeros(self.out_features, self.in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(nc, dtype=torch.float32))
        self.register_buffer("weight_zero_point", torch.zeros(nc, dtype=torch.int32))
        self.register_buffer("bias", torch.zeros(self.out_features) if bias else None)
        self._pack()

    def _pack(self):
        self._layer = _qgemm.DynamicLinear.from_quantized(
            _np(self.weight_q, torch.int8), _np(self.weight_scale, torch.float32).reshape(-1),
            _np(self.weight_zero_point, torch.int32).reshape(-1),
            None if self.bias is None else _np(self.bias, torch.float32), self.reduce_range)

    def set_weight_bias(self, qweight, bias):
        """A torch qint8 weight (per tensor or per channel along axis 0) as it is, and a float bias."""
        w, s, z = _weight_parts(qweight)
        if tuple(w.shape) != (self.out_features, self.in_features):
            raise ValueError(f"weight shape {tuple(w.shape)} != ({self.out_features}, {self.in_features})")
        self.weight_q, self.weight_scale, self.weight_zero_point = w.clone(), s.clone(), z.clone()
        self.bias = _float_bias(bias)
        self._pack()

    def forward(self, x):
        n = self.out_features
        nt = torch.get_num_threads() if self.num_threads is None else self.num_threads
        # Fast path (the per-call cost at M = 1 is mostly here): a 2-D float32 CPU tensor with
        # unit column stride is used as it is.
        if (type(x) is torch.Tensor and x.is_cpu and x.dtype is torch.float32 and x.dim() == 2
                and x.shape[1] == self.in_features and x.stride(1) == 1 and x.stride(0) >= self.in_features):
            m = x.shape[0]
            y = torch.empty(m, n)
            self._layer.forward_ptr(m, x.data_ptr(), x.stride(0), y.data_ptr(), n, nt)
            return y
        x2, m, ldx = _rows(x, self.in_features, (torch.float32,), "qgemm DynamicLinear")
        y = torch.empty(m, n, dtype=torch.float32)
        self._layer.forward_ptr(m, x2.data_ptr(), ldx, y.data_ptr(), n, nt)
        return y.view(*x.shape[:-1], n)

    @classmethod
    def from_float(cls, mod, qconfig=None, *, per_channel=None, reduce_range=None, num_threads=None):
        """From an nn.Linear with torch's qconfig choices: the weight observer of `qconfig` (or
        mod.qconfig, or torch's default_dynamic_qconfig) quantizes the weights exactly as
        torch.ao.quantization.quantize_dynamic does; per_channel=True/False overrides it with
        torch's default per-channel / per-tensor weight observer. reduce_range=None follows the
        engine (default_reduce_range())."""
        from torch.ao.nn.quantized.modules.utils import _quantize_weight
        from torch.ao.quantization import qconfig as _qc
        from torch.ao.quantization.observer import default_per_channel_weight_observer, default_weight_observer

        if not isinstance(mod, nn.Linear):
            raise TypeError(f"from_float takes an nn.Linear, got {type(mod).__name__}")
        if per_channel is not None:
            observer = (default_per_channel_weight_observer if per_channel else default_weight_observer)()
        else:
            qconfig = qconfig or getattr(mod, "qconfig", None) or _qc.default_dynamic_qconfig
            observer = qconfig.weight() if qconfig.weight is not None else _qc.default_dynamic_qconfig.weight()
        if observer.dtype != torch.qint8:
            raise ValueError(f"qgemm's DynamicLinear takes qint8 weights; the qconfig asks for {observer.dtype}")
        observer(mod.weight)
        qweight = _quantize_weight(mod.weight.float(), observer)
        return cls._from_qweight(qweight, mod.bias, reduce_range, num_threads)

    @classmethod
    def from_quantized(cls, mod, reduce_range=None, *, num_threads=None):
        """From torch's dynamic quantized Linear (torch.ao.nn.quantized.dynamic.Linear), with its
        int8 weights, scales and zero points as they are (no requantization). reduce_range=None:
        what torch would run it with on the current engine (default_reduce_range())."""
        if not hasattr(mod, "_packed_params"):
            raise TypeError(f"from_quantized takes a torch quantized Linear, got {type(mod).__name__}")
        qweight, bias = mod._packed_params._weight_bias()
        return cls._from_qweight(qweight, bias, reduce_range, num_threads)

    @classmethod
    def _from_qweight(cls, qweight, bias, reduce_range, num_threads):
        rr = default_reduce_range() if reduce_range is None else bool(reduce_range)
        per_channel = qweight.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric)
        out_f, in_f = qweight.shape
        self = cls(in_f, out_f, bias is not None, per_channel=per_channel, reduce_range=rr, num_threads=num_threads)
        self.set_weight_bias(qweight, bias)
        return self

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"per_channel={self.weight_scale.numel() != 1}, reduce_range={self.reduce_range}")


class StaticLinear(_QgemmModule):
    """torch.ao.nn.quantized.Linear on qgemm: quint8 X (per-tensor, any leading shape) -> quint8 Y
    with the module's scale and zero_point, fbgemm's arithmetic (float bias / (sx * sw[j]) added
    to float(acc), float multiplier (sx * sw[j]) / sy, round half to even), bit-exact with fbgemm."""

    _buffer_dtypes = {"weight_q": torch.int8, "weight_scale": torch.float32, "weight_zero_point": torch.int32,
                      "bias": torch.float32}

    def __init__(self, in_features, out_features, bias=True, *, per_channel=False, scale=1.0, zero_point=0,
                 num_threads=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.scale, self.zero_point = float(scale), int(zero_point)
        self.num_threads = num_threads
        nc = self.out_features if per_channel else 1
        self.register_buffer("weight_q", torch.zeros(self.out_features, self.in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(nc, dtype=torch.float32))
        self.register_buffer("weight_zero_point", torch.zeros(nc, dtype=torch.int32))
        self.register_buffer("bias", torch.zeros(self.out_features) if bias else None)
        self._pack()

    def _pack(self):
        # One C++ layer per input (scale, zero point) seen, packed on first use.
        self._layer = {}

    def _layer_for(self, xs, xz):
        key = (xs, xz, self.scale, self.zero_point)
        layer = self._layer.get(key)
        if layer is None:
            if len(self._layer) >= 8:
                self._layer.clear()
            layer = _qgemm.StaticLinear.from_quantized(
                _np(self.weight_q, torch.int8), _np(self.weight_scale, torch.float32).reshape(-1),
                _np(self.weight_zero_point, torch.int32).reshape(-1),
                None if self.bias is None else _np(self.bias, torch.float32), xs, xz, self.scale, self.zero_point,
                0, 255)
            self._layer[key] = layer
        return layer

    def set_weight_bias(self, qweight, bias):
        w, s, z = _weight_parts(qweight)
        if tuple(w.shape) != (self.out_features, self.in_features):
            raise ValueError(f"weight shape {tuple(w.shape)} != ({self.out_features}, {self.in_features})")
        self.weight_q, self.weight_scale, self.weight_zero_point = w.clone(), s.clone(), z.clone()
        self.bias = _float_bias(bias)
        self._pack()

    def forward(self, x):
        if isinstance(x, torch.Tensor) and x.dtype != torch.quint8:
            raise TypeError(f"qgemm StaticLinear: input must be a quint8 quantized tensor, got {x.dtype}")
        if isinstance(x, torch.Tensor) and x.qscheme() != torch.per_tensor_affine:
            raise ValueError("qgemm StaticLinear: input must be quantized per tensor")
        x2, m, ldx = _rows(x, self.in_features, (torch.quint8,), "qgemm StaticLinear")
        layer = self._layer_for(float(x.q_scale()), int(x.q_zero_point()))
        y = torch.empty(m, self.out_features, dtype=torch.uint8)
        layer.forward_ptr(m, x2.data_ptr(), ldx, y.data_ptr(), self.out_features, _threads(self.num_threads))
        y = torch._make_per_tensor_quantized_tensor(y, self.scale, self.zero_point)
        return y.reshape(*x.shape[:-1], self.out_features)

    @classmethod
    def from_quantized(cls, mod, *, num_threads=None):
        """From torch's static quantized Linear (torch.ao.nn.quantized.Linear) as it is."""
        if not hasattr(mod, "_packed_params"):
            raise TypeError(f"from_quantized takes a torch quantized Linear, got {type(mod).__name__}")
        qweight, bias = mod._packed_params._weight_bias()
        per_channel = qweight.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric)
        out_f, in_f = qweight.shape
        self = cls(in_f, out_f, bias is not None, per_channel=per_channel, scale=mod.scale, zero_point=mod.zero_point,
                   num_threads=num_threads)
        self.set_weight_bias(qweight, bias)
        return self

    @classmethod
    def from_float(cls, mod, *, num_threads=None):
        """From an nn.Linear observed by torch.ao.quantization.prepare (its qconfig's weight observer
        and its activation_post_process give the output scale and zero point), as torch's
        nnq.Linear.from_float does."""
        from torch.ao.nn.quantized.modules.utils import _quantize_weight

        if not isinstance(mod, nn.Linear):
            raise TypeError(f"from_float takes an nn.Linear, got {type(mod).__name__}")
        if not hasattr(mod, "activation_post_process") or getattr(mod, "qconfig", None) is None:
            raise ValueError("from_float needs a module prepared and calibrated with torch.ao.quantization.prepare "
                             "(qconfig and activation_post_process)")
        observer = mod.qconfig.weight()
        observer(mod.weight)
        scale, zp = mod.activation_post_process.calculate_qparams()
        qweight = _quantize_weight(mod.weight.float(), observer)
        per_channel = qweight.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric)
        self = cls(mod.in_features, mod.out_features, mod.bias is not None, per_channel=per_channel,
                   scale=float(scale), zero_point=int(zp), num_threads=num_threads)
        self.set_weight_bias(qweight, mod.bias)
        return self

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, scale={self.scale}, "
                f"zero_point={self.zero_point}")


class WeightOnlyLinear(_QgemmModule):
    """W8A32 / W8A16: int8 weights with per-channel scales; float32, bfloat16 or float16 X; the
    sum in float32; Y in X's dtype. Runs on the calling thread."""

    _buffer_dtypes = {"weight_q": torch.int8, "weight_scale": torch.float32, "bias": torch.float32}
    _act = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2}

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.register_buffer("weight_q", torch.zeros(self.out_features, self.in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(self.out_features, dtype=torch.float32))
        self.register_buffer("bias", torch.zeros(self.out_features) if bias else None)
        self._pack()

    def _pack(self):
        self._layer = _qgemm.WeightOnlyLinear.from_quantized(
            _np(self.weight_q, torch.int8), _np(self.weight_scale, torch.float32).reshape(-1),
            None if self.bias is None else _np(self.bias, torch.float32))

    def forward(self, x):
        x2, m, ldx = _rows(x, self.in_features, tuple(self._act), "qgemm WeightOnlyLinear")
        y = torch.empty(m, self.out_features, dtype=torch.float32)
        self._layer.forward_ptr(m, self._act[x.dtype], x2.data_ptr(), ldx, y.data_ptr(), self.out_features)
        y = y.view(*x.shape[:-1], self.out_features)
        return y if x.dtype == torch.float32 else y.to(x.dtype)

    @classmethod
    def from_float(cls, mod):
        """Per-channel symmetric int8 weights (torch's PerChannelMinMaxObserver, qint8,
        per_channel_symmetric)."""
        from torch.ao.nn.quantized.modules.utils import _quantize_weight
        from torch.ao.quantization.observer import default_per_channel_weight_observer

        if not isinstance(mod, nn.Linear):
            raise TypeError(f"from_float takes an nn.Linear, got {type(mod).__name__}")
        observer = default_per_channel_weight_observer()
        observer(mod.weight)
        return cls._from_qweight(_quantize_weight(mod.weight.float(), observer), mod.bias)

    @classmethod
    def from_quantized(cls, mod):
        """From a torch quantized Linear whose weight zero points are all 0 (symmetric)."""
        if not hasattr(mod, "_packed_params"):
            raise TypeError(f"from_quantized takes a torch quantized Linear, got {type(mod).__name__}")
        return cls._from_qweight(*mod._packed_params._weight_bias())

    @classmethod
    def _from_qweight(cls, qweight, bias):
        w, s, z = _weight_parts(qweight)
        if bool((z != 0).any()):
            raise ValueError("WeightOnlyLinear takes symmetric weights (zero points 0)")
        out_f, in_f = w.shape
        self = cls(in_f, out_f, bias is not None)
        self.weight_q = w.clone()
        self.weight_scale = s.expand(out_f).contiguous().clone()
        self.bias = _float_bias(bias)
        self._pack()
        return self

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


class Int4Linear(_QgemmModule):
    """int4 weights per group (qgemm.Int4Linear, docs/int4.md): W4A8 (X quantized to uint8 per
    row, or per row and group, on every call; the same bits on every ISA and thread count) or
    weight-only W4A32 / W4A16. float32, bfloat16 or float16 X of any leading shape; Y in X's
    dtype (computed in float32). Buffers: weight_q int8 [out][in] (q in [-8, 7], or [0, 15] with
    zero points), weight_scale float32 [out][groups], weight_zero_point int8 [out][groups] (None
    when symmetric), bias float32."""

    _buffer_dtypes = {"weight_q": torch.int8, "weight_scale": torch.float32, "weight_zero_point": torch.int8,
                      "bias": torch.float32}
    _act = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2}

    def __init__(self, in_features, out_features, bias=True, *, group_size=128, symmetric=True, weight_only=False,
                 act_per_group=True, num_threads=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.group_size, self.symmetric = int(group_size), bool(symmetric)
        self.weight_only, self.act_per_group = bool(weight_only), bool(act_per_group)
        self.num_threads = num_threads
        g = self.group_size if self.group_size > 0 else max(self.in_features, 1)
        ng = max(self.in_features // g, 1)
        self.register_buffer("weight_q", torch.zeros(self.out_features, self.in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(self.out_features, ng, dtype=torch.float32))
        self.register_buffer("weight_zero_point",
                             None if self.symmetric else torch.zeros(self.out_features, ng, dtype=torch.int8))
        self.register_buffer("bias", torch.zeros(self.out_features) if bias else None)
        self._pack()

    def _pack(self):
        self._layer = _qgemm.Int4Linear.from_quantized(
            _np(self.weight_q, torch.int8), _np(self.weight_scale, torch.float32),
            None if self.symmetric else _np(self.weight_zero_point, torch.int8),
            None if self.bias is None else _np(self.bias, torch.float32), self.group_size, self.symmetric,
            self.weight_only, self.act_per_group)

    def forward(self, x):
        x2, m, ldx = _rows(x, self.in_features, tuple(self._act), "qgemm Int4Linear")
        n = self.out_features
        y = torch.empty(m, n, dtype=torch.float32)
        self._layer.forward_ptr(m, self._act[x.dtype], x2.data_ptr(), ldx, y.data_ptr(), n, _threads(self.num_threads))
        y = y.view(*x.shape[:-1], n)
        return y if x.dtype == torch.float32 else y.to(x.dtype)

    @classmethod
    def from_float(cls, mod, group_size=128, symmetric=True, weight_only=False, act_per_group=True, *,
                   num_threads=None):
        """From an nn.Linear: its weights quantized by qgemm (round-to-nearest per row and group,
        qgemm.Int4Linear; symmetric: ggml q4_0's rule)."""
        if not isinstance(mod, nn.Linear):
            raise TypeError(f"from_float takes an nn.Linear, got {type(mod).__name__}")
        bias = None if mod.bias is None else _np(mod.bias, torch.float32)
        layer = _qgemm.Int4Linear.from_float(_np(mod.weight, torch.float32), bias, int(group_size), bool(symmetric),
                                             bool(weight_only), bool(act_per_group))
        q, s, z = layer.export()
        self = cls(mod.in_features, mod.out_features, mod.bias is not None, group_size=group_size,
                   symmetric=symmetric, weight_only=weight_only, act_per_group=act_per_group,
                   num_threads=num_threads)
        self.weight_q, self.weight_scale = torch.from_numpy(q), torch.from_numpy(s)
        self.weight_zero_point = None if z is None else torch.from_numpy(z)
        self.bias = _float_bias(mod.bias)
        self._layer = layer
        return self

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, group_size={self.group_size}, "
                f"symmetric={self.symmetric}, weight_only={self.weight_only}, act_per_group={self.act_per_group}")


def quantize_dynamic(model, qconfig_spec=None, dtype=torch.qint8, mapping=None, inplace=False):
    """torch.ao.quantization.quantize_dynamic with qgemm's modules: every nn.Linear the spec names
    becomes qgemm.torch.DynamicLinear (weights quantized by the qconfig's weight observer, as
    torch does). qconfig_spec: None (every nn.Linear), a set of types, or a dict from types or
    submodule names to qconfigs (None: leave it float); a name's qconfig applies to its children.
    mapping: {float type: qgemm module class}. Returns the model (a deep copy unless inplace)."""
    from torch.ao.quantization import qconfig as _qc

    if dtype != torch.qint8:
        raise ValueError(f"qgemm quantizes to torch.qint8 only, got {dtype}")
    mapping = {nn.Linear: DynamicLinear} if mapping is None else dict(mapping)
    default = _qc.default_dynamic_qconfig
    if qconfig_spec is None:
        qconfig_spec = {t: default for t in mapping}
    elif isinstance(qconfig_spec, (set, frozenset, list, tuple)):
        unknown = [t for t in qconfig_spec if t not in mapping]
        if unknown:
            raise ValueError(f"qgemm has no dynamic module for {unknown}; it quantizes {list(mapping)}")
        qconfig_spec = {t: default for t in qconfig_spec}
    elif not isinstance(qconfig_spec, dict):
        raise TypeError("qconfig_spec must be None, a set of module types or a dict")
    if not inplace:
        model = _copy.deepcopy(model)
    model.eval()

    def qconfig_for(name, mod, inherited):
        if name in qconfig_spec:
            return qconfig_spec[name]
        if type(mod) in qconfig_spec:
            return qconfig_spec[type(mod)]
        return inherited

    def convert(mod, qconfig):
        if type(mod) in mapping and qconfig is not None:
            return mapping[type(mod)].from_float(mod, qconfig)
        return mod

    def swap(module, prefix, inherited):
        for name, child in list(module.named_children()):
            full = prefix + name
            qc = qconfig_for(full, child, inherited)
            new = convert(child, qc)
            if new is not child:
                setattr(module, name, new)
            else:
                swap(child, full + ".", qc)

    root_qc = qconfig_for("", model, None)
    new_root = convert(model, root_qc)
    if new_root is not model:
        return new_root
    swap(model, "", root_qc)
    return model
