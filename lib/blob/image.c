/*
 * image.c - what an uploaded file is, judged from its bytes alone
 * (image.h): the content type sniffed by libmagic, the dimensions read
 * from the format's header, a structural completeness check, and a
 * thumbnail made with libgd.
 *
 * The dimensions are read before anything is decoded, so that a small file
 * that claims a huge canvas (a decompression bomb) is refused without
 * allocating it. A file cut short (a truncated upload) is refused before
 * decoding too: PNG must end with its IEND chunk, JPEG with its EOI marker,
 * GIF with its trailer byte.
 */
#include "image.h"

#include <gd.h>
#include <magic.h>
#include <pthread.h>
#include <string.h>

/* ---- content type (libmagic) ----
 * A magic cookie is not thread-safe and loading its database costs a few
 * milliseconds: one cookie, made on first use, used under a lock. */
static pthread_mutex_t magic_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t cookie;

static int sniff(char *out, size_t cap, const void *p, size_t n)
{
    pthread_mutex_lock(&magic_lock);
    if (!cookie) {
        cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_TAR |
                            MAGIC_NO_CHECK_ELF | MAGIC_ERROR);
        if (cookie && magic_load(cookie, NULL) != 0) {
            magic_close(cookie);
            cookie = NULL;
        }
    }
    const char *t = cookie ? magic_buffer(cookie, p, n) : NULL;
    if (t)
        snprintf(out, cap, "%s", t);
    pthread_mutex_unlock(&magic_lock);
    if (!t)
        return cm__error_set(CM_ERROR,
                             "libmagic could not judge the file (is its database installed?)");
    return CM_OK;
}

/* ---- dimensions from the headers ---- */

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[1] << 8 | p[0];
}
static uint32_t le24(const uint8_t *p)
{
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static bool png_dims(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h)
{
    if (n < 8 + 25 + 12 || memcmp(p + 12, "IHDR", 4) != 0)
        return false;
    *w = be32(p + 16);
    *h = be32(p + 20);
    /* complete: the last chunk is IEND (length 0, type, CRC) */
    return memcmp(p + n - 8, "IEND", 4) == 0;
}

static bool jpeg_dims(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h)
{
    if (n < 4 || p[n - 2] != 0xFF || p[n - 1] != 0xD9)
        return false; /* no EOI: cut short */
    size_t i = 2;
    while (i + 9 < n) {
        if (p[i] != 0xFF)
            return false;
        uint8_t m = p[i + 1];
        if (m == 0xFF) {
            i++;
            continue;
        }
        if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {
            i += 2;
            continue;
        }
        uint32_t len = be16(p + i + 2);
        if (len < 2)
            return false;
        /* SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC) */
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            *h = be16(p + i + 5);
            *w = be16(p + i + 7);
            return true;
        }
        i += 2 + len;
    }
    return false;
}

static bool gif_dims(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h)
{
    if (n < 14 || p[n - 1] != 0x3B)
        return false; /* no trailer: cut short */
    *w = le16(p + 6);
    *h = le16(p + 8);
    return true;
}

