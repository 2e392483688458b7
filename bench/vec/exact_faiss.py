#!/usr/bin/python3
"""exact_faiss.py - FAISS IndexFlatIP (Debian python3-faiss, OpenBLAS) as the
exact top-k peer of bench_vec_exact, on one thread.

    /usr/bin/python3 bench/vec/exact_faiss.py DATA_DIR [--k 10] [--single 20]
        [--batch 64] [--rounds 5] [--cm-lib PATH/libcommunity.so] [--json FILE]

DATA_DIR holds base.f32 and queries.f32 (vec_datagen; dim from meta.json).
Rows are unit length, so inner product ranks like cosine and L2.
Single queries are searched one call each (FAISS's non-BLAS path below 20
queries); the batch goes through one call (sgemm + heaps). Extra memory of
the batched call: FAISS keeps a block of up to 4096 x 1024 scores.

With --cm-lib the same process also loads libcommunity through ctypes,
builds a cm_vec_matrix (f32, inner product) from the same array, and runs
its batch right after each FAISS batch: the ratio of each such pair is a
comparison under the same machine load, and their median is the headline
batch ratio (bench_vec_exact measures libcommunity alone).

OpenBLAS picks its kernels from the CPU model and falls back to older ones
on CPUs it does not know (0.3.21 runs its Haswell AVX2 kernels on AMD
Zen 5): bench/vec/run.sh pins OPENBLAS_CORETYPE (SkylakeX on AVX-512 CPUs);
the core OpenBLAS used is reported ("openblas_core"). VB_CLOCK=thread times
with the thread's CPU clock (both libraries run on the calling thread), as
bench_vec_exact does, for runs on a loaded machine.
Benchmark script, not part of the library.
"""
import argparse
import ctypes
import json
import os
import statistics
import time

import faiss
import numpy as np


class MatrixOptions(ctypes.Structure):
    """cm_vec_matrix_options of include/community/vec.h."""
    _fields_ = [("size", ctypes.c_uint32), ("metric", ctypes.c_int32),
                ("storage", ctypes.c_int32), ("rerank", ctypes.c_uint32)]


CM_VEC_IP = 1


class CmMatrix:
    """A libcommunity f32 inner-product matrix over a float32 array."""

    def __init__(self, path, base):
        lib = ctypes.CDLL(path)
        vp, sz = ctypes.c_void_p, ctypes.c_size_t
        lib.cm_vec_matrix_new.argtypes = [ctypes.POINTER(vp), vp, sz, sz,
                                          ctypes.POINTER(MatrixOptions)]
        lib.cm_vec_matrix_search_batch.argtypes = [vp, vp, vp, vp, sz, sz, sz, vp]
        lib.cm_vec_matrix_free.argtypes = [vp]
        self.lib = lib
        self.m = vp()
        opts = MatrixOptions(ctypes.sizeof(MatrixOptions), CM_VEC_IP, 0, 0)
        rc = lib.cm_vec_matrix_new(ctypes.byref(self.m), base.ctypes.data, base.shape[0],
                                   base.shape[1], ctypes.byref(opts))
        if rc != 0:
            raise RuntimeError(f"cm_vec_matrix_new: {rc}")
        self.dim = base.shape[1]

    def search(self, queries, k):
        ids = np.empty((queries.shape[0], k), dtype=np.int64)
        dist = np.empty((queries.shape[0], k), dtype=np.float32)
        rc = self.lib.cm_vec_matrix_search_batch(ids.ctypes.data, dist.ctypes.data, self.m,
                                                 queries.ctypes.data, queries.shape[0],
                                                 self.dim, k, None)
        if rc != 0:
            raise RuntimeError(f"cm_vec_matrix_search_batch: {rc}")
        return ids

    def close(self):
        self.lib.cm_vec_matrix_free(self.m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--single", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cm-lib")
    ap.add_argument("--json")
    a = ap.parse_args()

    faiss.omp_set_num_threads(1)
    clock = time.thread_time if os.environ.get("VB_CLOCK") == "thread" else time.perf_counter
    try:  # the BLAS FAISS calls (libblas.so.3 is OpenBLAS here)
        blas = ctypes.CDLL("libblas.so.3")
        blas.openblas_get_corename.restype = ctypes.c_char_p
        core = blas.openblas_get_corename().decode()
    except (OSError, AttributeError):
        core = "not OpenBLAS"
    meta = json.load(open(os.path.join(a.dir, "meta.json")))
    dim = meta["dim"]
    base = np.fromfile(os.path.join(a.dir, "base.f32"), dtype=np.float32).reshape(-1, dim)
    qs = np.fromfile(os.path.join(a.dir, "queries.f32"), dtype=np.float32).reshape(-1, dim)
    index = faiss.IndexFlatIP(dim)
    index.add(base)
    cm = CmMatrix(a.cm_lib, base) if a.cm_lib else None
    single = [np.ascontiguousarray(qs[i:i + 1]) for i in range(a.single)]
    batch = np.ascontiguousarray(qs[:a.batch])

    index.search(single[0], a.k)  # warm-up
    index.search(batch, a.k)
    if cm:
        cm.search(batch, a.k)
    sq, bq, cq, pairs = [], [], [], []
    first = None
    same = True
    for _ in range(a.rounds):
        t0 = clock()
        for i, q in enumerate(single):
            _, ids = index.search(q, a.k)
            if i == 0:
                first = ids[0].tolist()
        sq.append(a.single / (clock() - t0))
        t0 = clock()
        _, fids = index.search(batch, a.k)
        tf = clock() - t0
        bq.append(a.batch / tf)
        if cm:
            t0 = clock()
            cids = cm.search(batch, a.k)
            tc = clock() - t0
            cq.append(a.batch / tc)
            pairs.append(tf / tc)
            same = same and bool((np.sort(cids, axis=1) == np.sort(fids, axis=1)).mean() > 0.99)
    out = {
        "bench": "exact_peer", "peer": "faiss", "version": faiss.__version__,
        "numpy": np.__version__, "n": int(base.shape[0]), "dim": dim, "k": a.k,
        "metric": "ip", "threads": 1, "rounds": a.rounds, "single_queries": a.single,
        "batch": a.batch, "single_qps_best": max(sq), "single_qps_median": statistics.median(sq),
        "batch_qps_best": max(bq), "batch_qps_median": statistics.median(bq),
        "first_query_keys": first, "openblas_core": core,
        "clock": "thread" if clock is time.thread_time else "wall",
    }
    msg = (f"faiss {faiss.__version__} IndexFlatIP (1 thread, OpenBLAS core {core}): single "
           f"{out['single_qps_best']:.2f} ({out['single_qps_median']:.2f}) QPS, batch {a.batch} "
           f"{out['batch_qps_best']:.2f} ({out['batch_qps_median']:.2f}) QPS")
    if cm:
        out.update({"cm_batch_qps_best": max(cq), "cm_batch_qps_median": statistics.median(cq),
                    "cm_over_faiss_batch_pairs_median": statistics.median(pairs),
                    "cm_over_faiss_batch_pairs": pairs, "cm_same_results": same})
        msg += (f"; libcommunity in the same process: batch {max(cq):.2f} "
                f"({statistics.median(cq):.2f}) QPS, paired ratio median "
                f"{statistics.median(pairs):.3f}, same ids {same}")
        cm.close()
    print(msg)
    if a.json:
        with open(a.json, "w") as f:
            f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
