// qgemm._qgemm: the pybind11 binding of the C++ API (qgemm.hpp, quantize.hpp, linear.hpp).
// This layer takes numpy arrays of the exact element type (the Python package qgemm/__init__.py
// turns friendlier arguments into them) plus raw-pointer entry points for qgemm.torch, whose
// per-call cost must stay a few microseconds. Every Status other than ok becomes qgemm.Error
// (a ValueError) with the library's message; a wrong element type is a TypeError. Outputs are
// new arrays, or a caller's array that the library leaves untouched on error.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "qgemm/linear.hpp"
#include "qgemm/qgemm.hpp"
#include "qgemm/quantize.hpp"

namespace py = pybind11;
using namespace qgemm;

namespace {

struct Error : std::exception {
  std::string msg;
  explicit Error(std::string m) : msg(std::move(m)) {}
  const char* what() const noexcept override { return msg.c_str(); }
};

[[noreturn]] void raise_status(Status s) {
  if (s == Status::out_of_memory) throw std::bad_alloc();
  std::string m = last_error_message();
  throw Error(std::string(status_name(s)) + ": " + (m.empty() ? std::string(status_name(s)) : m));
}
inline void check(Status s) {
  if (s != Status::ok) raise_status(s);
}

bool same_dtype(const py::dtype& a, const py::dtype& b) {
  return py::detail::npy_api::get().PyArray_EquivTypes_(a.ptr(), b.ptr());
}

template <typename T>
const char* type_name();
template <> const char* type_name<int8_t>() { return "int8"; }
template <> const char* type_name<uint8_t>() { return "uint8"; }
template <> const char* type_name<int32_t>() { return "int32"; }
template <> const char* type_name<float>() { return "float32"; }
template <> const char* type_name<uint16_t>() { return "uint16"; }

// The array `h` as a C-contiguous array of exactly T (copied only when not contiguous);
// TypeError for anything else.
template <typename T>
py::array_t<T, py::array::c_style> exact(py::handle h, const char* what) {
  if (!py::isinstance<py::array>(h))
    throw py::type_error(std::string(what) + " must be a numpy array of " + type_name<T>() + ", got " +
                         std::string(py::str(h.get_type().attr("__name__"))));
  auto a = py::reinterpret_borrow<py::array>(h);
  if (!same_dtype(a.dtype(), py::dtype::of<T>()))
    throw py::type_error(std::string(what) + " must have dtype " + type_name<T>() + ", got " +
                         std::string(py::str(a.dtype())));
  return py::array_t<T, py::array::c_style>::ensure(a);
}

void need_ndim(const py::array& a, py::ssize_t nd, const char* what) {
  if (a.ndim() != nd)
    throw py::value_error(std::string(what) + " must have " + std::to_string(nd) + " dimensions, got " +
                          std::to_string(a.ndim()));
}

// One value or n of them (per column / per channel): the count, -1 for "one".
py::ssize_t count_or_fail(const py::array& a, py::ssize_t n, const char* what) {
  if (a.size() == 1 && a.ndim() <= 1) return -1;
  if (a.ndim() == 1 && a.size() == n) return n;
  throw py::value_error(std::string(what) + " must hold 1 or " + std::to_string(n) + " values, got " +
                        std::to_string(a.size()));
}

Isa isa_arg(const std::string& name) {
  Isa isa;
  check(isa_from_name(name.c_str(), &isa));
  return isa;
}

GemmOptions threads(int32_t n) {
  GemmOptions o;
  o.num_threads = n;
  return o;
}

// Owner of a PackedWeights (an incomplete type in the public header).
struct Packed {
  PackedWeights* p = nullptr;
  Packed() = default;
  Packed(const Packed&) = delete;
  Packed& operator=(const Packed&) = delete;
  ~Packed() { destroy_packed_weights(p); }
};

// Output stage with the arrays its pointers point into kept alive.
struct Stage {
  OutputStage st;
  std::vector<py::object> keep;
  py::ssize_t ncols = -1;  // per-column parameters' length (-1: per tensor)
  py::ssize_t nbias = -1;  // bias length (-1: none)
};

template <typename T>
const T* keep_array(Stage& s, py::handle h, const char* what) {
  auto a = exact<T>(h, what);
  s.keep.push_back(a);
  return a.data();
}

// Length of the bias just kept (a 1-D array).
py::ssize_t bias_length(const Stage& s) {
  auto a = py::reinterpret_borrow<py::array>(s.keep.back());
  if (a.ndim() != 1) throw py::value_error("bias must be a 1-D array of N values");
  return a.size();
}

int32_t act_type_of(const py::array& x) {
  if (same_dtype(x.dtype(), py::dtype::of<float>())) return static_cast<int32_t>(ActType::f32);
  if (same_dtype(x.dtype(), py::dtype("float16"))) return static_cast<int32_t>(ActType::f16);
  if (same_dtype(x.dtype(), py::dtype::of<uint16_t>())) return static_cast<int32_t>(ActType::bf16);
  throw py::type_error("x must have dtype float32, float16 or uint16 (bfloat16 bit patterns), got " +
                       std::string(py::str(x.dtype())));
}

template <typename T>
py::array_t<T> copy_of(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(T));
  return a;
}

// Big calls drop the GIL; small ones keep it (releasing costs more than they take).
bool big(int64_t M, int64_t K, int64_t N) { return M * K * N >= (int64_t{1} << 18); }

