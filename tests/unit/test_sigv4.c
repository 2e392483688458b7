/*
 * test_sigv4.c - Check suite "sigv4": AWS Signature Version 4
 * (lib/util/sigv4.c) against AWS's published vectors.
 *
 * - tests/data/aws-sig-v4-test-suite: AWS's Signature Version 4 Test Suite
 *   (every case: the request .req, the canonical request .creq, the string
 *   to sign .sts, the Authorization value .authz, the signed request .sreq),
 *   credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
 *   us-east-1, service "service". See tests/data/aws-sig-v4-test-suite/SOURCE.md.
 * - The S3 examples of AWS's "Signature Calculations for the Authorization
 *   Header" and "Authenticating Requests: Using Query Parameters" pages
 *   (examplebucket, AKIAIOSFODNN7EXAMPLE, 20130524T000000Z), whose
 *   signatures are quoted here.
 */
#include "fixtures.h"
#include "util/sigv4.h"
#include "util/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- reading the suite ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    else
        buf[len] = '\0';
    return buf;
}

#define MAXKV 16

typedef struct parsed {
    char *text; /* the .req file, cut in place */
    char method[16];
    char path[256];
    cm__sigv4_kv query[MAXKV];
    size_t nquery;
    cm__sigv4_kv headers[MAXKV];
    size_t nheaders;
    const char *body;
    char amz_date[17];
} parsed;

/* "METHOD URI HTTP/1.1\nName:value\n...\n\nbody": the URI's query split on
 * '&' and '=' (the suite's queries carry no percent escapes). */
static void parse_req(parsed *p, char *text)
{
    memset(p, 0, sizeof *p);
    p->text = text;
    char *line_end = strchr(text, '\n');
    ck_assert_ptr_nonnull(line_end);
    *line_end = '\0';
    char *sp1 = strchr(text, ' ');
    char *sp2 = strrchr(text, ' ');
    ck_assert(sp1 && sp2 && sp2 > sp1);
    *sp1 = '\0';
    *sp2 = '\0';
    snprintf(p->method, sizeof p->method, "%s", text);
    char *uri = sp1 + 1;
    char *q = strchr(uri, '?');
    if (q) {
        *q++ = '\0';
        while (*q) {
            char *amp = strchr(q, '&');
            if (amp)
                *amp = '\0';
            char *eq = strchr(q, '=');
            if (eq)
                *eq = '\0';
            ck_assert_uint_lt(p->nquery, MAXKV);
            p->query[p->nquery++] = (cm__sigv4_kv){q, eq ? eq + 1 : ""};
            if (!amp)
                break;
            q = amp + 1;
        }
    }
    snprintf(p->path, sizeof p->path, "%s", uri);
    char *s = line_end + 1;
    while (*s && *s != '\n') {
        char *e = strchr(s, '\n');
        if (e)
            *e = '\0';
        if ((*s == ' ' || *s == '\t') && p->nheaders > 0) {
            /* a folded line: the suite (get-header-value-multiline) reads it
             * as one more value of the same header, joined with ',' */
            ck_assert_uint_lt(p->nheaders, MAXKV);
            p->headers[p->nheaders] = (cm__sigv4_kv){p->headers[p->nheaders - 1].name, s};
            p->nheaders++;
            if (!e)
                break;
            s = e + 1;
            continue;
        }
        char *colon = strchr(s, ':');
        ck_assert_ptr_nonnull(colon);
        *colon = '\0';
        ck_assert_uint_lt(p->nheaders, MAXKV);
        p->headers[p->nheaders++] = (cm__sigv4_kv){s, colon + 1};
        if (strcasecmp(s, "X-Amz-Date") == 0)
            snprintf(p->amz_date, sizeof p->amz_date, "%s", colon + 1);
        if (!e) {
            s = s + strlen(s);
            break;
        }
        s = e + 1;
    }
    p->body = *s == '\n' ? s + 1 : "";
}

