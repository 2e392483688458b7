/*
 * mail_int.h - helpers shared by the files of lib/mail: base64, and a
 * printable rendering of untrusted text for error messages (the growable
 * buffer is lib/util's cm__buf).
 */
#ifndef CM_MAIL_INT_H
#define CM_MAIL_INT_H

#include "mail.h"

/* Standard base64 of in[0..n) into out (4 * ceil(n / 3) bytes plus a NUL);
 * returns the number of characters written. */
size_t cm__mail_base64(char *out, const unsigned char *in, size_t n);

/* s (may be NULL) for an error message: at most n - 1 bytes, control
 * characters shown as '?', "..." when cut. */
void cm__mail_shown(char *out, size_t n, const char *s);

#endif /* CM_MAIL_INT_H */
