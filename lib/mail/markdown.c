/*
 * markdown.c - Markdown (CommonMark) to HTML for mail bodies, with cmark
 * (Debian libcmark-dev, the CommonMark reference implementation in C).
 *
 * cmark runs in its safe mode (its default since 0.29): raw HTML blocks
 * and inline HTML are replaced by a comment, and links or images whose URL
 * is javascript:, vbscript:, file: or data: (other than images) become
 * empty, so a newsletter's author cannot put markup or script of their own
 * into the HTML part; text is HTML-escaped. Every input is valid CommonMark
 * and cmark's parser is linear in the input, so no input makes it fail or
 * run away (it aborts the process only when out of memory).
 */
#include "mail.h"

#include <cmark.h>
#include <stdlib.h>
#include <string.h>

int cm__mail_markdown_html(char **out, const char *md, size_t len)
{
    if (!out)
        return cm__error_set(CM_EINVAL, "cm__mail_markdown_html: out is NULL");
    *out = NULL;
    if (!md)
        return cm__error_set_field(CM_EINVAL, "body", "no Markdown text");
    if (len > CM__MAIL_MAX_BODY)
        return cm__error_set_field(CM_EINVAL, "body", "the Markdown text is over 1 MiB");
    if (!cm__utf8_valid(md, len))
        return cm__error_set_field(CM_EINVAL, "body", "the Markdown text is not UTF-8");
    char *html = cmark_markdown_to_html(md, len, CMARK_OPT_DEFAULT | CMARK_OPT_NOBREAKS);
    if (!html)
        return cm__oom();
    size_t n = strlen(html);
    int rc = CM_OK;
    if (n > CM__MAIL_MAX_BODY)
        rc = cm__error_set_field(CM_EINVAL, "body", "the HTML made from the text is over 1 MiB");
    else if (!(*out = cm__strndup(html, n)))
        rc = cm__oom();
    free(html); /* dep-alloc: cmark's default allocator */
    return rc;
}
