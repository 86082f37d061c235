/* URL handling (url.h) on any text. Oracles: a parsed URL rebuilt from its
 * parts (scheme://host:port/path) parses to the same parts (the host
 * possibly written in full, below); the checks
 * agree with each other (the http policies widen in order, a host matches
 * itself, a URL has its own origin); redaction leaves no query behind. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "fuzz_util.h"
#include "url.h"

/* u written back as scheme://host:port/path and parsed into v; false
 * when that is longer than a URL may be. */
static bool reparse(const mdf_url_parts *u, mdf_url_parts *v)
{
    char err[MDF_ERRSZ] = "";
    /* The host is as curl keeps it, percent-decoded ("a%2541" gives "a%41",
     * "a%7f" a DEL): written back encoded but for what is plain in hosts. */
    char host[sizeof u->host * 3];
    size_t h = 0;
    for (const unsigned char *c = (const unsigned char *)u->host; *c; c++) {
        if (isalnum(*c) || strchr(".-_~:[]", *c))
            host[h++] = (char)*c;
        else
            h += (size_t)snprintf(host + h, sizeof host - h, "%%%02X", *c);
    }
    host[h] = '\0';
    char again[MDF_URL_MAX * 2];
    int n = snprintf(again, sizeof again, "%s://%s:%d%s", u->scheme, host, u->port, u->path);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof again);
    if ((size_t)n >= MDF_URL_MAX)
        return false;
    FUZZ_CHECK(mdf_url_parse(again, v, err, sizeof err) == MDF_OK);
    return true;
}

static void check_parts(const mdf_url_parts *u)
{
    FUZZ_CHECK(u->port > 0 && u->port <= 65535);
    FUZZ_CHECK(u->path[0] == '/');
    FUZZ_CHECK(mdf_url_same_origin(u, u));
    FUZZ_CHECK(!mdf_url_scheme_ok(u, MDF_HTTPS_ONLY) || mdf_url_scheme_ok(u, MDF_HTTP_LOOPBACK));
    FUZZ_CHECK(!mdf_url_scheme_ok(u, MDF_HTTP_LOOPBACK) || mdf_url_scheme_ok(u, MDF_HTTP_IMDS));
    FUZZ_CHECK(mdf_host_matches(u->host, u->host));
    FUZZ_CHECK(!mdf_host_is_loopback(u->host) || mdf_host_is_address(u->host) ||
               strchr(u->host, ':') != NULL);
    /* a host under "*.its-parent" when it has a parent */
    const char *dot = strchr(u->host, '.');
    if (dot && dot > u->host && dot[1]) {
        char pattern[sizeof u->host + 1];
        snprintf(pattern, sizeof pattern, "*%s", dot);
        FUZZ_CHECK(mdf_host_matches(u->host, pattern));
    }

    mdf_url_parts v, w;
    if (!reparse(u, &v))
        return;
    FUZZ_CHECK(strcmp(u->scheme, v.scheme) == 0);
    FUZZ_CHECK(u->port == v.port);
    FUZZ_CHECK(strcmp(u->path, v.path) == 0);
    /* curl writes an IPv4 address in full ("127.1" is 127.0.0.1) but not
     * when its dots came percent-encoded ("127.2%2e25" keeps host
     * "127.2.25"): the rebuilt URL may have it written in full, once. */
    if (strcmp(u->host, v.host) != 0) {
        FUZZ_CHECK(reparse(&v, &w));
        FUZZ_CHECK(strcmp(v.host, w.host) == 0);
    }
    FUZZ_CHECK(mdf_url_same_origin(&v, &v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[MDF_ERRSZ] = "";
    char *url = fuzz_cstr(data, size);
    mdf_url_parts u;
    if (mdf_url_parse(url, &u, err, sizeof err) == MDF_OK)
        check_parts(&u);
    else
        FUZZ_CHECK(err[0] != '\0');

    char shown[MDF_URL_MAX];
    mdf_url_redact(url, shown, sizeof shown);
    const char *q = strchr(shown, '?');
    FUZZ_CHECK(!q || strcmp(q, "?<redacted>") == 0 || strlen(shown) == sizeof shown - 1);
    (void)mdf_url_has_param(url, "sig");

    /* the input as free text, in a buffer of its own size */
    char *text = fuzz_cstr(data, size);
    mdf_text_redact_urls(text, size + 1);
    fuzz_check_redacted(text);
    free(text);
    free(url);
    return 0;
}
