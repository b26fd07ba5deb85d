/* libFuzzer target: the safetensors checkpoint parser (src/checkpoint/safetensors.c).
 *
 * Feeds arbitrary bytes to ckpt_parse() and, when a file parses, to the model and
 * training-state decoders. Every accepted model or state is re-encoded, re-parsed and
 * re-decoded, and must come back bit for bit: the parser and the writer agree. Messages must be
 * one NUL-terminated line. Build and run: fuzz/build.sh, fuzz/run.sh checkpoint SECONDS. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/ckpt.h"

static void check_message(const char *err, size_t cap) {
    size_t n = strnlen(err, cap);
    if (n == cap || n == 0 || memchr(err, '\n', n)) abort();
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static ckpt_parsed p, q;
    char err[512];
    if (ckpt_json_validate(data, size, err, sizeof err) != CKPT_OK) check_message(err, sizeof err);
    ckpt_status st = ckpt_parse(data, size, &p, err, sizeof err);
    if (st != CKPT_OK) {
        check_message(err, sizeof err);
        return 0;
    }
    for (uint32_t i = 0; i < p.ntensors; i++) { /* every range lies inside the input */
        const ckpt_tensor *t = &p.tensors[i];
        if (t->data < data || t->data + t->count * 4 > data + size) abort();
    }
    bool present;
    if (ckpt_verify_digest(data, size, &p, &present, err, sizeof err) != CKPT_OK) check_message(err, sizeof err);
    bool had_digest = ckpt_meta_get(&p, CKPT_DIGEST_KEY) != NULL;
    ckpt_model m;
    if (ckpt_model_decode(&p, &m, err, sizeof err) == CKPT_OK) {
        uint8_t *bytes;
        size_t len;
        /* the writer adds a "sha256" entry, which needs room among CKPT_MAX_META */
        if (ckpt_model_encode(&m.arch, m.params, p.meta, p.nmeta, &bytes, &len, err, sizeof err) != CKPT_OK) {
            if (had_digest || p.nmeta < CKPT_MAX_META) abort();
            ckpt_model_free(&m);
            return 0;
        }
        ckpt_model m2;
        if (ckpt_parse(bytes, len, &q, err, sizeof err) != CKPT_OK) abort();
        if (ckpt_verify_digest(bytes, len, &q, &present, err, sizeof err) != CKPT_OK || !present) abort();
        if (ckpt_model_decode(&q, &m2, err, sizeof err) != CKPT_OK) abort();
        if (!model_arch_equal(&m2.arch, &m.arch) || memcmp(m2.params, m.params, model_param_count(&m.arch) * 4) != 0) abort();
        if (q.nmeta != p.nmeta + !had_digest) abort();
        for (uint32_t i = 0; i < p.nmeta; i++)
            if (strcmp(q.meta[i].key, p.meta[i].key) ||
                (strcmp(p.meta[i].key, CKPT_DIGEST_KEY) && strcmp(q.meta[i].value, p.meta[i].value)))
                abort();
        ckpt_model_free(&m2);
        ckpt_model_free(&m);
        free(bytes);
    } else {
        check_message(err, sizeof err);
    }
    ckpt_state s;
    if (ckpt_state_decode(&p, &s, err, sizeof err) == CKPT_OK) {
        uint8_t *bytes;
        size_t len;
        if (ckpt_state_encode(&s, &bytes, &len, err, sizeof err) != CKPT_OK) abort();
        ckpt_state s2;
        if (ckpt_parse(bytes, len, &q, err, sizeof err) != CKPT_OK) abort();
        if (ckpt_state_decode(&q, &s2, err, sizeof err) != CKPT_OK) abort();
        if (s2.epochs_done != s.epochs_done || s2.global_step != s.global_step || !model_arch_equal(&s2.cfg.arch, &s.cfg.arch) || s2.cfg.init != s.cfg.init ||
            s2.cfg.lr != s.cfg.lr || s2.cfg.momentum != s.cfg.momentum || s2.cfg.seed != s.cfg.seed ||
            s2.cfg.optimizer != s.cfg.optimizer || memcmp(s2.slot[0], s.slot[0], model_param_count(&s.cfg.arch) * 4) != 0 ||
            (s.slot[1] && memcmp(s2.slot[1], s.slot[1], model_param_count(&s.cfg.arch) * 4) != 0))
            abort();
        ckpt_state_free(&s2);
        ckpt_state_free(&s);
        free(bytes);
    } else {
        check_message(err, sizeof err);
    }
    return 0;
}
