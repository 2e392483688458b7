/*
 * ann_hnswlib.cpp - the native hnswlib peer of vec_ann_bench: hnswlib's
 * headers as shipped inside npm hnswlib-node (bench/vec/peers), compiled
 * with -O3 -march=native (AVX-512 distance kernels), on the data set that
 * vec_ann_bench --data wrote. Inner product on unit rows (= cosine).
 *
 *   ann_hnswlib --data DIR [--dim 384] [--threads T] [--m 16] [--efc 128]
 *               [--ef 10,16,...] [--min-time S] [--index PATH]
 *
 * --index PATH loads the graph from PATH when it exists, else saves it
 * there after the build (for repeated search runs).
 *
 * Build: multi-threaded addPoint over a shared counter (as hnswlib's
 * Python bindings do). Search: searchKnn one query at a time on one
 * thread, and on T threads each taking queries from a shared counter;
 * QPS is the best of at least three passes over all queries (shared
 * machines: the best pass is the least disturbed).
 * Prints the same "key=value" lines as vec_ann_bench. Benchmark tool.
 */
#include "hnswlib/hnswlib.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/* CPU time of the calling thread (not counting time given to other
 * processes on a shared machine). */
static double cpu_now()
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of the whole process (every thread). */
static double proc_cpu()
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static double rss_bytes()
{
    FILE *f = std::fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (std::fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        std::fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE);
}

template <typename T> static std::vector<T> read_all(const std::string &path)
{
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) {
        std::perror(path.c_str());
        std::exit(1);
    }
    std::fseek(f, 0, SEEK_END);
    long n = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    std::vector<T> v((size_t)n / sizeof(T));
    if (std::fread(v.data(), sizeof(T), v.size(), f) != v.size()) {
        std::perror(path.c_str());
        std::exit(1);
    }
    std::fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    std::string dir, index_path, efs = "10,16,20,24,32,40,48,64,80,96,128,160,200,256";
    size_t dim = 384, m = 16, efc = 128;
    unsigned threads = 2;
    double min_time = 1.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i], v = argv[i + 1];
        if (a == "--data")
            dir = v;
        else if (a == "--dim")
            dim = std::stoul(v);
        else if (a == "--threads")
            threads = (unsigned)std::stoul(v);
        else if (a == "--m")
            m = std::stoul(v);
        else if (a == "--efc")
            efc = std::stoul(v);
        else if (a == "--ef")
            efs = v;
        else if (a == "--min-time")
            min_time = std::stod(v);
        else if (a == "--index")
            index_path = v;
    }
    if (dir.empty() || threads == 0) {
        std::fprintf(stderr, "usage: ann_hnswlib --data DIR [--dim D] [--threads T] ...\n");
        return 2;
    }
    const size_t K = 10;
    std::vector<float> base = read_all<float>(dir + "/base.f32");
    std::vector<float> qs = read_all<float>(dir + "/queries.f32");
    std::vector<int32_t> gt = read_all<int32_t>(dir + "/gt.i32");
    size_t n = base.size() / dim, nq = qs.size() / dim;

    hnswlib::InnerProductSpace space(dim);
    double r0 = rss_bytes();
    hnswlib::HierarchicalNSW<float> *ix;
    std::vector<std::thread> th;
    if (!index_path.empty() && access(index_path.c_str(), R_OK) == 0) {
        ix = new hnswlib::HierarchicalNSW<float>(&space, index_path);
        std::printf("loaded %s\n", index_path.c_str());
        goto search;
    }
    ix = new hnswlib::HierarchicalNSW<float>(&space, n, m, efc, 100);
    {
        double t0 = now(), c0 = proc_cpu();
        std::atomic<size_t> next(0);
        auto add = [&]() {
            for (size_t i; (i = next.fetch_add(1)) < n;)
                ix->addPoint(base.data() + i * dim, (hnswlib::labeltype)i);
        };
        for (unsigned t = 1; t < threads; t++)
            th.emplace_back(add);
        add();
        for (auto &t : th)
            t.join();
        th.clear();
        double secs = now() - t0, cpu = proc_cpu() - c0, r1 = rss_bytes();
        std::printf("build lib=hnswlib-native storage=f32 threads=%u m=%zu efc=%zu n=%zu secs=%.2f "
                    "cpu_secs=%.2f rss_bytes_per_vec=%.1f index_bytes_per_vec=%.1f\n",
                    threads, m, efc, n, secs, cpu, (r1 - r0) / (double)n,
                    (double)ix->indexFileSize() / (double)n);
        std::fflush(stdout);
        if (!index_path.empty())
            ix->saveIndex(index_path);
    }
search:

    std::vector<int64_t> got(nq * K);
    auto one = [&](size_t q) {
        auto r = ix->searchKnn(qs.data() + q * dim, K);
        size_t j = r.size();
        while (!r.empty()) {
            got[q * K + --j] = (int64_t)r.top().second;
            r.pop();
        }
    };
    char *list = strdup(efs.c_str());
    for (char *tok = std::strtok(list, ","); tok; tok = std::strtok(nullptr, ",")) {
        size_t ef = std::stoul(tok);
        ix->setEf(ef);
        double start = now(), best = 1e300, cbest = 1e300;
        for (int trial = 0; trial < 3 || now() - start < min_time; trial++) {
            double s0 = now(), c0 = cpu_now();
            for (size_t q = 0; q < nq; q++)
                one(q);
            best = std::min(best, now() - s0);
            cbest = std::min(cbest, cpu_now() - c0);
        }
        double qps1 = (double)nq / best;
        size_t hit = 0;
        for (size_t q = 0; q < nq; q++)
            for (size_t a = 0; a < K; a++)
                for (size_t b = 0; b < K; b++)
                    hit += got[q * K + a] == gt[q * K + b];
        double qpsT = 0;
        if (threads > 1) {
            start = now();
            best = 1e300;
            for (int trial = 0; trial < 3 || now() - start < min_time; trial++) {
                double s0 = now();
                std::atomic<size_t> nx(0);
                auto work = [&]() {
                    for (size_t q; (q = nx.fetch_add(1)) < nq;)
                        one(q);
                };
                for (unsigned t = 1; t < threads; t++)
                    th.emplace_back(work);
                work();
                for (auto &t : th)
                    t.join();
                th.clear();
                best = std::min(best, now() - s0);
            }
            qpsT = (double)nq / best;
        }
        std::printf(
            "sweep lib=hnswlib-native storage=f32 ef=%zu recall=%.4f qps1=%.0f cpu_qps1=%.0f", ef,
            (double)hit / (double)(nq * K), qps1, (double)nq / cbest);
        if (threads > 1)
            std::printf(" qps%u=%.0f", threads, qpsT);
        std::printf("\n");
        std::fflush(stdout);
    }
    free(list);
    delete ix;
    return 0;
}
