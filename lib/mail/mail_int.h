/*
 * mail_int.h - helpers shared by the files of lib/mail: a growable byte
 * buffer that remembers an allocation failure, base64, and a printable
 * rendering of untrusted text for error messages.
 */
#ifndef CM_MAIL_INT_H
#define CM_MAIL_INT_H

#include "mail.h"

typedef struct cm__mail_buf {
    char *p;
    size_t len, cap;
    int err; /* CM_ENOMEM once an append failed; later appends do nothing */
} cm__mail_buf;

void cm__mail_buf_put(cm__mail_buf *b, const char *s, size_t n);
void cm__mail_buf_puts(cm__mail_buf *b, const char *s);
void cm__mail_buf_printf(cm__mail_buf *b, const char *fmt, ...) CM__PRINTF(2, 3);

/* Standard base64 of in[0..n) into out (4 * ceil(n / 3) bytes plus a NUL);
 * returns the number of characters written. */
size_t cm__mail_base64(char *out, const unsigned char *in, size_t n);

/* s (may be NULL) for an error message: at most n - 1 bytes, control
 * characters shown as '?', "..." when cut. */
void cm__mail_shown(char *out, size_t n, const char *s);

#endif /* CM_MAIL_INT_H */
