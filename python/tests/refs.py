"""Plain numpy references for the tests, written from the arithmetic contract (docs/quantization.md,
/work DESIGN section 1), independent of the library."""
import numpy as np


def acc_ref(a, za, b_nk, zb=0):
    """Exact int64 sum_k (A - za) * (B - zb[j]) for uint8 A [M][K], int8 B [N][K]."""
    zb = np.broadcast_to(np.asarray(zb, dtype=np.int64), (b_nk.shape[0],))
    return (a.astype(np.int64) - za) @ (b_nk.astype(np.int64) - zb[:, None]).T


def fmaf_ref(a, b, c):
    """float32 fmaf(a, b, c) (one rounding of the exact a*b+c), elementwise.

    a*b of two float32 is exact in float64; a*b + c is then rounded once to float64 and the
    rounding error e is recovered exactly (TwoSum); float32(s) is the correctly rounded result
    except when s lies exactly halfway between two float32, where e decides."""
    a, b, c = (np.asarray(v, dtype=np.float32) for v in (a, b, c))
    a, b, c = np.broadcast_arrays(a, b, c)
    p = a.astype(np.float64) * b.astype(np.float64)
    c64 = c.astype(np.float64)
    s = p + c64
    bb = s - p
    e = (p - (s - bb)) + (c64 - bb)
    r = s.astype(np.float32)
    r64 = r.astype(np.float64)
    # The float32 neighbour on the other side of s.
    other = np.where(r64 < s, np.nextafter(r, np.float32(np.inf)), np.nextafter(r, np.float32(-np.inf)))
    tie = (r64 != s) & (np.abs(s - r64) == np.abs(other.astype(np.float64) - s))
    # At a tie the exact value s + e lies on e's side: pick the neighbour towards it.
    toward = np.where((e > 0) == (other.astype(np.float64) > r64), other, r)
    return np.where(tie & (e != 0), toward, r).astype(np.float32)


def f32_stage_ref(acc, sa, sb, bias=None):
    """fmaf(float(acc), float32(sa * sb[j]), bias[j])."""
    scale = np.float32(sa) * np.asarray(sb, dtype=np.float32)
    accf = acc.astype(np.float32)
    return fmaf_ref(accf, np.broadcast_to(scale, accf.shape), 0.0 if bias is None else np.asarray(bias, np.float32))


def float_multiplier_ref(acc, sa, sb, so, zo, lo=0, hi=255, bias_f32=None, bias_s32=None):
    """fbgemm's requantize_u8acc32_ref with every product and quotient in float32."""
    f = np.float32
    sasb = f(sa) * np.asarray(sb, dtype=f)
    mult = sasb / f(so)
    if bias_s32 is not None:
        acc = acc + np.asarray(bias_s32, dtype=np.int64)
    raw = acc.astype(f)
    if bias_f32 is not None:
        raw = raw + np.asarray(bias_f32, dtype=f) / sasb
    y = np.rint(raw * mult).astype(np.int64) + zo
    return np.clip(y, lo, hi)


def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int64 arrays holding int32 values."""
    a, b = np.broadcast_arrays(np.asarray(a, np.int64), np.asarray(b, np.int64))
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    q = ab + nudge
    r = np.where(q >= 0, q // (1 << 31), -((-q) // (1 << 31)))  # C division truncates
    return np.where((a == -2**31) & (b == -2**31), 2**31 - 1, r)


def rdbpot(x, exponent):
    x, exponent = np.broadcast_arrays(np.asarray(x, np.int64), np.asarray(exponent, np.int64))
    mask = (np.int64(1) << exponent) - 1
    rem = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (rem > threshold)


def fixed_point_ref(acc, mult, shift, zo, lo, hi):
    """TFLite double rounding for right shifts (shift <= 0), as the tests use."""
    shift = np.asarray(shift, np.int64)
    assert (shift <= 0).all()
    y = rdbpot(srdhm(acc, mult), -shift) + zo
    return np.clip(y, lo, hi)


def quantize_ref(x, scale, zp, qmin, qmax):
    """clamp(zp + round_half_even(x * (1.0f / scale))) in float32."""
    inv = np.float32(1.0) / np.float32(scale)
    q = np.clip(np.rint(x.astype(np.float32) * inv).astype(np.float64) + zp, qmin, qmax)
    return q.astype(np.int64)


def ulp_distance(a, b):
    """|a - b| in units in the last place of float32, through the ordered integer images."""
    def ordered(v):
        i = np.asarray(v, np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(ordered(a) - ordered(b))
