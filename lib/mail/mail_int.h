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

/* ---- the Amazon SES v2 sender (ses.c), behind cm__mail_sender ---- */
typedef struct cm__mail_ses cm__mail_ses;
/* uri starts with "ses://"; see cm__mail_sender_open. */
int cm__mail_ses_open(cm__mail_ses **out, const char *uri);
void cm__mail_ses_close(cm__mail_ses *s);
int64_t cm__mail_ses_timeout_ms(const cm__mail_ses *s);
/* As cm__mail_send, for valid addresses; res->smtp_code is the HTTP status. */
int cm__mail_ses_send(cm__mail_ses *s, const char *from, const char *const *rcpt, size_t nrcpt,
                      const char *data, size_t len, cm__mail_result *res);

#endif /* CM_MAIL_INT_H */
