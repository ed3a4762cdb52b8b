"""qgemm.torch.DynamicLinear against torch's dynamic quantized Linear (onednn and qnnpack engines)
and float nn.Linear, one thread, in one process with alternating rounds (every contender runs
once per round, in turn, so that a noisy neighbour slows all of them alike); the figure is the
median over rounds of the time per call. Also the per-call overhead of the module at M = 1,
768 x 768: the module's call against the C++ layer called directly with ready buffers.

Writes <out>/bench-python.md (the table) and <out>/bench-python.dat (for the plot).
Usage: python bench_torch.py [--out DIR] [--quick] [--rounds N] [--target-ms T] [--max-call-s S]
(a contender whose first call takes longer than S seconds is left out: nan in the table)
"""
import argparse
import os
import platform
import statistics
import time

import torch

import qgemm
import qgemm.torch as qt

SHAPES = [(768, 768), (768, 3072), (3072, 768), (4096, 4096), (4096, 11008), (11008, 4096)]
MS = [1, 8, 32, 128, 512]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        name = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name"))
        fam = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("cpu family"))
        return f"{name} (family {fam})"
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def torch_dynamic(lin, engine):
    old = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        return torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear})[0]
    finally:
        torch.backends.quantized.engine = old


def timed(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def run_shape(k, n, ms, rounds, target, max_call_s):
    torch.manual_seed(0)
    lin = torch.nn.Linear(k, n)
    contenders = {
        "qgemm": (qt.DynamicLinear.from_float(lin, reduce_range=True, num_threads=1), None),
        "onednn": (torch_dynamic(lin, "onednn"), "onednn"),
        "qnnpack": (torch_dynamic(lin, "qnnpack"), "qnnpack"),
        "float": (lin, None),
    }
    rows = []
    for m in ms:
        x = torch.randn(m, k)
        calls = {}
        for name, (mod, engine) in contenders.items():
            def call(mod=mod, engine=engine):
                if engine:
                    torch.backends.quantized.engine = engine
                return mod(x)
            calls[name] = call
        with torch.no_grad():
            reps = {}
            for name, call in list(calls.items()):  # warm up; reps for about `target` seconds a round
                t0 = time.perf_counter()
                call()
                if time.perf_counter() - t0 > max_call_s:  # Debian's float Linear at the big shapes
                    del calls[name]
                    continue
                t = timed(call, 3)
                reps[name] = max(1, int(target / max(t, 1e-7)))
            times = {name: [] for name in calls}
            for _ in range(rounds):
                for name, call in calls.items():
                    times[name].append(timed(call, reps[name]))
        med = {name: statistics.median(times[name]) if name in times else float("nan") for name in contenders}
        rows.append((k, n, m, med))
        print(f"{k:>6} {n:>6} {m:>4}  " + "  ".join(f"{name} {med[name] * 1e6:10.1f} us" for name in med), flush=True)
    return rows


def overhead(rounds, target):
    torch.manual_seed(0)
    k = n = 768
    mod = qt.DynamicLinear.from_float(torch.nn.Linear(k, n), reduce_range=True, num_threads=1)
    x = torch.randn(1, k)
    y = torch.empty(1, n)
    layer, xp, yp = mod._layer, x.data_ptr(), y.data_ptr()
    direct = lambda: layer.forward_ptr(1, xp, k, yp, n, 1)  # noqa: E731
    module = lambda: mod(x)  # noqa: E731
    with torch.no_grad():
        reps = max(1, int(target / max(timed(module, 100), 1e-7)))
        a, b = [], []
        for _ in range(rounds):
            a.append(timed(module, reps))
            b.append(timed(direct, reps))
    return statistics.median(a), statistics.median(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench-results/python")
    ap.add_argument("--quick", action="store_true", help="the two smallest shapes, M in 1, 32, 128")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--target-ms", type=float, default=40.0, help="time per contender per round")
    ap.add_argument("--max-call-s", type=float, default=0.5,
                    help="leave out a contender whose first call takes longer (nan in the table)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    target = args.target_ms / 1e3
    shapes = SHAPES[:2] if args.quick else SHAPES
    ms = [1, 32, 128] if args.quick else MS
    rows = []
    for k, n in shapes:
        rows += run_shape(k, n, ms, args.rounds, target, args.max_call_s)
    t_mod, t_direct = overhead(args.rounds, target)
    os.makedirs(args.out, exist_ok=True)
    lines = [
        f"CPU: {cpu_name()}; one thread (torch.set_num_threads(1), qgemm num_threads=1); qgemm ISA "
        f"{qgemm.active_isa()}; torch {torch.__version__}; median of {args.rounds} alternating rounds.",
        "",
        "| in | out | M | qgemm us | onednn us | qnnpack us | float us | onednn / qgemm | qnnpack / qgemm | float / qgemm |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k, n, m, t in rows:
        q = t["qgemm"]
        lines.append(f"| {k} | {n} | {m} | {q * 1e6:.1f} | {t['onednn'] * 1e6:.1f} | {t['qnnpack'] * 1e6:.1f} | "
                     f"{t['float'] * 1e6:.1f} | {t['onednn'] / q:.2f} | {t['qnnpack'] / q:.2f} | {t['float'] / q:.2f} |")
    lines += ["", f"Per call at M = 1, 768 x 768: module {t_mod * 1e6:.2f} us, C++ layer called directly "
              f"{t_direct * 1e6:.2f} us, overhead {(t_mod - t_direct) * 1e6:.2f} us."]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "bench-python.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "bench-python.dat"), "w") as f:
        f.write("# in out M qgemm onednn qnnpack float (seconds per call)\n")
        for k, n, m, t in rows:
            f.write(f"{k} {n} {m} {t['qgemm']} {t['onednn']} {t['qnnpack']} {t['float']}\n")
    print()
    print(text, end="")


if __name__ == "__main__":
    main()
