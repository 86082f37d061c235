#include "offsets.h"

#include <stdlib.h>

#include "err.h"
#include "vec.h"

/* Unfinished messages of one partition at a time: past this a worker is
 * not keeping up, and it stops rather than grow without bound. */
#define MAX_OPEN_OFFSETS (1 << 20)

struct mdf_offsets {
    mdf_vec open;   /* int64_t: unfinished offsets, increasing */
    int64_t last;   /* the highest offset begun; -1: none */
    int64_t stored; /* the last value returned; -1: none */
};

static int64_t open_at(const mdf_offsets *o, size_t i)
{
    return MDF_VEC_AT(&o->open, int64_t, i);
}

mdf_offsets *mdf_offsets_new(void)
{
    mdf_offsets *o = calloc(1, sizeof *o);
    if (o) {
        mdf_vec_init(&o->open, sizeof(int64_t), MAX_OPEN_OFFSETS);
        o->last = o->stored = -1;
    }
    return o;
}

void mdf_offsets_free(mdf_offsets *o)
{
    if (o)
        mdf_vec_free(&o->open);
    free(o);
}

void mdf_offsets_reset(mdf_offsets *o)
{
    o->open.len = 0;
    o->last = o->stored = -1;
}

int mdf_offsets_begin(mdf_offsets *o, int64_t offset)
{
    /* a redelivery after a rebalance can go back: keep the list sorted */
    size_t i = o->open.len;
    while (i > 0 && open_at(o, i - 1) > offset)
        i--;
    if (mdf_vec_insert(&o->open, i, &offset) != 0)
        return MDF_ERR;
    if (offset > o->last)
        o->last = offset;
    /* the position is known to be here already: storing it is no news */
    if (o->stored < 0)
        o->stored = offset;
    return MDF_OK;
}

int64_t mdf_offsets_done(mdf_offsets *o, int64_t offset)
{
    size_t lo = 0, hi = o->open.len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (open_at(o, mid) < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == o->open.len || open_at(o, lo) != offset)
        return -1; /* not ours (already reset) */
    mdf_vec_remove(&o->open, lo);
    /* the next to consume: the oldest unfinished, or past the last begun */
    int64_t next = o->open.len ? open_at(o, 0) : o->last + 1;
    if (next <= o->stored)
        return -1;
    o->stored = next;
    return next;
}

size_t mdf_offsets_in_flight(const mdf_offsets *o)
{
    return o->open.len;
}

int64_t mdf_offsets_stored(const mdf_offsets *o)
{
    return o->stored;
}
