/* URL checks shared by the ARM client and the blob download: which hosts
 * and schemes a request may go to, and URLs safe to log. */
#ifndef MDF_URL_H
#define MDF_URL_H

#include <stdbool.h>
#include <stddef.h>

#define MDF_URL_MAX 8192 /* ARM asks clients to accept at least 4 KB */

/* Where plain http may go; https always may. */
typedef enum {
    MDF_HTTPS_ONLY = 0,
    MDF_HTTP_LOOPBACK, /* http also to 127.0.0.0/8, ::1, localhost (tests) */
    MDF_HTTP_IMDS,     /* ... and to the instance metadata address 169.254.169.254 */
} mdf_http_policy;

typedef struct mdf_url_parts {
    char scheme[16];
    char host[256];
    int port;        /* the explicit or default port */
    char path[2048]; /* as written, without the query; "/" when empty */
} mdf_url_parts;

int mdf_url_parse(const char *url, mdf_url_parts *out, char *err, size_t errsz);

/* 127.0.0.0/8, ::1 or localhost */
bool mdf_host_is_loopback(const char *host);
/* A dotted-quad or bracketed IPv6 address, or localhost: no DNS name. */
bool mdf_host_is_address(const char *host);

/* Whether the URL's query has a parameter `name` (e.g. a SAS's "sig"). */
bool mdf_url_has_param(const char *url, const char *name);

/* https always; http per policy. */
bool mdf_url_scheme_ok(const mdf_url_parts *u, mdf_http_policy policy);

/* Host matches a pattern: exact (case-insensitive) or "*.suffix" (one or
 * more labels before the suffix). */
bool mdf_host_matches(const char *host, const char *pattern);

/* Same scheme, host and port: bearer tokens only go back to the origin
 * they are for (nextLink and operation URLs come from the server). */
bool mdf_url_same_origin(const mdf_url_parts *a, const mdf_url_parts *b);

/* Copies url without its query string (SAS signatures live there), for
 * logs and errors: "https://h/p?<redacted>". */
void mdf_url_redact(const char *url, char *out, size_t outsz);

/* Rewrites every URL in free text (e.g. an extract's outputHead, which
 * repeats the resultUrl) without its query string, in place; the text is
 * cut to fit sz if needed. */
void mdf_text_redact_urls(char *text, size_t sz);

#endif
