/*
 * common.h - helpers shared by the vec benchmark programs: a monotonic
 * clock, .f32 file I/O (raw little-endian float32, row-major, no header:
 * numpy.fromfile / Float32Array read them as is), a single-thread memory
 * read bandwidth probe, small statistics and machine description.
 * Benchmark code, not part of the library.
 */
#ifndef VB_COMMON_H
#define VB_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic time in seconds. */
double vb_now(void);
/* "wall", or "thread" when VB_CLOCK=thread makes vb_now() read the calling
 * thread's CPU-time clock (for single-thread measurements on a loaded
 * machine). */
const char *vb_clock_name(void);

/* Read a whole .f32 file of rows of `dim` floats; *n_out = rows. NULL on
 * error (message on stderr). Free with free(). */
float *vb_read_f32(const char *path, size_t dim, size_t *n_out);

/* Write `count` floats; 0 on success, -1 on error (message on stderr). */
int vb_write_f32(const char *path, const float *v, size_t count);

/* Write `count` int32 values (raw little-endian); 0 or -1. */
int vb_write_i32(const char *path, const int32_t *v, size_t count);

/*
 * Single-thread memory read bandwidth probe. One pass sums `bytes` of `buf`
 * (already touched, with non-zero contents) with 512-bit loads (AVX-512
 * when the CPU has it, else AVX2, else scalar) and eight independent
 * accumulators, reading the buffer as `streams` equal parts in lockstep.
 * vb_bandwidth_pass returns the seconds taken and the bytes read;
 * vb_bandwidth_best makes one pass with each of 1, 2, 4 and 8 streams and
 * returns the best rate in GB/s (1e9 bytes/s), the stream count that gave
 * it and the kind of loads used.
 */
double vb_bandwidth_pass(const void *buf, size_t bytes, int streams, size_t *read_out);
double vb_bandwidth_best(const void *buf, size_t bytes, int *streams_out, const char **kind_out);

/*
 * A buffer of `bytes` filled with distinct non-zero floats (pages of zeros
 * may be shared - zero page, host deduplication - and read from cache).
 * With huge = 1 its 2 MiB-aligned interior is advised for transparent huge
 * pages before the first write, as libcommunity does for matrix rows. NULL
 * when out of memory; free with free().
 */
void *vb_alloc_filled(size_t bytes, int huge);

/* Median and minimum of n values (v is reordered). */
double vb_median(double *v, size_t n);
double vb_min(const double *v, size_t n);

/* "model name" of /proc/cpuinfo (or "unknown") into buf. */
void vb_cpu_model(char *buf, size_t len);

/* Keep a value alive so the compiler cannot drop the work producing it. */
extern volatile double vb_sink;

#endif /* VB_COMMON_H */