static bool webp_dims(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h)
{
    if (n < 30 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WEBP", 4) != 0)
        return false;
    uint32_t riff =
        (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    if ((size_t)riff + 8 > n)
        return false; /* cut short */
    const uint8_t *c = p + 12;
    if (memcmp(c, "VP8X", 4) == 0) {
        *w = le24(c + 12) + 1;
        *h = le24(c + 15) + 1;
        return true;
    }
    if (memcmp(c, "VP8 ", 4) == 0 && c[11] == 0x9D && c[12] == 0x01 && c[13] == 0x2A) {
        *w = le16(c + 14) & 0x3FFF;
        *h = le16(c + 16) & 0x3FFF;
        return true;
    }
    if (memcmp(c, "VP8L", 4) == 0 && c[8] == 0x2F) {
        uint32_t b =
            (uint32_t)c[9] | (uint32_t)c[10] << 8 | (uint32_t)c[11] << 16 | (uint32_t)c[12] << 24;
        *w = (b & 0x3FFF) + 1;
        *h = ((b >> 14) & 0x3FFF) + 1;
        return true;
    }
    return false;
}

int cm__image_inspect(cm__image_info *info, const void *data, size_t n, int64_t max_pixels)
{
    memset(info, 0, sizeof *info);
    if (n == 0)
        return cm__error_set_field(CM_EINVAL, "content", "the file is empty");
    int rc = sniff(info->content_type, sizeof info->content_type, data, n);
    if (rc)
        return rc;
    const uint8_t *p = data;
    uint32_t w = 0, h = 0;
    bool ok;
    if (strcmp(info->content_type, "image/png") == 0)
        ok = png_dims(p, n, &w, &h);
    else if (strcmp(info->content_type, "image/jpeg") == 0)
        ok = jpeg_dims(p, n, &w, &h);
    else if (strcmp(info->content_type, "image/gif") == 0)
        ok = gif_dims(p, n, &w, &h);
    else if (strcmp(info->content_type, "image/webp") == 0)
        ok = webp_dims(p, n, &w, &h);
    else
        return cm__error_set_field(CM_EINVAL, "content",
                                   "the file is %.60s, not an image this server takes (PNG, JPEG, "
                                   "GIF or WebP)",
                                   info->content_type);
    if (!ok)
        return cm__error_set_field(CM_EINVAL, "content", "the %s image is truncated or malformed",
                                   info->content_type);
    if (w == 0 || h == 0)
        return cm__error_set_field(CM_EINVAL, "content", "the image has no pixels");
    if ((int64_t)w * h > max_pixels)
        return cm__error_set_field(CM_EINVAL, "content",
                                   "the image is %ux%u pixels, more than %lld in all", w, h,
                                   (long long)max_pixels);
    info->width = w;
    info->height = h;
    return CM_OK;
}

int cm__image_thumbnail(void **out, size_t *n_out, char ctype_out[32], const cm__image_info *info,
                        const void *data, size_t n, uint32_t max_side)
{
    *out = NULL;
    *n_out = 0;
    if (n > INT32_MAX)
        return cm__error_set(CM_ERANGE, "the image is too large to decode");
    gdImagePtr src = NULL;
    void *d = (void *)data; /* gd's decoders take a non-const pointer and only read */
    const char *t = info->content_type;
    if (strcmp(t, "image/png") == 0)
        src = gdImageCreateFromPngPtr((int)n, d);
    else if (strcmp(t, "image/jpeg") == 0)
        src = gdImageCreateFromJpegPtrEx((int)n, d, 1);
    else if (strcmp(t, "image/gif") == 0)
        src = gdImageCreateFromGifPtr((int)n, d);
    else if (strcmp(t, "image/webp") == 0)
        src = gdImageCreateFromWebpPtr((int)n, d);
    if (!src)
        return cm__error_set_field(CM_EINVAL, "content", "the %s image cannot be decoded", t);
    uint32_t sw = (uint32_t)gdImageSX(src), sh = (uint32_t)gdImageSY(src);
    uint32_t dw = sw, dh = sh;
    if (sw > max_side || sh > max_side) {
        if (sw >= sh) {
            dw = max_side;
            dh = (uint32_t)((uint64_t)sh * max_side / sw);
        } else {
            dh = max_side;
            dw = (uint32_t)((uint64_t)sw * max_side / sh);
        }
        if (dw == 0)
            dw = 1;
        if (dh == 0)
            dh = 1;
    }
    gdImagePtr dst = gdImageCreateTrueColor((int)dw, (int)dh);
    if (!dst) {
        gdImageDestroy(src);
        return cm__oom();
    }
    bool jpeg = strcmp(t, "image/jpeg") == 0;
    if (!jpeg) {
        gdImageAlphaBlending(dst, 0);
        gdImageSaveAlpha(dst, 1);
        gdImageFilledRectangle(dst, 0, 0, (int)dw - 1, (int)dh - 1,
                               gdImageColorAllocateAlpha(dst, 0, 0, 0, 127));
    }
    gdImageCopyResampled(dst, src, 0, 0, 0, 0, (int)dw, (int)dh, (int)sw, (int)sh);
    gdImageDestroy(src);
    int size = 0;
    void *enc = jpeg ? gdImageJpegPtr(dst, &size, 85) : gdImagePngPtrEx(dst, &size, 9);
    gdImageDestroy(dst);
    if (!enc || size <= 0) {
        if (enc)
            gdFree(enc);
        return cm__error_set(CM_ERROR, "the thumbnail could not be encoded");
    }
    /* hand the caller memory from the library's own funnel */
    void *copy = cm__malloc((size_t)size);
    if (!copy) {
        gdFree(enc);
        return cm__oom();
    }
    memcpy(copy, enc, (size_t)size);
    gdFree(enc);
    *out = copy;
    *n_out = (size_t)size;
    snprintf(ctype_out, 32, "%s", jpeg ? "image/jpeg" : "image/png");
    return CM_OK;
}
