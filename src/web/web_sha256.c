/* ckpt_sha256 (ckpt.h) for the browser build: the browser's own SHA-256, WebCrypto's
 * crypto.subtle.digest, which the Worker provides as the suspending import host_sha256 (its
 * answer is a Promise). Saving and loading models run inside the engine's promising exports, so
 * the wait is allowed there; native builds link src/checkpoint/sha256_nettle.c instead. */
#include "checkpoint/ckpt.h"

__attribute__((import_module("env"), import_name("host_sha256"))) void host_sha256(const void *data, size_t len,
                                                                                    uint8_t *out);

void ckpt_sha256(const void *data, size_t len, uint8_t out[32]) { host_sha256(data, len, out); }
