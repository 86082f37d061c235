/* A bump allocator for many small strings that all die together (the
 * strings of one parsed report). Freed as a whole. */
#ifndef MDF_ARENA_H
#define MDF_ARENA_H

#include <stddef.h>

typedef struct mdf_arena {
    struct mdf_arena_block *head; /* owned list */
} mdf_arena;

void mdf_arena_init(mdf_arena *a);
void mdf_arena_free(mdf_arena *a);
/* Memory for n bytes aligned for any type; NULL when out of memory. */
void *mdf_arena_alloc(mdf_arena *a, size_t n);
/* NUL-terminated copy of s[0..len); NULL when out of memory. */
char *mdf_arena_strndup(mdf_arena *a, const char *s, size_t len);

#endif
