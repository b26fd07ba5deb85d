/* Files compiled into the binary by tools/embed.c (kernels, web page). */
#ifndef WGTRAIN_EMBEDDED_H
#define WGTRAIN_EMBEDDED_H
#include <stddef.h>

typedef struct embedded_file {
    const char *name; /* base name, e.g. "dense1_forward.wgsl" */
    const char *data; /* NUL-terminated */
    size_t size;
} embedded_file;

extern const embedded_file kernels_files[];
extern const int kernels_count;
extern const embedded_file web_files[];
extern const int web_count;

/* NULL when no file of that name is embedded. */
const embedded_file *embedded_find(const embedded_file *table, const char *name);
#endif
