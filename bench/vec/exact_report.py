#!/usr/bin/python3
"""exact_report.py - the Markdown tables of docs/benchmarks.md ("Distance
kernels" and "Exact search") from the JSON lines bench/vec/run.sh leaves in
OUTDIR: kernels.jsonl, kernels-offset16.jsonl (bench_vec_kernels) and
exact.jsonl (bench_vec_exact, exact_usearch.mjs, exact_faiss.py, several
alternating runs).

    /usr/bin/python3 bench/vec/exact_report.py OUTDIR

Across runs: "best" is the best run's best, "median" the median of the
runs' medians; ratios against peers are best/best and median/median.
Benchmark script, not part of the library.
"""
import json
import statistics
import sys


def load(out, name):
    with open(f"{out}/{name}") as f:
        return [json.loads(line) for line in f if line.strip()]


def kernels(out):
    rows = load(out, "kernels.jsonl")
    off = {(k["kernel"], k["d"]): k for k in load(out, "kernels-offset16.jsonl")}
    print("| kernel | d | libcommunity M pairs/s | SimSIMD kernel | SimSIMD M pairs/s "
          "| ratio (best) | ratio (median) | ratio, 16 B off alignment "
          "| max error libcommunity | max error SimSIMD |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for k in rows:
        err = max(k["cm_err_emb"], k["cm_err_uniform"])
        perr = max(k["peer_err_emb"], k["peer_err_uniform"])
        u = off.get((k["kernel"], k["d"]))
        uratio = f"{u['ratio_best']:.2f}" if u else "-"
        print(f"| {k['kernel']} | {k['d']} | {k['cm_best_mps']:.1f} "
              f"| {k['peer'].replace('simsimd-', '')} | {k['peer_best_mps']:.1f} "
              f"| {k['ratio_best']:.2f} | {k['ratio_median']:.2f} | {uratio} "
              f"| {err:.1e} | {perr:.1e} |")


def exact(out):
    rows = load(out, "exact.jsonl")
    cm = [r for r in rows if r["bench"] == "exact"]
    us = [r for r in rows if r.get("peer") == "usearch"]
    fa = [r for r in rows if r.get("peer") == "faiss"]

    def best(rs, key):
        return max(r[key] for r in rs)

    def med(rs, key):
        return statistics.median(r[key] for r in rs)

    gb = cm[0]["n"] * cm[0]["dim"] * 4 / 1e9
    print()
    print(f"Single-thread read bandwidth (probe, best of 1/2/4/8 streams each time): "
          f"best {best(cm, 'probe_gbs_best'):.2f} GB/s, median {med(cm, 'probe_gbs_median'):.2f} "
          f"GB/s over {gb * 1e3:.0f} MB; best {best(cm, 'probe_half_gbs_best'):.2f}, median "
          f"{med(cm, 'probe_half_gbs_median'):.2f} GB/s over {gb * 500:.0f} MB.")
    print()
    print("| top-10 search, 1 thread | QPS best | QPS median | vs usearch (best / median) "
          "| vs FAISS (best / median) |")
    print("|---|---:|---:|---:|---:|")
    us1 = (best(us, "single_qps_best"), med(us, "single_qps_median"))
    usb = (best(us, "batch_qps_best"), med(us, "batch_qps_median"))
    fa1 = (best(fa, "single_qps_best"), med(fa, "single_qps_median"))
    fab = (best(fa, "batch_qps_best"), med(fa, "batch_qps_median"))

    def row(name, key, u, f):
        b, m = best(cm, key + "_best"), med(cm, key + "_median")
        print(f"| {name} | {b:.1f} | {m:.1f} | {b / u[0]:.2f}x / {m / u[1]:.2f}x "
              f"| {b / f[0]:.2f}x / {m / f[1]:.2f}x |")

    row("libcommunity f32, one query at a time", "single_f32_qps", us1, fa1)
    row("libcommunity bf16 + f32 re-rank of 40, one at a time", "single_bf16_qps", us1, fa1)
    row("libcommunity int8 + f32 re-rank of 40, one at a time", "single_i8_qps", us1, fa1)
    row("libcommunity f32, batch of 64", "batch_f32_qps", usb, fab)
    print(f"| usearch {us[0]['version']} exactSearch f32 (Node {us[0]['node']}), one at a time "
          f"| {us1[0]:.1f} | {us1[1]:.1f} | | |")
    print(f"| usearch exactSearch f32, batch of 64 | {usb[0]:.1f} | {usb[1]:.1f} | | |")
    print(f"| FAISS {fa[0]['version']} IndexFlatIP + OpenBLAS (Python), one at a time "
          f"| {fa1[0]:.1f} | {fa1[1]:.1f} | | |")
    print(f"| FAISS IndexFlatIP + OpenBLAS, batch of 64 | {fab[0]:.1f} | {fab[1]:.1f} | | |")
    print()
    shares = ", ".join(f"{r['f32_bw_share_pairs_median']:.3f}" for r in cm)
    print(f"- f32 scan rate / probe rate: median of per-query pairs "
          f"{med(cm, 'f32_bw_share_pairs_median'):.3f} (runs: {shares}); best scan rate over "
          f"best probe rate {best(cm, 'f32_bw_share_best_best'):.3f}; best scan "
          f"{best(cm, 'f32_gbs_best'):.2f} GB/s.")
    speed = ", ".join(f"{r['bf16_speedup_pairs_median']:.2f}" for r in cm)
    print(f"- bf16 over f32, one query at a time: median of per-query pairs "
          f"{med(cm, 'bf16_speedup_pairs_median'):.2f}x (runs: {speed}); best over best "
          f"{best(cm, 'single_bf16_qps_best') / best(cm, 'single_f32_qps_best'):.2f}x; "
          f"recall@10 {min(r['recall_bf16'] for r in cm):.4f} "
          f"(int8: {min(r['recall_i8'] for r in cm):.4f}).")
    pairs = [x for r in fa if "cm_over_faiss_batch_pairs" in r for x in r["cm_over_faiss_batch_pairs"]]
    if pairs:
        print(f"- batch of 64, libcommunity over FAISS in the same process (each FAISS batch "
              f"followed by libcommunity's): median of {len(pairs)} pairs "
              f"{statistics.median(pairs):.3f}; libcommunity there best "
              f"{best(fa, 'cm_batch_qps_best'):.1f} QPS, median "
              f"{med(fa, 'cm_batch_qps_median'):.1f}; same top-10 ids: "
              f"{all(r.get('cm_same_results', True) for r in fa)}.")
    print(f"- batched results equal single-query results: "
          f"{min(r['batch_agreement'] for r in cm):.4f}.")
    keys = {tuple(r["first_query_keys"]) for r in us + fa}
    print(f"- usearch and FAISS return the same first-query top-10: {len(keys) == 1}.")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/out/vec"
    kernels(out)
    exact(out)


if __name__ == "__main__":
    main()