// ---------------------------------------------------------------------------------------
std::unique_ptr<DynamicLinear> dynamic_from_float(py::handle w, py::object bias, bool per_channel, bool reduce_range) {
  auto wa = exact<float>(w, "weight");
  need_ndim(wa, 2, "weight");
  py::array_t<float, py::array::c_style> ba;
  if (!bias.is_none()) {
    ba = exact<float>(bias, "bias");
    if (ba.ndim() != 1 || ba.size() != wa.shape(0)) throw py::value_error("bias must hold out_features values");
  }
  auto l = std::make_unique<DynamicLinear>();
  check(l->init(wa.data(), wa.shape(0), wa.shape(1), bias.is_none() ? nullptr : ba.data(), {per_channel, reduce_range}));
  return l;
}

std::unique_ptr<DynamicLinear> dynamic_from_quantized(py::handle wq, py::handle scales, py::object zero_points,
                                                      py::object bias, bool reduce_range) {
  auto w = exact<int8_t>(wq, "weight_q");
  need_ndim(w, 2, "weight_q");
  const py::ssize_t out = w.shape(0), in = w.shape(1);
  auto s = exact<float>(scales, "scales");
  const bool per_channel = count_or_fail(s, out, "scales") >= 0;
  py::array_t<int32_t, py::array::c_style> z;
  if (!zero_points.is_none()) {
    z = exact<int32_t>(zero_points, "zero_points");
    if (z.size() != s.size()) throw py::value_error("zero_points must hold as many values as scales");
  }
  py::array_t<float, py::array::c_style> b;
  if (!bias.is_none()) {
    b = exact<float>(bias, "bias");
    if (b.ndim() != 1 || b.size() != out) throw py::value_error("bias must hold out_features values");
  }
  auto l = std::make_unique<DynamicLinear>();
  check(l->init_quantized(w.data(), out, in, s.data(), zero_points.is_none() ? nullptr : z.data(),
                          bias.is_none() ? nullptr : b.data(), {per_channel, reduce_range}));
  return l;
}

std::unique_ptr<StaticLinear> static_from_quantized(py::handle wq, py::handle scales, py::object zero_points,
                                                    py::object bias, float x_scale, int32_t x_zp, float y_scale,
                                                    int32_t y_zp, int32_t lo, int32_t hi) {
  auto w = exact<int8_t>(wq, "weight_q");
  need_ndim(w, 2, "weight_q");
  const py::ssize_t out = w.shape(0), in = w.shape(1);
  auto s = exact<float>(scales, "scales");
  const bool per_channel = count_or_fail(s, out, "scales") >= 0;
  py::array_t<int32_t, py::array::c_style> z;
  if (!zero_points.is_none()) {
    z = exact<int32_t>(zero_points, "zero_points");
    if (z.size() != s.size()) throw py::value_error("zero_points must hold as many values as scales");
  }
  const int32_t* bs = nullptr;
  const float* bf = nullptr;
  py::array b;
  if (!bias.is_none()) {
    if (!py::isinstance<py::array>(bias)) throw py::type_error("bias must be a numpy array of int32 or float32");
    auto ba = py::reinterpret_borrow<py::array>(bias);
    if (same_dtype(ba.dtype(), py::dtype::of<int32_t>())) {
      auto t = exact<int32_t>(bias, "bias");
      bs = t.data();
      b = t;
    } else {
      auto t = exact<float>(bias, "bias (int32 or float32)");
      bf = t.data();
      b = t;
    }
    if (b.ndim() != 1 || b.size() != out) throw py::value_error("bias must hold out_features values");
  }
  auto l = std::make_unique<StaticLinear>();
  check(l->init(w.data(), out, in, s.data(), zero_points.is_none() ? nullptr : z.data(), per_channel, bs, bf,
                {x_scale, x_zp}, {y_scale, y_zp}, lo, hi));
  return l;
}

std::unique_ptr<WeightOnlyLinear> wo_from_float(py::handle w, py::object bias) {
  auto wa = exact<float>(w, "weight");
  need_ndim(wa, 2, "weight");
  py::array_t<float, py::array::c_style> ba;
  if (!bias.is_none()) {
    ba = exact<float>(bias, "bias");
    if (ba.ndim() != 1 || ba.size() != wa.shape(0)) throw py::value_error("bias must hold out_features values");
  }
  auto l = std::make_unique<WeightOnlyLinear>();
  check(l->init(wa.data(), wa.shape(0), wa.shape(1), bias.is_none() ? nullptr : ba.data()));
  return l;
}

std::unique_ptr<WeightOnlyLinear> wo_from_quantized(py::handle wq, py::handle scales, py::object bias) {
  auto w = exact<int8_t>(wq, "weight_q");
  need_ndim(w, 2, "weight_q");
  auto s = exact<float>(scales, "scales");
  if (s.ndim() != 1 || s.size() != w.shape(0))
    throw py::value_error("scales must hold out_features values (per channel)");
  py::array_t<float, py::array::c_style> b;
  if (!bias.is_none()) {
    b = exact<float>(bias, "bias");
    if (b.ndim() != 1 || b.size() != w.shape(0)) throw py::value_error("bias must hold out_features values");
  }
  auto l = std::make_unique<WeightOnlyLinear>();
  check(l->init_quantized(w.data(), s.data(), w.shape(0), w.shape(1), bias.is_none() ? nullptr : b.data()));
  return l;
}

// Int4Linear's options from the binding's arguments.
Int4LinearOptions int4_options(int32_t group_size, bool symmetric, bool weight_only, bool act_per_group) {
  Int4LinearOptions o;
  o.group_size = group_size;
  o.symmetric = symmetric;
  o.weight_only = weight_only;
  o.act_per_group = act_per_group;
  return o;
}

