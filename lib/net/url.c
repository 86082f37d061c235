#include "url.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "strconv.h"

int mdf_url_parse(const char *url, mdf_url_parts *out, char *err, size_t errsz)
{
    int rc = MDF_ERR;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    CURLU *u = curl_url();
    memset(out, 0, sizeof *out);
    if (!u)
        return mdf_seterr(err, errsz, "out of memory");
    if (strlen(url) >= MDF_URL_MAX) {
        mdf_seterr(err, errsz, "URL longer than %d bytes", MDF_URL_MAX);
        goto cleanup;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        mdf_seterr(err, errsz, "not a valid URL");
        goto cleanup;
    }
    int64_t p;
    if (mdf_strlcpy(out->scheme, scheme, sizeof out->scheme) != 0 ||
        mdf_strlcpy(out->host, host, sizeof out->host) != 0 ||
        mdf_strlcpy(out->path, path, sizeof out->path) != 0 ||
        mdf_parse_int64(port, strlen(port), &p) != 0 || p <= 0 || p > 65535) {
        mdf_seterr(err, errsz, "not a valid URL");
        goto cleanup;
    }
    out->port = (int)p;
    rc = MDF_OK;
cleanup:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

bool mdf_host_is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
        strcmp(host, "::1") == 0)
        return true;
    /* 127.0.0.0/8 as a dotted quad */
    int parts = 0, val = -1;
    if (strncmp(host, "127.", 4) != 0)
        return false;
    for (const char *p = host;; p++) {
        if (*p >= '0' && *p <= '9') {
            val = (val < 0 ? 0 : val) * 10 + (*p - '0');
            if (val > 255)
                return false;
        } else if (*p == '.' || *p == '\0') {
            if (val < 0)
                return false;
            parts++;
            val = -1;
            if (*p == '\0')
                break;
        } else {
            return false;
        }
    }
    return parts == 4;
}

bool mdf_host_is_address(const char *host)
{
    if (host[0] == '[' || strcasecmp(host, "localhost") == 0)
        return true;
    int dots = 0;
    for (const char *p = host; *p; p++) {
        if (*p == '.')
            dots++;
        else if (*p < '0' || *p > '9')
            return false;
    }
    return dots == 3;
}

bool mdf_url_has_param(const char *url, const char *name)
{
    const char *end = strchr(url, '#'); /* the fragment is not the query */
    const char *q = strchr(url, '?');
    size_t n = strlen(name);
    if (!q || (end && end < q))
        return false;
    for (const char *p = q + 1; *p && (!end || p < end);) {
        size_t len = strcspn(p, "&#");
        if (len >= n && strncmp(p, name, n) == 0 && (len == n || p[n] == '='))
            return true;
        p += len;
        if (*p == '&')
            p++;
        else
            break;
    }
    return false;
}

bool mdf_url_scheme_ok(const mdf_url_parts *u, mdf_http_policy http_policy)
{
    if (strcmp(u->scheme, "https") == 0)
        return true;
    if (strcmp(u->scheme, "http") != 0 || http_policy == MDF_HTTPS_ONLY)
        return false;
    if (mdf_host_is_loopback(u->host))
        return true;
    return http_policy == MDF_HTTP_IMDS && strcmp(u->host, "169.254.169.254") == 0;
}

bool mdf_host_matches(const char *host, const char *pattern)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        size_t hl = strlen(host), sl = strlen(pattern + 1); /* ".suffix" */
        return hl > sl && strcasecmp(host + hl - sl, pattern + 1) == 0;
    }
    return strcasecmp(host, pattern) == 0;
}

bool mdf_url_same_origin(const mdf_url_parts *a, const mdf_url_parts *b)
{
    return strcasecmp(a->scheme, b->scheme) == 0 && strcasecmp(a->host, b->host) == 0 &&
           a->port == b->port;
}

void mdf_url_redact(const char *url, char *out, size_t outsz)
{
    /* scheme://[userinfo@]host/path?query: drop userinfo and query */
    const char *q = strchr(url, '?');
    size_t n = q ? (size_t)(q - url) : strlen(url);
    const char *auth = strstr(url, "://");
    const char *rest = url;
    size_t head = 0;
    if (auth && (size_t)(auth - url) < n) {
        head = (size_t)(auth - url) + 3;
        const char *slash = memchr(url + head, '/', n - head);
        const char *at = memchr(url + head, '@', (size_t)((slash ? slash : url + n) - url) - head);
        if (at)
            rest = at + 1;
        else
            rest = url + head;
    }
    size_t tail = n - (size_t)(rest - url);
    snprintf(out, outsz, "%.*s%.*s%s", (int)head, url, (int)(tail < 2048 ? tail : 2048), rest,
             q ? "?<redacted>" : "");
}

void mdf_text_redact_urls(char *text, size_t sz)
{
    char out[8192];
    size_t o = 0;
    const char *p = text;
    while (*p && o + 1 < sizeof out) {
        if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0) {
            size_t n = strcspn(p, " \t\r\n\"'<>");
            char shown[MDF_URL_MAX];
            char url[MDF_URL_MAX];
            size_t un = n < sizeof url - 1 ? n : sizeof url - 1;
            memcpy(url, p, un);
            url[un] = '\0';
            mdf_url_redact(url, shown, sizeof shown);
            size_t sl = strlen(shown);
            if (o + sl >= sizeof out)
                break;
            memcpy(out + o, shown, sl);
            o += sl;
            p += n;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
    mdf_strlcpy(text, out, sz);
}
