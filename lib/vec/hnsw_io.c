/*
 * hnsw_io.c - the cm_vec_index file format: save (atomic replace) and load
 * (from a file or a buffer). Loading never trusts its input: the header is
 * checked, then the CRC-32 of header and payload, then every count, level,
 * link and vector as it is parsed, with allocations bounded by the size of
 * the input. Any inconsistency is CM_ECORRUPT.
 *
 * Layout, little-endian:
 *   header (80 bytes)
 *     0 magic "CMVECIDX"   8 u32 version (1)   12 u32 header size (80)
 *    16 u32 dim           20 u32 metric        24 u32 storage
 *    28 u32 m             32 u32 ef_construction
 *    36 i32 max level (-1 when empty)          40 u64 slots
 *    48 u64 entry slot (all ones when empty)   56 u64 level generator state
 *    64 u64 payload bytes 72 u32 payload CRC   76 u32 CRC of bytes 0..75
 *   payload: per slot
 *     u8 flags (bit 0 removed: a DEAD or FREE slot, loaded as DEAD and
 *     repaired before reuse), u8 level, i64 id, dim values (f32 or bf16),
 *     then for each layer 0..level: u32 count, count * u32 neighbour slot.
 */
#include "hnsw_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "CMVECIDX"
#define VERSION 1u
#define HEADER 80u

/* ---- CRC-32 (IEEE, reflected) ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_update(uint32_t crc, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- little-endian helpers ---- */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- save ---- */

/* A buffered writer that keeps the running CRC and byte count. */
typedef struct {
    FILE *f;
    uint32_t crc;
    uint64_t bytes;
    int err;
} writer;

static void wr(writer *w, const void *p, size_t n)
{
    if (w->err || n == 0)
        return;
    if (fwrite(p, 1, n, w->f) != n)
        w->err = errno ? errno : EIO;
    w->crc = crc32_update(w->crc, p, n);
    w->bytes += n;
}

static void wr32(writer *w, uint32_t v)
{
    unsigned char b[4];
    put32(b, v);
    wr(w, b, 4);
}

static void write_vector(writer *w, const cm_vec_index *ix, uint32_t s)
{
    const unsigned char *v = ix->vecs + (size_t)s * ix->vbytes;
    unsigned char buf[256];
    size_t elt = ix->storage == CM_VEC_STORE_BF16 ? 2 : 4, per = sizeof buf / elt;
    for (size_t i = 0; i < ix->dim; i += per) {
        size_t n = ix->dim - i < per ? ix->dim - i : per;
        for (size_t j = 0; j < n; j++) {
            if (elt == 2) {
                uint16_t h;
                memcpy(&h, v + (i + j) * 2, 2);
                buf[2 * j] = (unsigned char)h;
                buf[2 * j + 1] = (unsigned char)(h >> 8);
            } else {
                uint32_t u;
                memcpy(&u, v + (i + j) * 4, 4);
                put32(buf + 4 * j, u);
            }
        }
        wr(w, buf, n * elt);
    }
}

static void fill_header(unsigned char *h, const cm_vec_index *ix, uint64_t payload, uint32_t crc)
{
    memset(h, 0, HEADER);
    memcpy(h, MAGIC, 8);
    put32(h + 8, VERSION);
    put32(h + 12, HEADER);
    put32(h + 16, (uint32_t)ix->dim);
    put32(h + 20, (uint32_t)ix->metric);
    put32(h + 24, (uint32_t)ix->storage);
    put32(h + 28, ix->m);
    put32(h + 32, ix->ef_construction);
    put32(h + 36, (uint32_t)(int32_t)ix->max_level);
    put64(h + 40, ix->n);
    put64(h + 48, ix->entry < 0 ? UINT64_MAX : (uint64_t)ix->entry);
    put64(h + 56, ix->rng);
    put64(h + 64, payload);
    put32(h + 72, crc);
    put32(h + 76, crc32_update(0, h, 76));
}

