#!/usr/bin/python3
"""exact_faiss.py - FAISS IndexFlatIP (Debian python3-faiss, OpenBLAS) as the
exact top-k peer of bench_vec_exact, on one thread.

    /usr/bin/python3 bench/vec/exact_faiss.py DATA_DIR [--k 10] [--single 20]
        [--batch 64] [--rounds 5] [--json FILE]

DATA_DIR holds base.f32 and queries.f32 (vec_datagen; dim from meta.json).
Rows are unit length, so inner product ranks like cosine and L2.
Single queries are searched one call each (FAISS's non-BLAS path below 20
queries); the batch goes through one call (sgemm + heaps). Extra memory of
the batched call: FAISS keeps a block of up to 4096 x 1024 scores.
Benchmark script, not part of the library.
"""
import argparse
import json
import os
import statistics
import time

import faiss
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--single", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()

    faiss.omp_set_num_threads(1)
    meta = json.load(open(os.path.join(a.dir, "meta.json")))
    dim = meta["dim"]
    base = np.fromfile(os.path.join(a.dir, "base.f32"), dtype=np.float32).reshape(-1, dim)
    qs = np.fromfile(os.path.join(a.dir, "queries.f32"), dtype=np.float32).reshape(-1, dim)
    index = faiss.IndexFlatIP(dim)
    index.add(base)
    single = [np.ascontiguousarray(qs[i:i + 1]) for i in range(a.single)]
    batch = np.ascontiguousarray(qs[:a.batch])

    index.search(single[0], a.k)  # warm-up
    sq, bq = [], []
    first = None
    for _ in range(a.rounds):
        t0 = time.perf_counter()
        for i, q in enumerate(single):
            _, ids = index.search(q, a.k)
            if i == 0:
                first = ids[0].tolist()
        sq.append(a.single / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        index.search(batch, a.k)
        bq.append(a.batch / (time.perf_counter() - t0))
    out = {
        "bench": "exact_peer", "peer": "faiss", "version": faiss.__version__,
        "numpy": np.__version__, "n": int(base.shape[0]), "dim": dim, "k": a.k,
        "metric": "ip", "threads": 1, "rounds": a.rounds, "single_queries": a.single,
        "batch": a.batch, "single_qps_best": max(sq), "single_qps_median": statistics.median(sq),
        "batch_qps_best": max(bq), "batch_qps_median": statistics.median(bq),
        "first_query_keys": first,
    }
    print(f"faiss {faiss.__version__} IndexFlatIP (1 thread): single "
          f"{out['single_qps_best']:.2f} ({out['single_qps_median']:.2f}) QPS, batch {a.batch} "
          f"{out['batch_qps_best']:.2f} ({out['batch_qps_median']:.2f}) QPS")
    if a.json:
        with open(a.json, "w") as f:
            f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