static const cm__sigv4_cred suite_cred = {
    .access_key = "AKIDEXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "service",
};

static const char *suite_dir(void)
{
    const char *d = getenv("CM_TEST_DATA");
    ck_assert_msg(d != NULL, "CM_TEST_DATA names tests/data (set by meson)");
    return d;
}

static char *case_file(const char *dir, const char *name, const char *ext)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    char *t = slurp(path);
    ck_assert_msg(t != NULL, "cannot read %s", path);
    return t;
}

/* Check one case directory; returns 1 when it held a case. */
static int check_case(const char *dir, const char *name)
{
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/%s.req", dir, name);
    struct stat st;
    if (stat(probe, &st) != 0)
        return 0;
    parsed p;
    parse_req(&p, case_file(dir, name, "req"));
    char hash[65];
    cm__sha256_hex(hash, p.body, strlen(p.body));
    cm__sigv4_req r = {
        .method = p.method,
        .path = p.path,
        .query = p.query,
        .nquery = p.nquery,
        .headers = p.headers,
        .nheaders = p.nheaders,
        .payload_hash = hash,
        .normalize_path = true, /* the suite is for services other than S3 */
    };
    char *want_creq = case_file(dir, name, "creq");
    char *want_sts = case_file(dir, name, "sts");
    char *want_authz = case_file(dir, name, "authz");
    char *want_sreq = case_file(dir, name, "sreq");

    char *creq = NULL, *sts = NULL, *authz = NULL;
    ck_assert_int_eq(cm__sigv4_canonical_request(&creq, &r), CM_OK);
    ck_assert_msg(strcmp(creq, want_creq) == 0, "%s: canonical request\n%s\nwant\n%s", name, creq,
                  want_creq);
    ck_assert_int_eq(cm__sigv4_string_to_sign(&sts, &suite_cred, p.amz_date, creq), CM_OK);
    if (strncmp(name, "post-x-www-form-urlencoded", 26) == 0) {
        /* The suite's own files disagree in its two form cases: the .sts does
         * not hold the SHA-256 of the .creq (which we match); for
         * post-x-www-form-urlencoded it is the hash of the .creq without its
         * content-length header, while .authz still lists that header. No
         * signer can reproduce both files, so check the .creq and that the
         * files still disagree. */
        char h[65];
        cm__sha256_hex(h, want_creq, strlen(want_creq));
        ck_assert_ptr_null(strstr(want_sts, h));
        ck_assert_ptr_nonnull(strstr(sts, h));
        cm__free(creq);
        cm__free(sts);
        free(want_creq);
        free(want_sts);
        free(want_authz);
        free(want_sreq);
        free(p.text);
        return 1;
    }
    ck_assert_msg(strcmp(sts, want_sts) == 0, "%s: string to sign\n%s\nwant\n%s", name, sts,
                  want_sts);
    ck_assert_int_eq(cm__sigv4_authorization(&authz, &suite_cred, p.amz_date, &r), CM_OK);
    ck_assert_msg(strcmp(authz, want_authz) == 0, "%s: authorization\n%s\nwant\n%s", name, authz,
                  want_authz);
    /* the signed request carries exactly that Authorization line */
    char line[1024];
    snprintf(line, sizeof line, "\nAuthorization: %s", authz);
    ck_assert_msg(strstr(want_sreq, line) != NULL, "%s: .sreq lacks %s", name, line);
    cm__free(creq);
    cm__free(sts);
    cm__free(authz);
    free(want_creq);
    free(want_sts);
    free(want_authz);
    free(want_sreq);
    free(p.text);
    return 1;
}

/* Walk the suite: every directory that holds <dirname>.req is a case. */
static int walk(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *e;
    int n = 0;
    char **names = NULL;
    size_t nn = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (nn + 1) * sizeof *names);
        names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    for (size_t i = 0; i < nn; i++) {
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", dir, names[i]);
        struct stat st;
        if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (!check_case(sub, names[i]))
                n += walk(sub);
            else
                n++;
        }
        free(names[i]);
    }
    free(names);
    return n;
}

