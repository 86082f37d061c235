/* Resource names against the API's patterns (the Microsoft.NetworkCloud
 * specification's regular expressions, written out by hand). */
#include "names.h"

#include <ctype.h>
#include <string.h>

bool mdf_valid_subscription(const char *s)
{
    /* 8-4-4-4-12 hex digits */
    static const int groups[] = {8, 4, 4, 4, 12};
    for (int g = 0; g < 5; g++) {
        for (int i = 0; i < groups[g]; i++, s++) {
            if (!isxdigit((unsigned char)*s))
                return false;
        }
        if (g < 4 && *s++ != '-')
            return false;
    }
    return *s == '\0';
}

bool mdf_valid_resource_group(const char *s)
{
    /* ^[-\w\._\(\)]+$, 1..90, not ending in '.' (ARM's rule, ASCII subset) */
    size_t n = strlen(s);
    if (n == 0 || n > 90 || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != '(' && c != ')')
            return false;
    }
    return true;
}

/* first and last alphanumeric, middle from `mid_extra` too, length lo..hi */
static bool name_ok(const char *s, size_t lo, size_t hi, const char *mid_extra)
{
    size_t n = strlen(s);
    if (n < lo || n > hi)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) && c < 0x80)
            continue;
        if (i == 0 || i == n - 1 || !strchr(mid_extra, c) || c == '\0')
            return false;
    }
    return true;
}

bool mdf_valid_cluster_name(const char *s)
{
    /* ^([a-zA-Z0-9][a-zA-Z0-9-_]{0,28}[a-zA-Z0-9])$ */
    return name_ok(s, 2, 30, "-_");
}

bool mdf_valid_bmm_name(const char *s)
{
    /* ^([a-zA-Z0-9][a-zA-Z0-9]{0,62}[a-zA-Z0-9])$ */
    return name_ok(s, 2, 64, "");
}

bool mdf_valid_enforcement_level(const char *s)
{
    static const char *const levels[] = {"Audit", "Disabled", "OnDemand", "Passive", "RealTime"};
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
        if (strcmp(s, levels[i]) == 0)
            return true;
    }
    return false;
}