std::unique_ptr<Int4Linear> int4_from_float(py::handle w, py::object bias, const Int4LinearOptions& opt) {
  auto wa = exact<float>(w, "weight");
  need_ndim(wa, 2, "weight");
  py::array_t<float, py::array::c_style> ba;
  if (!bias.is_none()) {
    ba = exact<float>(bias, "bias");
    if (ba.ndim() != 1 || ba.size() != wa.shape(0)) throw py::value_error("bias must hold out_features values");
  }
  auto l = std::make_unique<Int4Linear>();
  const float* wp = wa.data();
  const float* bp = bias.is_none() ? nullptr : ba.data();
  const int64_t out = wa.shape(0), in = wa.shape(1);
  if (out * in >= (int64_t{1} << 20)) {
    py::gil_scoped_release nogil;
    check(l->init(wp, out, in, bp, opt));
  } else {
    check(l->init(wp, out, in, bp, opt));
  }
  return l;
}

// q [out][in] int8, scales [out][groups] float32, zero points [out][groups] int8 (asymmetric).
// The shapes are checked here only where the options give a geometry the library accepts; with
// any other the library refuses the options before it reads an array.
std::unique_ptr<Int4Linear> int4_from_quantized(py::handle q, py::handle scales, py::object zero_points,
                                                py::object bias, const Int4LinearOptions& opt) {
  auto qa = exact<int8_t>(q, "q");
  need_ndim(qa, 2, "q");
  const int64_t out = qa.shape(0), in = qa.shape(1);
  auto sa = exact<float>(scales, "scales");
  py::array_t<int8_t, py::array::c_style> za;
  if (!zero_points.is_none()) {
    if (opt.symmetric) throw py::value_error("zero_points given for symmetric weights (q in [-8, 7] has none)");
    za = exact<int8_t>(zero_points, "zero_points");
  }
  const int32_t gs = opt.group_size;
  const bool geometry = out >= 1 && in >= 1 &&
                        (gs == 0 || ((gs == 32 || gs == 64 || gs == 128 || gs == 256) && in % gs == 0));
  if (geometry) {
    const int64_t ng = gs == 0 ? 1 : in / gs;
    auto shape_is = [&](const py::array& a) { return a.ndim() == 2 && a.shape(0) == out && a.shape(1) == ng; };
    if (!shape_is(sa))
      throw py::value_error("scales must have shape (out_features, in_features / group_size) = (" +
                            std::to_string(out) + ", " + std::to_string(ng) + ")");
    if (!zero_points.is_none() && !shape_is(za))
      throw py::value_error("zero_points must have the shape of scales, (" + std::to_string(out) + ", " +
                            std::to_string(ng) + ")");
  }
  py::array_t<float, py::array::c_style> ba;
  if (!bias.is_none()) {
    ba = exact<float>(bias, "bias");
    if (ba.ndim() != 1 || ba.size() != out) throw py::value_error("bias must hold out_features values");
  }
  auto l = std::make_unique<Int4Linear>();
  check(l->init_quantized(qa.data(), sa.data(), zero_points.is_none() ? nullptr : za.data(), out, in,
                          bias.is_none() ? nullptr : ba.data(), opt));
  return l;
}

// x as rows of `in` values: [M][in] of any leading shape with the last dimension `in`.
template <typename T>
py::array_t<T, py::array::c_style> rows(py::handle x, int64_t in, const char* what, int64_t* M) {
  auto a = exact<T>(x, what);
  if (a.ndim() < 1 || a.shape(a.ndim() - 1) != in)
    throw py::value_error(std::string(what) + ": last dimension must be in_features = " + std::to_string(in));
  *M = in ? a.size() / in : 0;
  return a;
}

std::vector<py::ssize_t> out_shape(const py::array& x, int64_t out) {
  std::vector<py::ssize_t> s(x.shape(), x.shape() + x.ndim());
  s.back() = out;
  return s;
}

}  // namespace

