#!/usr/bin/python3
# Merges the TSVs of scripts/bench-int4 (qgemm_int4_bench and the peer harnesses) into one
# markdown table per shape: rows M, one column group per method (ms, GOPS, weight GB/s, % of the
# read bandwidth), then the error of each method against the float64 reference (its largest M <= 8).
# Usage: bench_int4_table.py FILE.tsv...
import sys
from collections import OrderedDict

rows, bw = [], {}
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            if line.startswith("# read_bw_gbs"):
                bw[path] = float(line.split("\t")[1])
                continue
            if line.startswith("impl\t") or not line.strip():
                continue
            c = line.rstrip("\n").split("\t")
            rows.append(dict(impl=c[0], method=c[1], N=int(c[2]), K=int(c[3]), M=int(c[4]), ms=float(c[5]),
                             gops=float(c[6]), wgbs=float(c[7]), pct=c[8], max_rel=float(c[9]), rms_rel=float(c[10]),
                             kernel=c[11] if len(c) > 11 else ""))
if not rows:
    sys.exit("bench_int4_table.py: no rows")
qbw = [v for k, v in bw.items() if v > 0]
if qbw:
    print(f"Single-core read bandwidth measured by qgemm_int4_bench: {min(qbw):.2f}-{max(qbw):.2f} GB/s "
          "(one figure per shape; the peers' % columns use the figure of their shape).\n")
shapes = OrderedDict()
for r in rows:
    shapes.setdefault((r["N"], r["K"]), []).append(r)
for (N, K), rs in sorted(shapes.items(), key=lambda kv: (kv[0][0] * kv[0][1], -kv[0][0])):
    order = {"qgemm": 0, "ggml": 1, "ort": 2}
    methods = sorted(OrderedDict.fromkeys(f'{r["impl"]}:{r["method"]}' for r in rs),
                     key=lambda m: order.get(m.split(":")[0], 3))
    ms = sorted({r["M"] for r in rs})
    get = {(f'{r["impl"]}:{r["method"]}', r["M"]): r for r in rs}
    print(f"### N = {N}, K = {K}: ms per call (GOPS; weight GB/s and % of read bandwidth at M <= 8); "
          "error of the largest M <= 8 run\n")
    print("| method | " + " | ".join(f"M={m}" for m in ms) + " | max rel err | rms rel err |")
    print("|---|" + "---|" * (len(ms) + 2))
    for meth in methods:
        cells = []
        for m in ms:
            r = get.get((meth, m))
            if not r:
                cells.append("")
                continue
            s = f'{r["ms"]:.3f} ({r["gops"]:.3g}'
            if m <= 8:
                s += f'; {r["wgbs"]:.1f} GB/s, {float(r["pct"]):.0f}%' if r["pct"] not in ("nan", "NaN") else f'; {r["wgbs"]:.1f} GB/s'
            cells.append(s + ")")
        er = [get[(meth, m)] for m in ms if (meth, m) in get]
        e = max(er, key=lambda r: r["M"] if r["M"] <= 8 else -1)
        print(f"| {meth} | " + " | ".join(cells) + f' | {e["max_rel"]:.2e} | {e["rms_rel"]:.2e} |')
    print()
