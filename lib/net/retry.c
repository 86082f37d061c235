#include "retry.h"

#include "random.h"

bool mdf_retry_transient(const mdf_http_resp *r)
{
    switch (r->status) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return true;
    case 0:
        break;
    default:
        return false;
    }
    switch (r->curl_code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

int64_t mdf_retry_delay(const mdf_retry *p, int attempt, int64_t retry_after_ms)
{
    if (retry_after_ms >= 0)
        return retry_after_ms < p->max_ms ? retry_after_ms : p->max_ms;
    int64_t d = p->base_ms;
    for (int i = 1; i < attempt && d < p->max_ms; i++)
        d *= 2;
    if (d > p->max_ms)
        d = p->max_ms;
    if (d <= 1)
        return d;
    return d / 2 + (int64_t)mdf_rand_below((uint64_t)(d - d / 2) + 1);
}
