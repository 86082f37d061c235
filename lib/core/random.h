/* Randomness: a fast generator for jitter (not for secrets), the kernel's
 * CSPRNG for anything an attacker must not guess, and random (v4) UUIDs. */
#ifndef MDF_RANDOM_H
#define MDF_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#define MDF_UUID_STRSZ 37 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL */

/* Uniform in [0, n) (n > 0); for jitter, not for secrets. */
uint64_t mdf_rand_below(uint64_t n);

/* Fills buf with n bytes from the kernel's CSPRNG. Returns MDF_OK/MDF_ERR. */
int mdf_random_bytes(void *buf, size_t n);
/* n (at most 64) random bytes as 2n lowercase hex digits + NUL: out has
 * 2n+1 bytes. Returns MDF_OK/MDF_ERR (then out is ""). */
int mdf_random_hex(size_t n, char *out);

/* A random (v4) UUID, for job ids. */
void mdf_random_id(char out[MDF_UUID_STRSZ]);

#endif