int cm_vec_index_save(const cm_vec_index *cix, const char *path)
{
    if (!cix || !path)
        return cm__error_set(CM_EINVAL, "cm_vec_index_save: NULL argument");
    (void)pthread_once(&crc_once, crc_init);
    size_t plen = strlen(path);
    char *tmp = cm__malloc(plen + 16);
    if (!tmp)
        return cm__error_set(CM_ENOMEM, "cm_vec_index_save: out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        cm__free(tmp);
        return cm__error_set(CM_EIO, "cannot create a file next to %s: %s", path, strerror(e));
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        (void)close(fd);
        (void)unlink(tmp);
        cm__free(tmp);
        return cm__error_set(CM_EIO, "fdopen: %s", strerror(e));
    }
    cm_vec_index *ix = (cm_vec_index *)cix;
    (void)pthread_rwlock_rdlock(&ix->lock);
    unsigned char h[HEADER];
    fill_header(h, ix, 0, 0); /* placeholder, rewritten below */
    writer w = {f, 0, 0, 0};
    if (fwrite(h, 1, HEADER, f) != HEADER)
        w.err = errno ? errno : EIO;
    for (size_t s = 0; s < ix->n && !w.err; s++) {
        unsigned char sh[10];
        sh[0] = ix->state[s] != CM__SLOT_LIVE ? 1 : 0;
        sh[1] = ix->levels[s];
        put64(sh + 2, (uint64_t)ix->ids[s]);
        wr(&w, sh, sizeof sh);
        write_vector(&w, ix, (uint32_t)s);
        for (int lc = 0; lc <= ix->levels[s]; lc++) {
            const uint32_t *l = cm__hnsw_links(ix, (uint32_t)s, lc);
            for (uint32_t j = 0; j <= l[0]; j++)
                wr32(&w, l[j]);
        }
    }
    fill_header(h, ix, w.bytes, w.crc);
    (void)pthread_rwlock_unlock(&ix->lock);
    if (!w.err && (fseek(f, 0, SEEK_SET) != 0 || fwrite(h, 1, HEADER, f) != HEADER))
        w.err = errno ? errno : EIO;
    if (!w.err && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        w.err = errno ? errno : EIO;
    if (fclose(f) != 0 && !w.err)
        w.err = errno ? errno : EIO;
    if (!w.err && rename(tmp, path) != 0)
        w.err = errno ? errno : EIO;
    int rc = CM_OK;
    if (w.err) {
        (void)unlink(tmp);
        rc = cm__error_set(CM_EIO, "cannot write %s: %s", path, strerror(w.err));
    }
    cm__free(tmp);
    return rc;
}

/* ---- load ---- */

typedef struct {
    const unsigned char *p;
    size_t left;
} reader;

static int take(reader *r, const unsigned char **out, size_t n)
{
    if (r->left < n)
        return 0;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 1;
}

static int corrupt(const char *what)
{
    return cm__error_set(CM_ECORRUPT, "vector index file is corrupt: %s", what);
}

/* Parse one slot into ix (already sized). */
static int load_slot(cm_vec_index *ix, reader *r, uint32_t s)
{
    const unsigned char *p;
    if (!take(r, &p, 10))
        return corrupt("truncated slot");
    if (p[0] & ~1u)
        return corrupt("unknown slot flags");
    int level = p[1];
    if (level > ix->max_level)
        return corrupt("slot level above the index level");
    int64_t id = (int64_t)get64(p + 2);
    ix->state[s] = (p[0] & 1) ? CM__SLOT_DEAD : CM__SLOT_LIVE;
    if (id < 0)
        return corrupt("negative id");
    ix->ids[s] = id;
    size_t elt = ix->storage == CM_VEC_STORE_BF16 ? 2 : 4;
    if (!take(r, &p, ix->dim * elt))
        return corrupt("truncated vector");
    unsigned char *v = ix->vecs + (size_t)s * ix->vbytes;
    for (size_t i = 0; i < ix->dim; i++) {
        if (elt == 2) {
            uint16_t hv = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
            if ((hv & 0x7f80) == 0x7f80)
                return corrupt("non-finite vector value");
            memcpy(v + 2 * i, &hv, 2);
        } else {
            uint32_t u = get32(p + 4 * i);
            if ((u & 0x7f800000u) == 0x7f800000u)
                return corrupt("non-finite vector value");
            memcpy(v + 4 * i, &u, 4);
        }
    }
    if (cm__hnsw_set_level(ix, s, level))
        return CM_ENOMEM;
    for (int lc = 0; lc <= level; lc++) {
        if (!take(r, &p, 4))
            return corrupt("truncated links");
        uint32_t cnt = get32(p);
        if (cnt > cm__hnsw_max_links(ix, lc))
            return corrupt("too many links");
        if (!take(r, &p, (size_t)cnt * 4))
            return corrupt("truncated links");
        uint32_t *l = cm__hnsw_links(ix, s, lc);
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t nb = get32(p + 4 * j);
            if (nb >= ix->n || nb == s)
                return corrupt("link to a missing slot");
            l[1 + j] = nb;
        }
        l[0] = cnt;
    }
    if (ix->state[s] != CM__SLOT_LIVE) {
        if (cm__hnsw_push_dead(ix, s)) /* repaired before its slot is reused */
            return CM_ENOMEM;
    } else {
        int rc = cm__idmap_put(&ix->map, ix->ids, s);
        if (rc == CM_EEXISTS)
            return corrupt("duplicate id");
        if (rc)
            return CM_ENOMEM;
        ix->live++;
    }
    return CM_OK;
}

