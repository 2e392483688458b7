/*
 * image.h - judging an uploaded file from its bytes (internal): content
 * type (libmagic), dimensions, completeness, and thumbnails (libgd).
 * Accepted: image/png, image/jpeg, image/gif, image/webp.
 */
#ifndef CM_BLOB_IMAGE_H
#define CM_BLOB_IMAGE_H

#include "../util/util.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cm__image_info {
    char content_type[64]; /* as libmagic reads the bytes */
    uint32_t width, height;
} cm__image_info;

/* Sniff and check data[0..n). CM_OK with info filled; CM_EINVAL (field
 * "content") for an empty file, a type that is not an accepted image, an
 * image cut short or malformed, or one of more than max_pixels pixels.
 * Thread-safe. */
int cm__image_inspect(cm__image_info *info, const void *data, size_t n, int64_t max_pixels);

/* A thumbnail whose longer side is at most max_side pixels (never
 * enlarged): JPEG for a JPEG, PNG (with alpha) for the others. *out is
 * freed with cm__free; ctype_out gets its content type. CM_EINVAL when the
 * image does not decode, CM_ENOMEM. Thread-safe. */
int cm__image_thumbnail(void **out, size_t *n_out, char ctype_out[32], const cm__image_info *info,
                        const void *data, size_t n, uint32_t max_side);

#endif /* CM_BLOB_IMAGE_H */
