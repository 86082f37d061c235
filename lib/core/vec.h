/* A growable array of fixed-size elements with a hard maximum, so that
 * every list of the project has a cap: growing past `max` fails instead of
 * growing without bound. It replaces the hand-written realloc-doubling
 * loops; <sys/queue.h> replaces the hand-written linked lists.
 *
 *     mdf_vec v;
 *     mdf_vec_init(&v, sizeof(struct job), 10000);
 *     struct job *j = mdf_vec_add(&v);   // NULL at the cap or out of memory
 *     ((struct job *)v.data)[i]          // or MDF_VEC_AT(&v, struct job, i)
 *     mdf_vec_free(&v);
 *
 * Pointers into the data move when it grows. */
#ifndef MDF_VEC_H
#define MDF_VEC_H

#include <stddef.h>

typedef struct mdf_vec {
    void *data;  /* owned */
    size_t len;  /* elements in use; a caller may lower it (truncate) */
    size_t cap;  /* elements allocated */
    size_t elem; /* bytes per element */
    size_t max;  /* the most elements it may ever hold */
} mdf_vec;

#define MDF_VEC_AT(v, type, i) (((type *)(v)->data)[i])

void mdf_vec_init(mdf_vec *v, size_t elem, size_t max);
/* Frees the storage; the vector is empty, with the same elem and max. */
void mdf_vec_free(mdf_vec *v);
/* Room for `extra` more elements: the next `extra` adds do not move the
 * data. Returns 0, or -1 past max or out of memory (the vector is then
 * unchanged). */
int mdf_vec_reserve(mdf_vec *v, size_t extra);

/* A new element at the end, uninitialized: the caller fills it at once.
 * NULL past max or out of memory. */
static inline void *mdf_vec_add(mdf_vec *v)
{
    if (v->len == v->cap && mdf_vec_reserve(v, 1) != 0)
        return NULL;
    return (char *)v->data + v->len++ * v->elem;
}

/* Copies *e to the end. Returns 0 or -1. */
int mdf_vec_push(mdf_vec *v, const void *e);
/* Copies *e in at index i (0..len), moving the rest up. Returns 0 or -1. */
int mdf_vec_insert(mdf_vec *v, size_t i, const void *e);
/* Removes element i, moving the rest down (order kept). */
void mdf_vec_remove(mdf_vec *v, size_t i);
/* Hands the storage to the caller (free() it) and empties the vector. */
void *mdf_vec_take(mdf_vec *v, size_t *len);

#endif