START_TEST(aws_test_suite)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/aws-sig-v4-test-suite", suite_dir());
    int n = walk(dir);
    /* 22 top-level cases, 7 path normalisation cases, 2 STS token cases */
    ck_assert_int_eq(n, 31);
}
END_TEST

/* ---- S3's documented examples ---- */

static const cm__sigv4_cred s3_cred = {
    .access_key = "AKIAIOSFODNN7EXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "s3",
};

START_TEST(s3_get_object_header)
{
    /* "Example: GET Object": the first 10 bytes of examplebucket/test.txt */
    const cm__sigv4_kv h[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", CM__SHA256_HEX_EMPTY},
        {"x-amz-date", "20130524T000000Z"},
    };
    cm__sigv4_req r = {.method = "GET", .path = "/test.txt", .headers = h, .nheaders = 4};
    char *creq = NULL, *sts = NULL, *authz = NULL;
    ck_assert_int_eq(cm__sigv4_canonical_request(&creq, &r), CM_OK);
    ck_assert_str_eq(creq, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n"
                           "range:bytes=0-9\nx-amz-content-sha256:" CM__SHA256_HEX_EMPTY "\n"
                           "x-amz-date:20130524T000000Z\n\n"
                           "host;range;x-amz-content-sha256;x-amz-date\n" CM__SHA256_HEX_EMPTY);
    ck_assert_int_eq(cm__sigv4_string_to_sign(&sts, &s3_cred, "20130524T000000Z", creq), CM_OK);
    ck_assert_str_eq(sts, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                          "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    ck_assert_int_eq(cm__sigv4_authorization(&authz, &s3_cred, "20130524T000000Z", &r), CM_OK);
    ck_assert_str_eq(authz,
                     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                     "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                     "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    cm__free(creq);
    cm__free(sts);
    cm__free(authz);
}
END_TEST

START_TEST(s3_put_object_header)
{
    /* "Example: PUT Object": "Welcome to Amazon S3." into test$file.text */
    const char *body = "Welcome to Amazon S3.";
    char hash[65];
    cm__sha256_hex(hash, body, strlen(body));
    ck_assert_str_eq(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    const cm__sigv4_kv h[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"x-amz-content-sha256", hash},
    };
    cm__sigv4_req r = {.method = "PUT",
                       .path = "/test$file.text",
                       .headers = h,
                       .nheaders = 5,
                       .payload_hash = hash};
    char *authz = NULL;
    ck_assert_int_eq(cm__sigv4_authorization(&authz, &s3_cred, "20130524T000000Z", &r), CM_OK);
    ck_assert_str_eq(authz,
                     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                     "aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
                     "x-amz-storage-class, "
                     "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    cm__free(authz);
}
END_TEST

START_TEST(s3_presigned_get)
{
    /* "Authenticating Requests: Using Query Parameters": GET test.txt, 24 hours */
    const cm__sigv4_kv h[] = {{"host", "examplebucket.s3.amazonaws.com"}};
    cm__sigv4_req r = {.method = "GET", .path = "/test.txt", .headers = h, .nheaders = 1};
    char *q = NULL;
    ck_assert_int_eq(cm__sigv4_presign_query(&q, &s3_cred, "20130524T000000Z", 86400, &r), CM_OK);
    ck_assert_str_eq(
        q, "X-Amz-Algorithm=AWS4-HMAC-SHA256"
           "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
           "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
           "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    cm__free(q);
}
END_TEST

START_TEST(signing_key_and_dates)
{
    /* AWS's "Examples of how to derive a signing key" (iam, 20120215) */
    const cm__sigv4_cred c = {.access_key = "AKIDEXAMPLE",
                              .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                              .region = "us-east-1",
                              .service = "iam"};
    uint8_t k[32];
    cm__sigv4_signing_key(k, &c, "20120215");
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", k[i]);
    ck_assert_str_eq(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");

    char d[17];
    cm__sigv4_amz_date(d, INT64_C(1440938160) * 1000000 + 999999);
    ck_assert_str_eq(d, "20150830T123600Z");
    cm__sigv4_amz_date(d, 0);
    ck_assert_str_eq(d, "19700101T000000Z");
}
END_TEST

START_TEST(bad_input)
{
    const cm__sigv4_kv nohost[] = {{"x-amz-date", "20150830T123600Z"}};
    const cm__sigv4_kv host[] = {{"Host", "example.amazonaws.com"}};
    cm__sigv4_req r = {.method = "GET", .path = "/", .headers = nohost, .nheaders = 1};
    char *out = (char *)"untouched";
    ck_assert_int_eq(cm__sigv4_authorization(&out, &suite_cred, "20150830T123600Z", &r), CM_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(cm_error_message(), "host"));
    r.headers = host;
    ck_assert_int_eq(cm__sigv4_authorization(&out, &suite_cred, "2015-08-30", &r), CM_EINVAL);
    r.path = "relative";
    ck_assert_int_eq(cm__sigv4_canonical_request(&out, &r), CM_EINVAL);
    r.path = "/";
    ck_assert_int_eq(cm__sigv4_presign_query(&out, &suite_cred, "20150830T123600Z", 0, &r),
                     CM_EINVAL);
    ck_assert_int_eq(cm__sigv4_presign_query(&out, &suite_cred, "20150830T123600Z", 604801, &r),
                     CM_EINVAL);
    cm__sigv4_cred nokey = suite_cred;
    nokey.secret_key = NULL;
    ck_assert_int_eq(cm__sigv4_authorization(&out, &nokey, "20150830T123600Z", &r), CM_EINVAL);

    /* S3 paths are encoded once and never normalised */
    const cm__sigv4_kv h[] = {{"Host", "b.example"}};
    cm__sigv4_req s3 = {.method = "GET", .path = "/b/../a b//ü", .headers = h, .nheaders = 1};
    ck_assert_int_eq(cm__sigv4_canonical_request(&out, &s3), CM_OK);
    ck_assert_ptr_nonnull(strstr(out, "\n/b/../a%20b//%C3%BC\n"));
    cm__free(out);
}
END_TEST

START_TEST(session_token_presign)
{
    cm__sigv4_cred c = s3_cred;
    c.session_token = "tok/en+=";
    const cm__sigv4_kv h[] = {{"host", "examplebucket.s3.amazonaws.com"}};
    const cm__sigv4_kv q[] = {{"versionId", "v 1"}};
    cm__sigv4_req r = {
        .method = "PUT", .path = "/k", .query = q, .nquery = 1, .headers = h, .nheaders = 1};
    char *qs = NULL;
    ck_assert_int_eq(cm__sigv4_presign_query(&qs, &c, "20130524T000000Z", 60, &r), CM_OK);
    ck_assert_ptr_nonnull(strstr(qs, "&X-Amz-Security-Token=tok%2Fen%2B%3D&"));
    ck_assert_ptr_nonnull(strstr(qs, "&versionId=v%201&X-Amz-Signature="));
    cm__free(qs);
}
END_TEST

static Suite *sigv4_suite(void)
{
    Suite *s = suite_create("sigv4");
    TCase *tc = tcase_create("aws");
    tcase_add_test(tc, aws_test_suite);
    tcase_add_test(tc, s3_get_object_header);
    tcase_add_test(tc, s3_put_object_header);
    tcase_add_test(tc, s3_presigned_get);
    tcase_add_test(tc, signing_key_and_dates);
    suite_add_tcase(s, tc);
    tc = tcase_create("input");
    tcase_add_test(tc, bad_input);
    tcase_add_test(tc, session_token_presign);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(sigv4_suite());
}
