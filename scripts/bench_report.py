#!/usr/bin/env python3
"""Report for qgemm_bench JSON (python3 standard library only).

  bench_report.py report RUN.json OUTDIR   markdown table (OUTDIR/bench.md, also printed)
                                            and gnuplot PNGs (OUTDIR/bench-<out>.png)
  bench_report.py compare A.json B.json    GOPS of every benchmark both runs have, side by
                                            side, with the ratio B/A (e.g. two CPUs)

Benchmark names: gemm/<impl>/<out>/<M>x<N>x<K>/threads:<T> and
pack/<impl>/<layout>/<N>x<K>/threads:<T>. With repetitions the median aggregate is used;
otherwise the single run (or the mean of the runs) of each name.
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys

OUTS = ["s32", "u8", "f32"]
ONEDNN = ["onednn", "onednn-rt"]


def load(path):
    """Returns (context, {name: entry}) with one entry per benchmark name (median if any)."""
    with open(path) as f:
        data = json.load(f)
    runs, medians = {}, {}
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"]).replace("/real_time", "").replace("/manual_time", "")
        if b.get("error_occurred"):
            continue
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = b
        else:
            runs.setdefault(name, []).append(b)
    ctx = dict(data.get("context", {}))
    reps = [b.get("repetitions") for b in data.get("benchmarks", []) if b.get("repetitions")]
    ctx["repetitions"] = max(reps) if reps else 1
    out = dict(medians)
    for name, lst in runs.items():
        if name in out:
            continue
        avg = dict(lst[0])
        for key in ("GOPS", "pct_peak", "weight_GBps", "pct_read_bw", "GBps", "real_time", "cpu_time"):
            vals = [x[key] for x in lst if key in x]
            if vals:
                avg[key] = sum(vals) / len(vals)
        out[name] = avg
    return ctx, out


GEMM_RE = re.compile(r"^gemm/([^/]+)/([^/]+)/(\d+)x(\d+)x(\d+)/threads:(\d+)$")
PACK_RE = re.compile(r"^pack/([^/]+)/([^/]+)/(\d+)x(\d+)/threads:(\d+)$")


def parse(entries):
    """gemm[(out, M, N, K, T)][impl] = entry; pack[(layout, N, K, T)][impl] = entry."""
    gemm, pack = {}, {}
    for name, e in entries.items():
        m = GEMM_RE.match(name)
        if m:
            impl, out, M, N, K, T = m.groups()
            gemm.setdefault((out, int(M), int(N), int(K), int(T)), {})[impl] = e
            continue
        m = PACK_RE.match(name)
        if m:
            impl, layout, N, K, T = m.groups()
            pack.setdefault((layout, int(N), int(K), int(T)), {})[impl] = e
    return gemm, pack


def qgemm_impls(gemm, ctx):
    # The ISA order of the run itself (qgemm::Isa order, from the ISA registry), not a list here.
    order = [s for s in ctx.get("qgemm_isas", "").split(",") if s]
    found = {impl for row in gemm.values() for impl in row if impl.startswith("qgemm-")}
    return sorted(found, key=lambda s: (order.index(s[6:]) if s[6:] in order else 99, s))


def fmt(x, digits=1):
    return "—" if x is None else f"{x:.{digits}f}"


def is_square(M, N, K):
    return M == N == K


def shape_order(key):
    out, M, N, K, T = key
    return (OUTS.index(out) if out in OUTS else 9, 0 if is_square(M, N, K) else 1, N, K, M, T)


def context_lines(ctx):
    lines = [f"- CPU: {ctx.get('cpu_model', '?')} ({ctx.get('num_cpus', '?')} logical CPUs, "
             f"{ctx.get('mhz_per_cpu', '?')} MHz nominal); host {ctx.get('host_name', '?')}; {ctx.get('date', '')}"]
    peaks = [f"{k[10:]} {float(v):.1f}" for k, v in sorted(ctx.items()) if k.startswith("peak_gops_")]
    lines.append(f"- probed peak GOPS per ISA: {', '.join(peaks) or 'none'}; single-core read bandwidth "
                 f"{float(ctx.get('read_bw_gbps', 0)):.1f} GB/s")
    lines.append(f"- qgemm ISAs: {ctx.get('qgemm_isas', '?')}; oneDNN {ctx.get('onednn_version', '?')} "
                 f"(one OpenMP thread); shape set `{ctx.get('shape_set', '?')}`; rates from "
                 f"{ctx.get('time', '?')} time; " +
                 (f"median of {ctx['repetitions']} repetitions" if ctx.get("repetitions", 1) > 1 else "one run"))
    return lines


def report_markdown(ctx, gemm, pack):
    q = qgemm_impls(gemm, ctx)
    md = ["# qgemm_bench report", ""] + context_lines(ctx) + [""]
    md.append("GOPS = 2*M*N*K per second. `ratio` = best qgemm / oneDNN (creation-time parameters). "
              "`% peak` = percent of the probed peak of the ISA that ran (oneDNN: of the best probed ISA).")
    for out in OUTS:
        keys = sorted((k for k in gemm if k[0] == out), key=shape_order)
        if not keys:
            continue
        md += ["", f"## out = {out}", ""]
        head = ["M x N x K"] + [f"{i} GOPS" for i in q] + ["onednn GOPS", "onednn-rt GOPS", "ratio",
                                                          "qgemm % peak", "oneDNN % peak"]
        md.append("| " + " | ".join(head) + " |")
        md.append("|" + "---|" * len(head))
        for k in keys:
            row = gemm[k]
            _, M, N, K, T = k
            cells = [f"{M}x{N}x{K}" + ("" if T == 1 else f" t{T}")]
            best, best_impl = None, None
            for i in q:
                g = row.get(i, {}).get("GOPS")
                cells.append(fmt(g))
                if g is not None and (best is None or g > best):
                    best, best_impl = g, i
            d = row.get("onednn", {}).get("GOPS")
            cells += [fmt(d), fmt(row.get("onednn-rt", {}).get("GOPS"))]
            cells.append(fmt(best / d, 3) if best and d else "—")
            pk = row.get(best_impl, {}).get("pct_peak") if best_impl else None
            cells.append(fmt(pk) + (f" ({best_impl[6:]})" if pk is not None else ""))
            cells.append(fmt(row.get("onednn", {}).get("pct_peak")))
            md.append("| " + " | ".join(cells) + " |")
    # Weight streaming at small M.
    small = sorted((k for k in gemm if k[1] <= 8 and k[0] == "s32"), key=shape_order)
    if small:
        bw = float(ctx.get("read_bw_gbps", 0))
        md += ["", f"## Weight bytes per second, M <= 8 (out = s32; single-core read bandwidth {bw:.1f} GB/s)", ""]
        impls = q + ONEDNN
        head = ["M x N x K"] + [f"{i} GB/s (% bw)" for i in impls]
        md.append("| " + " | ".join(head) + " |")
        md.append("|" + "---|" * len(head))
        for k in small:
            row = gemm[k]
            cells = [f"{k[1]}x{k[2]}x{k[3]}"]
            for i in impls:
                e = row.get(i)
                cells.append("—" if not e or "weight_GBps" not in e
                             else f"{e['weight_GBps']:.2f} ({e.get('pct_read_bw', 0):.0f}%)")
            md.append("| " + " | ".join(cells) + " |")
    if pack:
        md += ["", "## Packing B (qgemm pack_weights; oneDNN reorder to its blocked format), GB/s of int8 weights", ""]
        impls = sorted({i for row in pack.values() for i in row})
        head = ["layout", "N x K"] + impls
        md.append("| " + " | ".join(head) + " |")
        md.append("|" + "---|" * len(head))
        for k in sorted(pack):
            row = pack[k]
            md.append("| " + " | ".join([k[0], f"{k[1]}x{k[2]}"] +
                                        [fmt(row.get(i, {}).get("GBps"), 2) for i in impls]) + " |")
    return "\n".join(md) + "\n"


def plot(ctx, gemm, outdir, out):
    """GOPS against M for each (N, K), one panel each (plus one for the square shapes)."""
    gp = shutil.which("gnuplot")
    if not gp:
        print("bench_report: gnuplot not found, no plot", file=sys.stderr)
        return None
    impls = qgemm_impls(gemm, ctx) + ONEDNN
    panels = {}
    for (o, M, N, K, T), row in gemm.items():
        if o != out or T != 1:
            continue
        key = ("square", 0, 0) if is_square(M, N, K) else ("nk", N, K)
        x = M
        for i in impls:
            if i in row and "GOPS" in row[i]:
                panels.setdefault(key, {}).setdefault(i, []).append((x, row[i]["GOPS"]))
    if not panels:
        return None
    keys = sorted(panels, key=lambda k: (k[0] == "square", k[1], k[2]))
    datadir = os.path.join(outdir, "plotdata")
    os.makedirs(datadir, exist_ok=True)
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    png = os.path.join(outdir, f"bench-{out}.png")
    script = [f"set terminal pngcairo size {cols * 520},{rows * 400 + 40} font 'Sans,10'",
              f"set output '{png}'",
              f"set multiplot layout {rows},{cols} title \"qgemm vs oneDNN, out={out}, "
              f"{ctx.get('cpu_model', '')}, 1 thread (GOPS = 2MNK/s)\"",
              "set logscale x 2", "set grid", "set key top left box opaque font ',9'", "set ylabel 'GOPS'",
              "set yrange [0:*]", "set offsets 0, 0, graph 0.35, 0"]
    styles = {"onednn": "lw 2 dt 1 lc rgb '#d62728'", "onednn-rt": "lw 2 dt 2 lc rgb '#ff7f0e'"}
    palette = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#7f7f7f", "#bcbd22"]
    for pi, key in enumerate(keys):
        series = panels[key]
        if key[0] == "square":
            script += ["set title 'square M = N = K'", "set xlabel 'M = N = K'"]
        else:
            script += [f"set title 'N = {key[1]}, K = {key[2]}'", "set xlabel 'M'"]
        plots = []
        for si, impl in enumerate(i for i in impls if i in series):
            fn = os.path.join(datadir, f"{out}_{pi}_{impl}.dat")
            with open(fn, "w") as f:
                for x, y in sorted(series[impl]):
                    f.write(f"{x} {y}\n")
            st = styles.get(impl, f"lw 2 lc rgb '{palette[si % len(palette)]}'")
            plots.append(f"'{fn}' using 1:2 with linespoints pt 7 ps 0.6 {st} title '{impl}'")
        script.append("plot " + ", ".join(plots))
    script.append("unset multiplot")
    subprocess.run([gp], input="\n".join(script) + "\n", text=True, check=True)
    return png


def cmd_report(path, outdir):
    ctx, entries = load(path)
    gemm, pack = parse(entries)
    if not gemm and not pack:
        sys.exit(f"bench_report: no benchmark results in {path}")
    os.makedirs(outdir, exist_ok=True)
    md = report_markdown(ctx, gemm, pack)
    pngs = [p for p in (plot(ctx, gemm, outdir, o) for o in OUTS) if p]
    if pngs:
        md += "\nPlots: " + ", ".join(os.path.basename(p) for p in pngs) + "\n"
    with open(os.path.join(outdir, "bench.md"), "w") as f:
        f.write(md)
    print(md)


def cmd_compare(a_path, b_path):
    ca, ea = load(a_path)
    cb, eb = load(b_path)
    print(f"A = {a_path}")
    for line in context_lines(ca):
        print("   " + line)
    print(f"B = {b_path}")
    for line in context_lines(cb):
        print("   " + line)
    common = [n for n in ea if n in eb]
    if not common:
        sys.exit("bench_report: the two runs have no benchmark name in common")

    def key(n):
        m = GEMM_RE.match(n)
        if m:
            impl, out, M, N, K, T = m.groups()
            return (0, OUTS.index(out) if out in OUTS else 9, int(N), int(K), int(M), impl)
        return (1, n)

    width = max(len(n) for n in common)
    print()
    print(f"{'benchmark':<{width}}  {'A':>9}  {'B':>9}  {'B/A':>6}  {'A %pk':>6}  {'B %pk':>6}")
    for n in sorted(common, key=key):
        unit = "GOPS" if n.startswith("gemm/") else "GBps"
        a, b = ea[n].get(unit), eb[n].get(unit)
        if a is None or b is None:
            continue
        pa, pb = ea[n].get("pct_peak"), eb[n].get("pct_peak")
        print(f"{n:<{width}}  {a:9.2f}  {b:9.2f}  {b / a if a else float('nan'):6.3f}  "
              f"{fmt(pa):>6}  {fmt(pb):>6}")
    only_a = len([n for n in ea if n not in eb])
    only_b = len([n for n in eb if n not in ea])
    print(f"\n{len(common)} benchmarks in both ({unit_note()}); {only_a} only in A, {only_b} only in B")


def unit_note():
    return "gemm: GOPS, pack: GB/s"


def main(argv):
    if len(argv) == 4 and argv[1] == "report":
        cmd_report(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "compare":
        cmd_compare(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
