#include "vec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 16

void mdf_vec_init(mdf_vec *v, size_t elem, size_t max)
{
    v->data = NULL;
    v->len = v->cap = 0;
    v->elem = elem ? elem : 1;
    /* keep cap * elem from overflowing */
    size_t most = SIZE_MAX / 2 / v->elem;
    v->max = max < most ? max : most;
}

void mdf_vec_free(mdf_vec *v)
{
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}

int mdf_vec_reserve(mdf_vec *v, size_t extra)
{
    if (extra > v->max || v->len > v->max - extra)
        return -1;
    size_t need = v->len + extra;
    if (need <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : FIRST_CAP;
    /* doubling, and the last step straight to max: growing by `need` near
     * the cap would reallocate on every add */
    while (cap < need)
        cap = cap > v->max / 2 ? v->max : cap * 2;
    if (cap > v->max)
        cap = v->max;
    void *p = realloc(v->data, cap * v->elem);
    if (!p)
        return -1;
    v->data = p;
    v->cap = cap;
    return 0;
}

int mdf_vec_push(mdf_vec *v, const void *e)
{
    void *slot = mdf_vec_add(v);
    if (!slot)
        return -1;
    memcpy(slot, e, v->elem);
    return 0;
}

int mdf_vec_insert(mdf_vec *v, size_t i, const void *e)
{
    if (i > v->len || mdf_vec_reserve(v, 1) != 0)
        return -1;
    char *base = v->data;
    memmove(base + (i + 1) * v->elem, base + i * v->elem, (v->len - i) * v->elem);
    memcpy(base + i * v->elem, e, v->elem);
    v->len++;
    return 0;
}

void mdf_vec_remove(mdf_vec *v, size_t i)
{
    if (i >= v->len)
        return;
    char *base = v->data;
    memmove(base + i * v->elem, base + (i + 1) * v->elem, (v->len - i - 1) * v->elem);
    v->len--;
}

void *mdf_vec_take(mdf_vec *v, size_t *len)
{
    void *p = v->data;
    if (len)
        *len = v->len;
    v->data = NULL;
    v->len = v->cap = 0;
    return p;
}
