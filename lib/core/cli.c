#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "version.h"

int mdf_cli_version(const char *program, const char *lib, const char *lib_version)
{
    printf("%s %s\n", program, mdf_version());
    if (lib)
        printf("%s %s\n", lib, lib_version);
    return fflush(stdout) == 0 ? 0 : 1;
}

int mdf_cli_usage_error(const char *program, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", program, msg);
    return MDF_EXIT_USAGE;
}

int mdf_cli_unknown(const char *program, const char *arg)
{
    /* capped: an argument is the user's and may be anything */
    if (arg[0] == '-' && arg[1])
        return mdf_cli_usage_error(program, "unknown option %.100s", arg);
    return mdf_cli_usage_error(program, "unexpected argument %.100s", arg);
}

int mdf_cli_needs_value(const char *program, const char *option)
{
    return mdf_cli_usage_error(program, "%.100s needs a value", option);
}

bool mdf_cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

bool mdf_cli_is_version(const char *arg)
{
    return strcmp(arg, "--version") == 0;
}
