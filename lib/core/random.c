#include "random.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "err.h"

static uint64_t rng_state;

/* splitmix64: small, fast, good enough for jitter */
static uint64_t rand_u64(void)
{
    if (rng_state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng_state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid() ^ 1;
    }
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t mdf_rand_below(uint64_t n)
{
    return rand_u64() % n;
}

int mdf_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return MDF_ERR;
        }
        p += got;
        n -= (size_t)got;
    }
    return MDF_OK;
}

int mdf_random_hex(size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    if (n > sizeof raw || mdf_random_bytes(raw, n) != MDF_OK) {
        out[0] = '\0';
        return MDF_ERR;
    }
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * n] = '\0';
    return MDF_OK;
}

void mdf_random_id(char out[MDF_UUID_STRSZ])
{
    uuid_t id;
    uuid_generate_random(id);
    uuid_unparse_lower(id, out);
}
