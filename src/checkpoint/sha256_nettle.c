/* ckpt_sha256 (ckpt.h) for the native build: GNU Nettle's SHA-256, from Debian's nettle-dev. Nettle
 * is already loaded by wgtrain, through libmicrohttpd's GnuTLS; the browser build provides its own
 * ckpt_sha256 instead of this file. */
#include "checkpoint/ckpt.h"

#include <nettle/sha2.h>

void ckpt_sha256(const void *data, size_t len, uint8_t out[32]) {
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, len, (const uint8_t *)data);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}
