/* The version every binary reports (--version, mdefleet_build_info):
 * the project's version from CMake and, in a git checkout, `git describe`. */
#ifndef MDF_VERSION_H
#define MDF_VERSION_H

/* e.g. "0.1.0 (3b4c1d1-dirty)"; static storage */
const char *mdf_version(void);

#endif
