#!/usr/bin/env python3
"""ann_report.py - markdown tables from the log of bench/vec/run_ann.sh.

    python3 bench/vec/ann_report.py bench/out/ann/results.txt > report.md

Reads the "kind key=value ..." lines that vec_ann_bench, ann_hnswlib and
ann_peers.mjs print. Where a measurement was repeated (the build rounds),
the best one is kept: on a shared machine the best run is the least
disturbed. Benchmark tool, not part of the library.
"""
import re
import sys
from collections import defaultdict

PAIR = re.compile(r'(\w+)=("[^"]*"|\S+)')


def parse(path):
    rows = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            parts = line.split(None, 1)
            if len(parts) < 2:
                continue
            kv = {k: v.strip('"') for k, v in PAIR.findall(parts[1])}
            rows.append((parts[0], kv))
    return rows


def num(kv, key, default=0.0):
    try:
        return float(kv.get(key, default))
    except ValueError:
        return default


def name(kv):
    lib = kv.get('lib', '?')
    if lib == 'cm':
        return 'cm_vec_index ' + kv.get('storage', '')
    return lib


def main():
    rows = parse(sys.argv[1])
    threads = next((kv['threads'] for k, kv in rows if k == 'machine'), '2')
    qk = 'qps' + threads
    out = []
    machine = next((kv for k, kv in rows if k == 'machine'), {})
    data = next((kv for k, kv in rows if k == 'data'), {})
    out.append(f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
               f"run {machine.get('date', '?')}; data n={data.get('n')} nq={data.get('nq')} "
               f"dim={data.get('dim')}, kernels {data.get('impl')}.\n")

    # builds: best wall time per (library, threads)
    builds = {}
    for k, kv in rows:
        if k != 'build':
            continue
        key = (name(kv), kv.get('threads'))
        if key not in builds or num(kv, 'secs') < num(builds[key], 'secs'):
            builds[key] = kv
    out.append('| index | build threads | build s (best) | CPU s | bytes/vector (alloc) '
               '| bytes/vector (RSS growth) |')
    out.append('|---|---|---|---|---|---|')
    for (lib, th), kv in sorted(builds.items()):
        out.append(f"| {lib} | {th} | {num(kv, 'secs'):.1f} | {kv.get('cpu_secs', '-')} | "
                   f"{kv.get('alloc_bytes_per_vec', '-')} | {kv.get('rss_bytes_per_vec', '-')} |")
    out.append('')

    # sweeps: best QPS per (library, ef)
    sweeps = defaultdict(dict)
    for k, kv in rows:
        if k != 'sweep':
            continue
        lib, ef = name(kv), int(num(kv, 'ef'))
        cur = sweeps[lib].get(ef)
        if cur is None:
            sweeps[lib][ef] = dict(kv)
        else:
            for f in ('qps1', qk, 'cpu_qps1'):
                if num(kv, f) > num(cur, f):
                    cur[f] = kv[f]
    out.append(f'At the smallest ef reaching recall@10 >= 0.95 (QPS: best pass; '
               f'CPU: from the thread\'s CPU time):\n')
    out.append(f'| index | ef | recall@10 | QPS 1 thread | QPS {threads} threads | CPU QPS 1 thread |')
    out.append('|---|---|---|---|---|---|')
    for lib, pts in sweeps.items():
        ok = [ef for ef in sorted(pts) if num(pts[ef], 'recall') >= 0.95]
        if not ok:
            out.append(f'| {lib} | - | max {max(num(p, "recall") for p in pts.values()):.4f} | | | |')
            continue
        p = pts[ok[0]]
        out.append(f"| {lib} | {ok[0]} | {num(p, 'recall'):.4f} | {num(p, 'qps1'):.0f} | "
                   f"{num(p, qk):.0f} | {num(p, 'cpu_qps1'):.0f} |")
    out.append('')
    out.append('Full curves (recall@10 / QPS 1 thread / QPS %s threads / CPU QPS 1 thread):\n'
               % threads)
    for lib, pts in sweeps.items():
        out.append(f'**{lib}**\n')
        out.append(f'| ef | recall@10 | QPS 1 | QPS {threads} | CPU QPS 1 |')
        out.append('|---|---|---|---|---|')
        for ef in sorted(pts):
            p = pts[ef]
            out.append(f"| {ef} | {num(p, 'recall'):.4f} | {num(p, 'qps1'):.0f} | "
                       f"{num(p, qk):.0f} | {p.get('cpu_qps1', '-')} |")
        out.append('')

    targets = {}
    for k, kv in rows:  # the first per storage: the full sweep's
        if k == 'target':
            targets.setdefault(kv.get('storage'), kv)
    flt = [(kv) for k, kv in rows if k == 'filter']
    if flt:
        out.append('Filtered search (random bitmap; latency ratio against the unfiltered '
                   'search at its ef for recall 0.95, wall and CPU time):\n')
        out.append('| index | selectivity | ef | recall@10 | latency us | ratio | CPU ratio '
                   '| fewest rows returned |')
        out.append('|---|---|---|---|---|---|---|---|')
        for kv in flt:
            out.append(f"| {name(kv)} | {kv['selectivity']} | {kv['ef']} | {kv['recall']} | "
                       f"{kv['lat_us']} | {kv['lat_ratio']} | {kv.get('cpu_lat_ratio', '-')} | "
                       f"{kv['min_found']} |")
        out.append('')
        for st, kv in targets.items():
            out.append(f"Unfiltered reference, {st}: ef {kv['ef95']}, {kv['lat_us']} us "
                       f"({kv.get('cpu_lat_us', '-')} us CPU).")
        out.append('')
    churn = [kv for k, kv in rows if k == 'churn']
    if churn:
        out.append('Delete 10% + insert 10% against a fresh build of the same rows:\n')
        out.append('| index | ef | recall churned | recall fresh | difference |')
        out.append('|---|---|---|---|---|')
        for kv in churn:
            if 'ef' in kv:
                out.append(f"| {name(kv)} | {kv['ef']} | {kv['recall_churned']} | "
                           f"{kv['recall_fresh']} | {kv['diff']} |")
        out.append('')
        for kv in churn:
            if 'deleted' in kv:
                out.append(f"{name(kv)}: removing {kv['deleted']} took {kv['del_secs']} s, "
                           f"inserting {kv['inserted']} (repair included) {kv['ins_secs']} s; "
                           f"library memory grew by {kv['alloc_growth_bytes']} bytes, "
                           f"RSS by {kv['rss_growth_bytes']}.")
        out.append('')
    print('\n'.join(out))


if __name__ == '__main__':
    main()
