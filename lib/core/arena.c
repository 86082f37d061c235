#include "arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 65536

struct mdf_arena_block {
    struct mdf_arena_block *next;
    size_t used, size;
    alignas(max_align_t) unsigned char data[];
};

void mdf_arena_init(mdf_arena *a)
{
    a->head = NULL;
}

void mdf_arena_free(mdf_arena *a)
{
    struct mdf_arena_block *b = a->head;
    while (b) {
        struct mdf_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

static void *arena_take(mdf_arena *a, size_t n, size_t align)
{
    struct mdf_arena_block *b = a->head;
    if (b)
        b->used = (b->used + align - 1) & ~(align - 1);
    if (!b || b->used > b->size || b->size - b->used < n) {
        size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->used = 0;
        b->size = size;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void *mdf_arena_alloc(mdf_arena *a, size_t n)
{
    return arena_take(a, n, alignof(max_align_t));
}

char *mdf_arena_strndup(mdf_arena *a, const char *s, size_t len)
{
    char *p = arena_take(a, len + 1, 1); /* strings need no alignment */
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}
