/* The command-line habits every binary shares: --version, usage errors as
 * "PROGRAM: message" on stderr with exit status 2, and the names of those
 * errors ("unknown option --foo", "--config needs a value"). */
#ifndef MDF_CLI_H
#define MDF_CLI_H

#include <stdbool.h>

#include "err.h"

#define MDF_EXIT_USAGE 2

/* "PROGRAM VERSION" on stdout, then "NAME VERSION" for a library it links
 * when lib is not NULL (librdkafka). Returns 0, the exit status. */
int mdf_cli_version(const char *program, const char *lib, const char *lib_version);

/* "PROGRAM: message" on stderr. Returns MDF_EXIT_USAGE. */
int mdf_cli_usage_error(const char *program, const char *fmt, ...) MDF_PRINTF(2, 3);

/* The standard wording: "unknown option ARG" for something starting with
 * '-', "unexpected argument ARG" otherwise. Returns MDF_EXIT_USAGE. */
int mdf_cli_unknown(const char *program, const char *arg);

/* "OPTION needs a value". Returns MDF_EXIT_USAGE. */
int mdf_cli_needs_value(const char *program, const char *option);

/* Whether arg is -h or --help; whether it is --version. */
bool mdf_cli_is_help(const char *arg);
bool mdf_cli_is_version(const char *arg);

#endif
