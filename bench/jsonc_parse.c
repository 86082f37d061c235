/* Baseline for bench/run.sh: the floor of any json-c based design.
 *
 * Parses one JSON file into a json-c tree with json_object_from_file() and
 * frees it again. Nothing is printed on success. Any report parser built on
 * json-c has to do at least this much work, so its wall time and peak RSS
 * are what mdefleet-report is compared against.
 *
 * Usage: bench-jsonc-parse FILE
 * Exit status: 0 on success, 1 on a parse or I/O error, 2 on bad usage.
 */
#include <stdio.h>

#include <json-c/json.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argc > 0 ? argv[0] : "bench-jsonc-parse");
        return 2;
    }

    json_object *root = json_object_from_file(argv[1]);
    if (root == NULL) {
        const char *err = json_util_get_last_err();
        fprintf(stderr, "bench-jsonc-parse: %s: %s\n", argv[1], err != NULL ? err : "parse failed");
        return 1;
    }

    json_object_put(root);
    return 0;
}
