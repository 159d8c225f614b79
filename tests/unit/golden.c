/* golden.c - reads the golden frames of protocol-spec/frames/ (hex bytes,
 * '#' comments) for unit tests. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "golden.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

size_t
golden_load(const char *name, uint8_t *out, size_t cap)
{
    char path[512], line[1024];
    FILE *f;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/protocol-spec/frames/%s.hex", TOP_SRCDIR,
             name);
    f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    while (fgets(line, sizeof(line), f)) {
        char *p = line, *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        while (*p) {
            unsigned v;
            int used;
            if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
                p++;
                continue;
            }
            if (sscanf(p, "%2x%n", &v, &used) != 1 || used != 2)
                fail_msg("%s: bad hex near '%s'", path, p);
            assert_true(n < cap);
            out[n++] = (uint8_t)v;
            p += 2;
        }
    }
    fclose(f);
    return n;
}

size_t
golden_each(const char *sub, void (*fn)(void *arg, const char *name),
            void *arg)
{
    char path[512], name[300];
    struct dirent *de;
    DIR *d;
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/protocol-spec/frames%s", TOP_SRCDIR, sub);
    d = opendir(path);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".hex") != 0)
            continue;
        snprintf(name, sizeof(name), "%s%s%.*s", sub[0] ? sub + 1 : "",
                 sub[0] ? "/" : "", (int)(len - 4), de->d_name);
        fn(arg, name);
        n++;
    }
    closedir(d);
    return n;
}
