#!/usr/bin/env python3
# Turns qgemm_x86_exact_bench JSON output (with --benchmark_repetitions) into the markdown table
# of docs/notes/issue-5.md: median GOPS, percent of the 237 GOPS AVX2 peak, qgemm/oneDNN ratios.
# Usage: benchmarks/x86_exact_table.py bench.json
import json,sys,re,collections
d=json.load(open(sys.argv[1]))
r=collections.defaultdict(dict)
for b in d['benchmarks']:
    if b.get('aggregate_name')!='median': continue
    m=re.match(r'x86exact/(qgemm-avx2|onednn)/(exact|safe)/(\d+)x(\d+)x(\d+)',b['run_name'])
    lib,data,M,N,K=m.groups()
    r[(int(N),int(K),int(M))][(lib,data)]=b['GOPS']
print('| M | N | K | qgemm exact | oneDNN (adversarial) | ratio | qgemm safe | oneDNN (safe data) | ratio |')
print('|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
import math
ge=[];gs=[]
for key in sorted(r):
    N,K,M=key; v=r[key]
    qe,oe,qs,os_=v[('qgemm-avx2','exact')],v[('onednn','exact')],v[('qgemm-avx2','safe')],v[('onednn','safe')]
    ge.append(qe/oe); gs.append(qs/os_)
    f=lambda x: f"{x:.0f} ({x/237*100:.0f}%)"
    print(f"| {M} | {N} | {K} | {f(qe)} | {f(oe)} | {qe/oe:.2f}x | {f(qs)} | {f(os_)} | {qs/os_:.2f}x |")
g=lambda l: math.exp(sum(map(math.log,l))/len(l))
print(f"\nGeometric mean of the ratios: exact {g(ge):.2f}x, safe {g(gs):.2f}x")
