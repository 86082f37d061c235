/* Deterministic (UUIDv5) event ids, with libuuid. */
#include "eventid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

/* mdefleet's namespace: uuid5(NAMESPACE_DNS, "mdefleet.events"), i.e.
 * e3090702-c101-5c24-9063-44e50d768b5b, computed once with python3's
 * uuid module. It is a constant, not computed at run time, because every
 * event id ever published depends on it: changing it would make a record
 * produced again look new to consumers. */
static const uuid_t mdf_ns = {0xe3, 0x09, 0x07, 0x02, 0xc1, 0x01, 0x5c, 0x24,
                              0x90, 0x63, 0x44, 0xe5, 0x0d, 0x76, 0x8b, 0x5b};

#define PART_SEP '\x1f' /* ASCII unit separator: not found in ids or names */

/* Keys are a few ARM resource ids long; larger ones go to the heap. */
#define NAME_STACK 1024

void mdf_event_id(const char *const *parts, char out[MDF_UUID_STRSZ])
{
    size_t len = 0;
    size_t n = 0;
    for (; parts[n]; n++)
        len += strlen(parts[n]) + 1;

    /* initialized: GCC cannot see that only name[0..pos) is read */
    char stack[NAME_STACK] = {0};
    char *name = stack;
    if (len > sizeof stack) {
        name = malloc(len);
        /* An id must be a function of its key, so there is no fallback
         * worth having: a wrong id silently breaks deduplication. */
        if (!name) {
            fputs("mdf_event_id: out of memory\n", stderr);
            abort();
        }
    }
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        if (i > 0)
            name[pos++] = PART_SEP;
        memcpy(name + pos, parts[i], l);
        pos += l;
    }

    mdf_uuid_named(mdf_ns, name, pos, out);
    if (name != stack)
        free(name);
}

void mdf_event_id_of(char out[MDF_UUID_STRSZ], const char *a, const char *b, const char *c,
                     const char *d, const char *e, const char *f)
{
    /* The first NULL ends the key (callers pass "" for an absent value in
     * the middle), as in the NULL-terminated form. */
    const char *parts[7] = {a, b, c, d, e, f, NULL};
    mdf_event_id(parts, out);
}

void mdf_uuid_named(const unsigned char ns[16], const char *name, size_t len,
                    char out[MDF_UUID_STRSZ])
{
    uuid_t id;
    uuid_generate_sha1(id, ns, name, len);
    uuid_unparse_lower(id, out);
}
