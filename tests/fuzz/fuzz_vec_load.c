/*
 * fuzz_vec_load.c - libFuzzer target: load arbitrary bytes as a
 * cm_vec_index file image. Loading must fail cleanly (CM_ECORRUPT,
 * CM_ENOTSUP, CM_ENOMEM) or produce an index that can be searched,
 * modified and freed without memory errors.
 *
 * The checksum rejects almost every random input early; to reach the
 * structural checks the target also tries the input with both CRCs
 * recomputed ("resealed"), so mutations of a valid file exercise the
 * parser itself.
 *
 * Build and run: see tests/fuzz/README.md (clang -fsanitize=fuzzer,address,
 * undefined over this file, lib/vec's C files and lib/util's error.c and
 * alloc.c).
 */
#include <community/vec.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void exercise(cm_vec_index *ix)
{
    size_t dim = cm_vec_index_dim(ix);
    if (dim == 0 || dim > 4096)
        return;
    float *q = calloc(dim, sizeof *q);
    if (!q)
        return;
    for (size_t i = 0; i < dim; i++)
        q[i] = (float)(i % 7) - 3.0f;
    int64_t ids[8];
    float dist[8];
    size_t found;
    (void)cm_vec_index_search(ids, dist, &found, ix, q, dim, 8, NULL);
    cm_vec_search_options so = CM_VEC_SEARCH_OPTIONS_INIT;
    uint8_t allow[4] = {0x55, 0x55, 0x55, 0x55};
    so.allow = allow;
    so.allow_bits = 32;
    (void)cm_vec_index_search(ids, dist, &found, ix, q, dim, 3, &so);
    if (found)
        (void)cm_vec_index_remove(ix, ids[0]);
    (void)cm_vec_index_add(ix, 1000000, q, dim);
    (void)cm_vec_index_search(ids, dist, &found, ix, q, dim, 8, NULL);
    free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cm_vec_index *ix = NULL;
    if (cm_vec_index_load_buffer(&ix, data, size) == CM_OK) {
        exercise(ix);
        cm_vec_index_free(ix);
    }
    if (size >= 80 && size <= (1u << 20)) {
        uint8_t *b = malloc(size);
        if (!b)
            return 0;
        memcpy(b, data, size);
        memcpy(b, "CMVECIDX", 8);
        put32(b + 72, crc32_ref(b + 80, size - 80));
        put32(b + 76, crc32_ref(b, 76));
        if (cm_vec_index_load_buffer(&ix, b, size) == CM_OK) {
            exercise(ix);
            cm_vec_index_free(ix);
        }
        free(b);
    }
    return 0;
}