PYBIND11_MODULE(_qgemm, m) {
  m.doc() = "qgemm's C++ API (low level; use the qgemm package)";
  py::register_exception<Error>(m, "Error", PyExc_ValueError);

  // ---- ISAs
  m.def("isa_names", [] {
    std::vector<std::string> v;
#define QGEMM_ISA(name, ...) v.push_back(#name);
#include "qgemm/isa_list.def"
#undef QGEMM_ISA
    return v;
  });
  m.def("isa_available", [](const std::string& n) { return isa_available(isa_arg(n)); });
  m.def("isa_unavailable_reason", [](const std::string& n) { return std::string(isa_unavailable_reason(isa_arg(n))); });
  m.def("active_isa", [] { return std::string(isa_name(active_isa())); });
  m.def("isa_status", [] { check(isa_status()); });
  m.def("set_isa", [](const std::string& n) { check(set_isa(isa_arg(n))); });
  m.def("reset_isa", [] { reset_isa(); });
  m.def("last_kernel_name", [] { return std::string(last_kernel_name()); });
  m.def("quant_isa", [] { return std::string(isa_name(quant_isa())); });
  m.def("set_quant_isa", [](const std::string& n) { check(set_quant_isa(isa_arg(n))); });
  m.def("reset_quant_isa", [] { reset_quant_isa(); });
  m.def("weight_only_kernel_name", [] { return std::string(weight_only_kernel_name()); });
  m.def("int4_kernel_name", [] { return std::string(int4_kernel_name()); });
  m.def("built_with_openmp", [] { return built_with_openmp(); });

  // ---- packed weights and gemm
  py::class_<Packed>(m, "PackedWeights")
      .def(py::init([](py::handle b, int32_t layout, py::object zb) {
             // int8 weights, or uint8 ones (zero points in [0, 255]): the sign combination
             // follows the array's dtype.
             const bool u8 = py::isinstance<py::array>(b) &&
                             same_dtype(py::reinterpret_borrow<py::array>(b).dtype(), py::dtype::of<uint8_t>());
             auto a = u8 ? py::array_t<int8_t, py::array::c_style>() : exact<int8_t>(b, "b");
             auto au = u8 ? exact<uint8_t>(b, "b") : py::array_t<uint8_t, py::array::c_style>();
             const py::array& ab = u8 ? static_cast<const py::array&>(au) : static_cast<const py::array&>(a);
             need_ndim(ab, 2, "b");
             if (layout != 0 && layout != 1) throw py::value_error("layout must be 'kn' or 'nk'");
             const int64_t K = layout == 0 ? ab.shape(0) : ab.shape(1), N = layout == 0 ? ab.shape(1) : ab.shape(0);
             py::array_t<int32_t, py::array::c_style> z;
             bool per_col = false;
             if (!zb.is_none()) {
               z = exact<int32_t>(zb, "zero_points");
               per_col = count_or_fail(z, N, "zero_points") >= 0;
             }
             auto p = std::make_unique<Packed>();
             if (u8)
               check(pack_weights(au.data(), static_cast<WeightLayout>(layout), K, N, layout == 0 ? N : K,
                                  zb.is_none() ? nullptr : z.data(), per_col, &p->p));
             else
               check(pack_weights(a.data(), static_cast<WeightLayout>(layout), K, N, layout == 0 ? N : K,
                                  zb.is_none() ? nullptr : z.data(), per_col, &p->p));
             return p;
           }),
           py::arg("b"), py::arg("layout"), py::arg("zero_points") = py::none())
      .def_property_readonly("k", [](const Packed& w) { return packed_weights_k(w.p); })
      .def_property_readonly("n", [](const Packed& w) { return packed_weights_n(w.p); })
      .def_property_readonly("isa", [](const Packed& w) { return std::string(isa_name(packed_weights_isa(w.p))); })
      .def_property_readonly("nbytes", [](const Packed& w) { return packed_weights_size(w.p); });

  py::class_<Stage>(m, "OutputStage")
      .def_property_readonly("out_dtype", [](const Stage& s) {
        switch (s.st.type) {
          case OutputType::u8: return "uint8";
          case OutputType::s8: return "int8";
          case OutputType::f32: return "float32";
          default: return "int32";
        }
      });
  m.def("output_s32", [](py::object bias) {
    Stage s;
    s.st = output_s32();
    if (!bias.is_none()) s.st.bias_s32 = keep_array<int32_t>(s, bias, "bias"), s.nbias = bias_length(s);
    return s;
  });
  m.def("output_fixed_point", [](int32_t type, py::handle mult, py::handle shift, int32_t zp, py::object bias,
                                 int32_t rounding, int32_t lo, int32_t hi) {
    Stage s;
    auto ma = exact<int32_t>(mult, "multiplier"), sa = exact<int32_t>(shift, "shift");
    if (ma.size() != sa.size() || ma.ndim() != sa.ndim())
      throw py::value_error("multiplier and shift must have the same length");
    const bool per_col = ma.ndim() == 1;
    s.keep = {ma, sa};
    s.st = output_fixed_point(static_cast<OutputType>(type), ma.data(), sa.data(), per_col, zp, nullptr,
                              static_cast<Rounding>(rounding));
    if (per_col) s.ncols = ma.size();
    if (!bias.is_none()) s.st.bias_s32 = keep_array<int32_t>(s, bias, "bias"), s.nbias = bias_length(s);
    s.st.clamp_lo = lo;
    s.st.clamp_hi = hi;
    return s;
  });
  m.def("output_float_multiplier", [](int32_t type, float sa, py::handle sb, float so, int32_t zp, py::object bias,
                                      int32_t lo, int32_t hi) {
    Stage s;
    auto b = exact<float>(sb, "weight_scale");
    const bool per_col = b.ndim() == 1;
    s.keep = {b};
    s.st = output_float_multiplier(static_cast<OutputType>(type), sa, b.data(), per_col, so, zp);
    if (per_col) s.ncols = b.size();
    if (!bias.is_none()) {
      if (py::isinstance<py::array>(bias) &&
          same_dtype(py::reinterpret_borrow<py::array>(bias).dtype(), py::dtype::of<int32_t>()))
        s.st.bias_s32 = keep_array<int32_t>(s, bias, "bias");
      else
        s.st.bias_f32 = keep_array<float>(s, bias, "bias (int32 or float32)");
      s.nbias = bias_length(s);
    }
    s.st.clamp_lo = lo;
    s.st.clamp_hi = hi;
    return s;
  });
  m.def("output_f32", [](float sa, py::handle sb, py::object bias, float lo, float hi) {
    Stage s;
    auto b = exact<float>(sb, "weight_scale");
    const bool per_col = b.ndim() == 1;
    s.keep = {b};
    s.st = output_f32(sa, b.data(), per_col);
    if (per_col) s.ncols = b.size();
    if (!bias.is_none()) s.st.bias_f32 = keep_array<float>(s, bias, "bias"), s.nbias = bias_length(s);
    s.st.clamp_lo_f32 = lo;
    s.st.clamp_hi_f32 = hi;
    return s;
  });
  // C = stage((A - za) * (B - zb)); c: the caller's [M][N] array of the stage's type.
  m.def("gemm", [](py::handle a, int32_t za, const Packed& pb, const Stage& s, py::handle c, int32_t nt) {
    const PackedWeights& b = *pb.p;
    // uint8 A (za in [0, 255]) or int8 A ([-128, 127]), by the array's dtype.
    const bool s8 = py::isinstance<py::array>(a) &&
                    same_dtype(py::reinterpret_borrow<py::array>(a).dtype(), py::dtype::of<int8_t>());
    auto as = s8 ? exact<int8_t>(a, "a") : py::array_t<int8_t, py::array::c_style>();
    auto aa = s8 ? py::array_t<uint8_t, py::array::c_style>() : exact<uint8_t>(a, "a");
    const py::array& av = s8 ? static_cast<const py::array&>(as) : static_cast<const py::array&>(aa);
    need_ndim(av, 2, "a");
    const int64_t M = av.shape(0), K = packed_weights_k(&b), N = packed_weights_n(&b);
    if (av.shape(1) != K) throw py::value_error("a has " + std::to_string(av.shape(1)) + " columns, the weights K = " + std::to_string(K));
    if (s.ncols >= 0 && s.ncols != N) throw py::value_error("per-column output parameters must hold N = " + std::to_string(N) + " values");
    if (s.nbias >= 0 && s.nbias != N) throw py::value_error("bias must hold N = " + std::to_string(N) + " values");
    auto ca = py::reinterpret_borrow<py::array>(c);
    if (!(ca.flags() & py::array::c_style) || !ca.writeable()) throw py::value_error("out must be a writeable C-contiguous array");
    if (ca.ndim() != 2 || ca.shape(0) != M || ca.shape(1) != N) throw py::value_error("out must have shape (M, N)");
    void* cp = ca.mutable_data();
    auto run = [&] {
      return s8 ? gemm(M, as.data(), K, za, &b, s.st, cp, N, threads(nt)) : gemm(M, aa.data(), K, za, &b, s.st, cp, N, threads(nt));
    };
    Status st;
    if (big(M, K, N)) {
      py::gil_scoped_release nogil;
      st = run();
    } else {
      st = run();
    }
    check(st);
  });

  // ---- quantization utilities
  m.def("quant_range", [](int32_t qtype, bool rr) {
    int32_t lo, hi;
    quant_range(static_cast<QType>(qtype), rr, &lo, &hi);
    return py::make_tuple(lo, hi);
  });
  m.def("choose_qparams", [](float mn, float mx, int32_t qtype, int32_t scheme, bool rr) {
    QParams p;
    check(choose_qparams(mn, mx, static_cast<QType>(qtype), static_cast<QScheme>(scheme), rr, &p));
    return py::make_tuple(p.scale, p.zero_point);
  });
  m.def("choose_qparams_dynamic", [](float mn, float mx, bool rr) {
    QParams p;
    check(choose_qparams_dynamic(mn, mx, rr, &p));
    return py::make_tuple(p.scale, p.zero_point);
  });
  m.def("min_max", [](py::handle x) {
    auto a = exact<float>(x, "x");
    float mn, mx;
    check(min_max(a.data(), a.size(), &mn, &mx));
    return py::make_tuple(mn, mx);
  });
  m.def("choose_qparams_tensor", [](py::handle x, int32_t qtype, int32_t scheme, bool rr) {
    auto a = exact<float>(x, "x");
    QParams p;
    check(choose_qparams_tensor(a.data(), a.size(), static_cast<QType>(qtype), static_cast<QScheme>(scheme), rr, &p));
    return py::make_tuple(p.scale, p.zero_point);
  });
  m.def("choose_qparams_per_channel", [](py::handle x, int axis, int32_t qtype, int32_t scheme, bool rr) {
    auto a = exact<float>(x, "x");
    if (a.ndim() < 1 || axis < 0 || axis >= a.ndim()) throw py::value_error("axis out of range");
    std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
    py::array_t<float> s(a.shape(axis));
    py::array_t<int32_t> z(a.shape(axis));
    check(choose_qparams_per_channel(a.data(), shape.data(), static_cast<int>(a.ndim()), axis, static_cast<QType>(qtype),
                                     static_cast<QScheme>(scheme), rr, s.mutable_data(), z.mutable_data()));
    return py::make_tuple(s, z);
  });
  m.def("quantize", [](py::handle x, float scale, int32_t zp, int32_t qtype) -> py::array {
    auto a = exact<float>(x, "x");
    std::vector<py::ssize_t> shape(a.shape(), a.shape() + a.ndim());
    if (qtype == static_cast<int32_t>(QType::u8)) {
      py::array_t<uint8_t> q(shape);
      check(quantize(a.data(), a.size(), QParams{scale, zp}, q.mutable_data()));
      return q;
    }
    py::array_t<int8_t> q(shape);
    check(quantize(a.data(), a.size(), QParams{scale, zp}, q.mutable_data()));
    return q;
  });
  m.def("dequantize", [](py::handle q, float scale, int32_t zp) {
    const bool u8 = py::isinstance<py::array>(q) &&
                    same_dtype(py::reinterpret_borrow<py::array>(q).dtype(), py::dtype::of<uint8_t>());
    py::array t = u8 ? py::array(exact<uint8_t>(q, "q")) : py::array(exact<int8_t>(q, "q (int8 or uint8)"));
    py::array_t<float> x(std::vector<py::ssize_t>(t.shape(), t.shape() + t.ndim()));
    if (u8)
      check(dequantize(static_cast<const uint8_t*>(t.data()), t.size(), QParams{scale, zp}, x.mutable_data()));
    else
      check(dequantize(static_cast<const int8_t*>(t.data()), t.size(), QParams{scale, zp}, x.mutable_data()));
    return x;
  });
  m.def("quantize_per_channel", [](py::handle x, py::handle scales, py::handle zps, int axis, int32_t qtype) -> py::array {
    auto a = exact<float>(x, "x");
    auto s = exact<float>(scales, "scales");
    auto z = exact<int32_t>(zps, "zero_points");
    if (a.ndim() < 1 || axis < 0 || axis >= a.ndim()) throw py::value_error("axis out of range");
    if (s.size() != a.shape(axis) || z.size() != a.shape(axis))
      throw py::value_error("scales and zero_points must hold x.shape[axis] values");
    std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
    std::vector<py::ssize_t> pshape(a.shape(), a.shape() + a.ndim());
    py::array q = qtype == static_cast<int32_t>(QType::u8) ? py::array(py::array_t<uint8_t>(pshape))
                                                            : py::array(py::array_t<int8_t>(pshape));
    check(quantize_per_channel(a.data(), shape.data(), static_cast<int>(a.ndim()), axis, s.data(), z.data(),
                               static_cast<QType>(qtype), q.mutable_data()));
    return q;
  });
  m.def("dequantize_per_channel", [](py::handle q, py::handle scales, py::handle zps, int axis) {
    const bool u8 = py::isinstance<py::array>(q) &&
                    same_dtype(py::reinterpret_borrow<py::array>(q).dtype(), py::dtype::of<uint8_t>());
    py::array t = u8 ? py::array(exact<uint8_t>(q, "q")) : py::array(exact<int8_t>(q, "q (int8 or uint8)"));
    auto s = exact<float>(scales, "scales");
    auto z = exact<int32_t>(zps, "zero_points");
    if (t.ndim() < 1 || axis < 0 || axis >= t.ndim()) throw py::value_error("axis out of range");
    if (s.size() != t.shape(axis) || z.size() != t.shape(axis))
      throw py::value_error("scales and zero_points must hold q.shape[axis] values");
    std::vector<int64_t> shape(t.shape(), t.shape() + t.ndim());
    std::vector<py::ssize_t> pshape(t.shape(), t.shape() + t.ndim());
    py::array_t<float> x(pshape);
    check(dequantize_per_channel(t.data(), u8 ? QType::u8 : QType::s8, shape.data(), static_cast<int>(t.ndim()), axis,
                                 s.data(), z.data(), x.mutable_data()));
    return x;
  });
  auto two = [](py::handle a, py::handle b, py::array_t<float, py::array::c_style>* aa,
                py::array_t<float, py::array::c_style>* bb) {
    *aa = exact<float>(a, "a");
    *bb = exact<float>(b, "b");
    if (aa->size() != bb->size()) throw py::value_error("a and b must hold as many values");
  };
  m.def("max_abs_error", [two](py::handle a, py::handle b) {
    py::array_t<float, py::array::c_style> x, y;
    two(a, b, &x, &y);
    double r;
    check(max_abs_error(x.data(), y.data(), x.size(), &r));
    return r;
  });
  m.def("mean_squared_error", [two](py::handle a, py::handle b) {
    py::array_t<float, py::array::c_style> x, y;
    two(a, b, &x, &y);
    double r;
    check(mean_squared_error(x.data(), y.data(), x.size(), &r));
    return r;
  });
  m.def("quantization_error", [](py::handle x, float scale, int32_t zp, int32_t qtype) {
    auto a = exact<float>(x, "x");
    double mx, mse;
    check(quantization_error(a.data(), a.size(), QParams{scale, zp}, static_cast<QType>(qtype), &mx, &mse));
    return py::make_tuple(mx, mse);
  });
  m.def("quantize_multiplier", [](double real) {
    int32_t mult, shift;
    check(quantize_multiplier(real, &mult, &shift));
    return py::make_tuple(mult, shift);
  });
  m.def("float_to_bf16", [](py::handle x) {
    auto a = exact<float>(x, "x");
    py::array_t<uint16_t> h(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
    for (py::ssize_t i = 0; i < a.size(); ++i) h.mutable_data()[i] = float_to_bf16(a.data()[i]);
    return h;
  });
  m.def("bf16_to_float", [](py::handle x) {
    auto a = exact<uint16_t>(x, "x");
    py::array_t<float> f(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
    for (py::ssize_t i = 0; i < a.size(); ++i) f.mutable_data()[i] = bf16_to_float(a.data()[i]);
    return f;
  });

  // ---- layers
  py::class_<DynamicLinear>(m, "DynamicLinear")
      .def_static("from_float", &dynamic_from_float, py::arg("weight"), py::arg("bias"), py::arg("per_channel"),
                  py::arg("reduce_range"))
      .def_static("from_quantized", &dynamic_from_quantized, py::arg("weight_q"), py::arg("scales"),
                  py::arg("zero_points"), py::arg("bias"), py::arg("reduce_range"))
      .def("forward", [](const DynamicLinear& l, py::handle x, int32_t nt) {
             int64_t M;
             auto a = rows<float>(x, l.in_features(), "x", &M);
             py::array_t<float> y(out_shape(a, l.out_features()));
             QParams p;
             float* yp = y.mutable_data();
             if (big(M, l.in_features(), l.out_features())) {
               py::gil_scoped_release nogil;
               check(l.forward(M, a.data(), l.in_features(), yp, l.out_features(), threads(nt), &p));
             } else {
               check(l.forward(M, a.data(), l.in_features(), yp, l.out_features(), threads(nt), &p));
             }
             return py::make_tuple(y, p.scale, p.zero_point);
           })
      // For qgemm.torch: pointers to M rows of float32 (ldx, ldy in elements), checked there.
      .def("forward_ptr", [](const DynamicLinear& l, int64_t M, uintptr_t x, int64_t ldx, uintptr_t y, int64_t ldy,
                             int32_t nt) {
        const auto* xp = reinterpret_cast<const float*>(x);
        auto* yp = reinterpret_cast<float*>(y);
        if (big(M, l.in_features(), l.out_features())) {
          py::gil_scoped_release nogil;
          check(l.forward(M, xp, ldx, yp, ldy, threads(nt)));
        } else {
          check(l.forward(M, xp, ldx, yp, ldy, threads(nt)));
        }
      })
      .def_property_readonly("in_features", &DynamicLinear::in_features)
      .def_property_readonly("out_features", &DynamicLinear::out_features)
      .def_property_readonly("per_channel", [](const DynamicLinear& l) { return l.options().per_channel; })
      .def_property_readonly("reduce_range", [](const DynamicLinear& l) { return l.options().reduce_range; })
      .def_property_readonly("weight_q", [](const DynamicLinear& l) {
        auto a = copy_of(l.weight_q());
        return a.reshape({l.out_features(), l.in_features()});
      })
      .def_property_readonly("weight_scales", [](const DynamicLinear& l) { return copy_of(l.weight_scales()); })
      .def_property_readonly("weight_zero_points", [](const DynamicLinear& l) { return copy_of(l.weight_zero_points()); })
      .def_property_readonly("bias", [](const DynamicLinear& l) -> py::object {
        if (l.bias().empty()) return py::none();
        return copy_of(l.bias());
      });

  py::class_<StaticLinear>(m, "StaticLinear")
      .def_static("from_quantized", &static_from_quantized, py::arg("weight_q"), py::arg("scales"),
                  py::arg("zero_points"), py::arg("bias"), py::arg("x_scale"), py::arg("x_zero_point"),
                  py::arg("y_scale"), py::arg("y_zero_point"), py::arg("clamp_lo"), py::arg("clamp_hi"))
      .def("forward", [](const StaticLinear& l, py::handle x, int32_t nt) {
        int64_t M;
        auto a = rows<uint8_t>(x, l.in_features(), "x", &M);
        py::array_t<uint8_t> y(out_shape(a, l.out_features()));
        uint8_t* yp = y.mutable_data();
        if (big(M, l.in_features(), l.out_features())) {
          py::gil_scoped_release nogil;
          check(l.forward(M, a.data(), l.in_features(), yp, l.out_features(), threads(nt)));
        } else {
          check(l.forward(M, a.data(), l.in_features(), yp, l.out_features(), threads(nt)));
        }
        return y;
      })
      .def("forward_ptr", [](const StaticLinear& l, int64_t M, uintptr_t x, int64_t ldx, uintptr_t y, int64_t ldy,
                             int32_t nt) {
        const auto* xp = reinterpret_cast<const uint8_t*>(x);
        auto* yp = reinterpret_cast<uint8_t*>(y);
        if (big(M, l.in_features(), l.out_features())) {
          py::gil_scoped_release nogil;
          check(l.forward(M, xp, ldx, yp, ldy, threads(nt)));
        } else {
          check(l.forward(M, xp, ldx, yp, ldy, threads(nt)));
        }
      })
      .def_property_readonly("in_features", &StaticLinear::in_features)
      .def_property_readonly("out_features", &StaticLinear::out_features)
      .def_property_readonly("per_channel", &StaticLinear::per_channel)
      .def_property_readonly("weight_q", [](const StaticLinear& l) {
        auto a = copy_of(l.weight_q());
        return a.reshape({l.out_features(), l.in_features()});
      })
      .def_property_readonly("weight_scales", [](const StaticLinear& l) { return copy_of(l.weight_scales()); })
      .def_property_readonly("weight_zero_points", [](const StaticLinear& l) { return copy_of(l.weight_zero_points()); })
      .def_property_readonly("bias", [](const StaticLinear& l) -> py::object {
        if (!l.bias_s32().empty()) return copy_of(l.bias_s32());
        if (!l.bias_f32().empty()) return copy_of(l.bias_f32());
        return py::none();
      })
      .def_property_readonly("x_params", [](const StaticLinear& l) { return py::make_tuple(l.x_params().scale, l.x_params().zero_point); })
      .def_property_readonly("y_params", [](const StaticLinear& l) { return py::make_tuple(l.y_params().scale, l.y_params().zero_point); })
      .def_property_readonly("clamp", [](const StaticLinear& l) { return py::make_tuple(l.clamp_lo(), l.clamp_hi()); });

  py::class_<WeightOnlyLinear>(m, "WeightOnlyLinear")
      .def_static("from_float", &wo_from_float, py::arg("weight"), py::arg("bias"))
      .def_static("from_quantized", &wo_from_quantized, py::arg("weight_q"), py::arg("scales"), py::arg("bias"))
      .def("forward", [](const WeightOnlyLinear& l, py::handle x) {
        if (!py::isinstance<py::array>(x)) throw py::type_error("x must be a numpy array");
        const int32_t t = act_type_of(py::reinterpret_borrow<py::array>(x));
        int64_t M;
        py::array a = t == 0 ? py::array(rows<float>(x, l.in_features(), "x", &M))
                             : py::array(rows<uint16_t>(t == 2 ? x.attr("view")("uint16") : x, l.in_features(), "x", &M));
        py::array_t<float> y(out_shape(a, l.out_features()));
        const void* xp = a.data();
        float* yp = y.mutable_data();
        if (big(M, l.in_features(), l.out_features())) {
          py::gil_scoped_release nogil;
          check(l.forward(M, static_cast<ActType>(t), xp, l.in_features(), yp, l.out_features()));
        } else {
          check(l.forward(M, static_cast<ActType>(t), xp, l.in_features(), yp, l.out_features()));
        }
        return y;
      })
      // act_type: 0 float32, 1 bfloat16, 2 float16 (ldx in elements).
      .def("forward_ptr", [](const WeightOnlyLinear& l, int64_t M, int32_t t, uintptr_t x, int64_t ldx, uintptr_t y,
                             int64_t ldy) {
        const void* xp = reinterpret_cast<const void*>(x);
        auto* yp = reinterpret_cast<float*>(y);
        if (big(M, l.in_features(), l.out_features())) {
          py::gil_scoped_release nogil;
          check(l.forward(M, static_cast<ActType>(t), xp, ldx, yp, ldy));
        } else {
          check(l.forward(M, static_cast<ActType>(t), xp, ldx, yp, ldy));
        }
      })
      .def_property_readonly("in_features", &WeightOnlyLinear::in_features)
      .def_property_readonly("out_features", &WeightOnlyLinear::out_features)
      .def_property_readonly("weight_q", [](const WeightOnlyLinear& l) {
        auto a = copy_of(l.weight_q());
        return a.reshape({l.out_features(), l.in_features()});
      })
      .def_property_readonly("weight_scales", [](const WeightOnlyLinear& l) { return copy_of(l.weight_scales()); })
      .def_property_readonly("bias", [](const WeightOnlyLinear& l) { return copy_of(l.bias()); });

  py::class_<Int4Linear>(m, "Int4Linear")
      .def_static("from_float", [](py::handle w, py::object bias, int32_t gs, bool sym, bool wo, bool apg) {
             return int4_from_float(w, bias, int4_options(gs, sym, wo, apg));
           }, py::arg("weight"), py::arg("bias"), py::arg("group_size"), py::arg("symmetric"), py::arg("weight_only"),
           py::arg("act_per_group"))
      .def_static("from_quantized", [](py::handle q, py::handle s, py::object z, py::object bias, int32_t gs, bool sym,
                                       bool wo, bool apg) {
             return int4_from_quantized(q, s, z, bias, int4_options(gs, sym, wo, apg));
           }, py::arg("q"), py::arg("scales"), py::arg("zero_points"), py::arg("bias"), py::arg("group_size"),
           py::arg("symmetric"), py::arg("weight_only"), py::arg("act_per_group"))
      .def("forward", [](const Int4Linear& l, py::handle x, int32_t nt) {
        if (!py::isinstance<py::array>(x)) throw py::type_error("x must be a numpy array");
        const int32_t t = act_type_of(py::reinterpret_borrow<py::array>(x));
        int64_t M;
        py::array a = t == 0 ? py::array(rows<float>(x, l.in_features(), "x", &M))
                             : py::array(rows<uint16_t>(t == 2 ? x.attr("view")("uint16") : x, l.in_features(), "x", &M));
        py::array_t<float> y(out_shape(a, l.out_features()));
        const void* xp = a.data();
        float* yp = y.mutable_data();
        if (big(M, l.in_features(), l.out_features())) {
          py::gil_scoped_release nogil;
          check(l.forward(M, static_cast<ActType>(t), xp, l.in_features(), yp, l.out_features(), threads(nt)));
        } else {
          check(l.forward(M, static_cast<ActType>(t), xp, l.in_features(), yp, l.out_features(), threads(nt)));
        }
        return y;
      })
      // For qgemm.torch: act_type 0 float32, 1 bfloat16, 2 float16 (ldx, ldy in elements).
      .def("forward_ptr", [](const Int4Linear& l, int64_t M, int32_t t, uintptr_t x, int64_t ldx, uintptr_t y,
                             int64_t ldy, int32_t nt) {
        const void* xp = reinterpret_cast<const void*>(x);
        auto* yp = reinterpret_cast<float*>(y);
        if (big(M, l.in_features(), l.out_features())) {
          py::gil_scoped_release nogil;
          check(l.forward(M, static_cast<ActType>(t), xp, ldx, yp, ldy, threads(nt)));
        } else {
          check(l.forward(M, static_cast<ActType>(t), xp, ldx, yp, ldy, threads(nt)));
        }
      })
      // (q [out][in] int8, scales [out][groups] float32, zero points [out][groups] int8 or None).
      .def("export", [](const Int4Linear& l) {
        const py::ssize_t out = l.out_features(), in = l.in_features(), ng = l.groups();
        py::array_t<int8_t> q({out, in});
        py::array_t<float> s({out, ng});
        py::object z = py::none();
        int8_t* zp = nullptr;
        if (!l.options().symmetric) {
          py::array_t<int8_t> za({out, ng});
          zp = za.mutable_data();
          z = za;
        }
        check(l.export_quantized(q.mutable_data(), s.mutable_data(), zp));
        return py::make_tuple(q, s, z);
      })
      .def_property_readonly("in_features", &Int4Linear::in_features)
      .def_property_readonly("out_features", &Int4Linear::out_features)
      .def_property_readonly("group_size", [](const Int4Linear& l) { return l.options().group_size; })
      .def_property_readonly("groups", &Int4Linear::groups)
      .def_property_readonly("symmetric", [](const Int4Linear& l) { return l.options().symmetric; })
      .def_property_readonly("weight_only", [](const Int4Linear& l) { return l.options().weight_only; })
      .def_property_readonly("act_per_group", [](const Int4Linear& l) { return l.options().act_per_group; })
      .def_property_readonly("packed_bytes", &Int4Linear::packed_bytes)
      .def_property_readonly("bias", [](const Int4Linear& l) -> py::object {
        if (l.bias().empty()) return py::none();
        return copy_of(l.bias());
      });
}
