#include "offsets.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

struct mdf_offsets {
    int64_t *open;  /* unfinished offsets, increasing */
    size_t n, cap;
    int64_t last;   /* the highest offset begun; -1: none */
    int64_t stored; /* the last value returned; -1: none */
};

mdf_offsets *mdf_offsets_new(void)
{
    mdf_offsets *o = calloc(1, sizeof *o);
    if (o)
        o->last = o->stored = -1;
    return o;
}

void mdf_offsets_free(mdf_offsets *o)
{
    if (o)
        free(o->open);
    free(o);
}

void mdf_offsets_reset(mdf_offsets *o)
{
    o->n = 0;
    o->last = o->stored = -1;
}

int mdf_offsets_begin(mdf_offsets *o, int64_t offset)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        int64_t *p = realloc(o->open, cap * sizeof *p);
        if (!p)
            return MDF_ERR;
        o->open = p;
        o->cap = cap;
    }
    /* a redelivery after a rebalance can go back: keep the list sorted */
    size_t i = o->n;
    while (i > 0 && o->open[i - 1] > offset)
        i--;
    memmove(o->open + i + 1, o->open + i, (o->n - i) * sizeof *o->open);
    o->open[i] = offset;
    o->n++;
    if (offset > o->last)
        o->last = offset;
    /* the position is known to be here already: storing it is no news */
    if (o->stored < 0)
        o->stored = offset;
    return MDF_OK;
}

int64_t mdf_offsets_done(mdf_offsets *o, int64_t offset)
{
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (o->open[mid] < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == o->n || o->open[lo] != offset)
        return -1; /* not ours (already reset) */
    memmove(o->open + lo, o->open + lo + 1, (o->n - lo - 1) * sizeof *o->open);
    o->n--;
    /* the next to consume: the oldest unfinished, or past the last begun */
    int64_t next = o->n ? o->open[0] : o->last + 1;
    if (next <= o->stored)
        return -1;
    o->stored = next;
    return next;
}

size_t mdf_offsets_in_flight(const mdf_offsets *o)
{
    return o->n;
}
