/* The data set the server trains on, as the four gzip'd IDX files that the page's browser
 * trainer fetches (data/train-images-idx3-ubyte.gz and so on, as beside a static build/web):
 * so `wgtrain serve` serves the same site, and a browser run uses the server's --data and
 * --train-limit. Each file is compressed once, on its first request, and kept. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gpu/embedded.h"
#include "server/srv_server.h"

static const char *const names[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                     "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
static embedded_file files[4];
static pthread_mutex_t files_mu = PTHREAD_MUTEX_INITIALIZER;

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* gzip of an IDX header (rank 3: count x rows x cols; rank 1: count) followed by body. */
static bool gzip_idx(const mnist_set *set, bool images, embedded_file *out) {
    uint8_t head[16];
    size_t head_len = images ? 16 : 8;
    be32(head, images ? 0x803 : 0x801);
    be32(head + 4, set->count);
    if (images) be32(head + 8, set->rows), be32(head + 12, set->cols);
    const uint8_t *body = images ? set->images : set->labels;
    size_t body_len = images ? (size_t)set->count * set->rows * set->cols : set->count;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
    size_t cap = deflateBound(&zs, head_len + body_len) + 64;
    uint8_t *gz = malloc(cap + 1);
    bool ok = gz != NULL;
    zs.next_out = gz;
    zs.avail_out = (uInt)cap;
    const uint8_t *parts[2] = {head, body};
    size_t lens[2] = {head_len, body_len};
    for (int i = 0; ok && i < 2; i++) {
        zs.next_in = (Bytef *)parts[i];
        zs.avail_in = (uInt)lens[i];
        ok = deflate(&zs, i == 1 ? Z_FINISH : Z_NO_FLUSH) == (i == 1 ? Z_STREAM_END : Z_OK);
    }
    size_t len = cap - zs.avail_out;
    deflateEnd(&zs);
    if (!ok) {
        free(gz);
        return false;
    }
    gz[len] = 0;
    out->data = (const char *)gz;
    out->size = len;
    return true;
}

const embedded_file *srv_data_file(const srv_state *s, const char *name) {
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i])) continue;
        pthread_mutex_lock(&files_mu);
        embedded_file *f = &files[i];
        if (!f->data) {
            f->name = names[i];
            if (!gzip_idx(i < 2 ? s->train : s->test, i % 2 == 0, f)) f->data = NULL;
        }
        pthread_mutex_unlock(&files_mu);
        return f->data ? f : NULL;
    }
    return NULL;
}