int cm_vec_index_load_buffer(cm_vec_index **out, const void *buf, size_t len)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm_vec_index_load: out is NULL");
    *out = NULL;
    if (!buf && len)
        return cm__error_set(CM_EINVAL, "cm_vec_index_load: NULL buffer");
    (void)pthread_once(&crc_once, crc_init);
    const unsigned char *h = buf;
    if (len < HEADER || memcmp(h, MAGIC, 8) != 0)
        return corrupt("not a libcommunity vector index");
    if (get32(h + 76) != crc32_update(0, h, 76))
        return corrupt("header checksum mismatch");
    uint32_t version = get32(h + 8);
    if (version > VERSION)
        return cm__error_set(CM_ENOTSUP, "vector index format %u is newer than this library (%u)",
                             (unsigned)version, VERSION);
    if (version == 0 || get32(h + 12) != HEADER)
        return corrupt("bad header");
    uint32_t dim = get32(h + 16), metric = get32(h + 20), storage = get32(h + 24);
    uint32_t m = get32(h + 28), efc = get32(h + 32);
    int32_t max_level = (int32_t)get32(h + 36);
    uint64_t slots = get64(h + 40), entry = get64(h + 48), payload = get64(h + 64);
    if (dim == 0 || dim > (1u << 24) || metric > CM_VEC_COSINE ||
        (storage != CM_VEC_STORE_F32 && storage != CM_VEC_STORE_BF16) || m < 2 || m > 128 ||
        efc == 0 || efc > 4096 || max_level < -1 || max_level > CM__HNSW_MAX_LEVEL)
        return corrupt("header field out of range");
    if (payload != len - HEADER)
        return corrupt("payload length mismatch");
    if (get32(h + 72) != crc32_update(0, h + HEADER, len - HEADER))
        return corrupt("payload checksum mismatch");
    size_t elt = storage == CM_VEC_STORE_BF16 ? 2 : 4;
    /* every slot takes at least 14 + dim * elt bytes: bounds the allocation */
    if (slots > payload / (14 + (uint64_t)dim * elt) || slots > UINT32_MAX - 1)
        return corrupt("slot count exceeds the payload");
    if ((slots == 0) != (max_level < 0) || (slots && entry >= slots) ||
        (!slots && entry != UINT64_MAX))
        return corrupt("bad entry point");

    cm_vec_index *ix = NULL;
    int rc = cm__hnsw_create(&ix, dim, (int)metric, (int)storage, m, efc, 0);
    if (rc)
        return rc;
    ix->rng = get64(h + 56) ? get64(h + 56) : 1;
    ix->max_level = max_level;
    if ((rc = cm__hnsw_reserve(ix, (size_t)slots)))
        goto fail;
    ix->n = (size_t)slots;
    if (cm__idmap_reserve(&ix->map, ix->ids, (size_t)slots)) {
        rc = CM_ENOMEM;
        goto fail;
    }
    reader r = {h + HEADER, len - HEADER};
    for (uint32_t s = 0; s < slots; s++)
        if ((rc = load_slot(ix, &r, s)))
            goto fail;
    if (r.left) {
        rc = corrupt("trailing bytes");
        goto fail;
    }
    if (ix->live) {
        if (ix->state[entry] != CM__SLOT_LIVE || ix->levels[entry] != max_level) {
            rc = corrupt("entry point is not a live top-level slot");
            goto fail;
        }
        ix->entry = (int64_t)entry;
    } else {
        ix->entry = -1;
        ix->max_level = -1;
    }
    *out = ix;
    return CM_OK;
fail:
    cm_vec_index_free(ix);
    if (rc == CM_ENOMEM)
        return cm__error_set(CM_ENOMEM, "cm_vec_index_load: out of memory");
    return rc;
}

int cm_vec_index_load(cm_vec_index **out, const char *path)
{
    if (!out || !path)
        return cm__error_set(CM_EINVAL, "cm_vec_index_load: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cm__error_set(CM_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        (void)close(fd);
        return cm__error_set(CM_EIO, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX / 2) {
        (void)close(fd);
        return cm__error_set(CM_ENOMEM, "%s is too large", path);
    }
    size_t len = (size_t)st.st_size;
    unsigned char *buf = cm__malloc(len ? len : 1);
    if (!buf) {
        (void)close(fd);
        return cm__error_set(CM_ENOMEM, "cm_vec_index_load: out of memory");
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : 0;
            (void)close(fd);
            cm__free(buf);
            return cm__error_set(CM_EIO, "cannot read %s: %s", path,
                                 e ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)n;
    }
    (void)close(fd);
    int rc = cm_vec_index_load_buffer(out, buf, len);
    cm__free(buf);
    return rc;
}
