/* The topic list (topics.h). */
#include "topics.h"

#include <stddef.h>

const char *mdf_topic_key(mdf_topic t)
{
    static const char *const names[] = {
#define NAME_X(id, name, ds) name,
        MDF_TOPIC_LIST(NAME_X)
#undef NAME_X
    };
    return (unsigned)t < MDF_TOPIC__COUNT ? names[t] : NULL;
}
