/* Checkpoints: safetensors model files and resumable training state.
 *
 * A model file holds exactly the tensors of the layer table's (core/model.h)
 *   torch.nn.Sequential(Linear(inputs, h0), Act(), Linear(h0, h1), Act(), ..., Linear(hn, classes))
 * (MNIST: 784 inputs, 10 classes; any data set's HxW and K otherwise)
 * named as Sequential names them: "0.weight" [h0,inputs], "0.bias" [h0], "2.weight" [h1,h0], ...,
 * the activation modules in between holding no tensors, all F32, so that
 * model.load_state_dict(safetensors.torch.load_file(PATH)) works with strict=True. Its
 * "__metadata__" records the layers, activation, hyperparameters, epoch, seed, data set and
 * its shape ("rows", "cols", "classes"), input normalisation and test accuracy (strings, as the
 * format requires). A file without an "activation" entry (written before wgtrain had others, or
 * by PyTorch) is ReLU; one without "rows" and "cols" has square images when its inputs are a
 * square (784: 28x28), else one row (ckpt_default_image_shape).
 *
 * A training-state file holds the optimizer's state slots, each [P] and flattened in the
 * parameter layout of mlp.h: "optimizer.velocity" (the SGD family's momentum buffer) or
 * "optimizer.exp_avg" and "optimizer.exp_avg_sq" (Adam, AdamW; their step count is the global
 * step), and metadata with the epochs done, global step, every hyperparameter that shapes the
 * run (optimizer, weight decay, betas, eps, clipping, schedule, warmup: files written before
 * these existed ran SGD with momentum and none of the others), the live edits in effect
 * (core/live.h: "edit_lr_scale" and "edit_momentum"; files written before them had none), the training-set size and fingerprints of the
 * training data and of the model file's weights. The engine's randomness is splitmix64 seeded
 * from (seed, epoch) (mlp_epoch_order), so the seed plus the epoch counter *is* the RNG state,
 * and a checkpoint is always taken at an epoch boundary: the data-order position is "start of
 * epoch epochs_done + 1".
 *
 * Everything read is untrusted. safetensors.c works on memory only (the fuzz target calls it
 * directly): the header length is capped, the header is parsed by cJSON as strict RFC 8259 JSON (valid
 * UTF-8, no duplicate keys), only F32 is accepted, every size uses checked arithmetic, and the
 * tensors' byte ranges must lie in bounds, not overlap, leave no gap and cover the data section
 * exactly. ckpt_io.c does the files: bounded reads, and atomic, durable writes (unique temp
 * name, fsync, rename, fsync of the folder).
 *
 * Every failure is a ckpt_status plus a one-line message; the file-level functions prefix it
 * with the path. */
#ifndef WGTRAIN_CKPT_H
#define WGTRAIN_CKPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mlp.h"

#define CKPT_MAX_HEADER ((uint64_t)1 << 20) /* bytes of JSON header accepted */
#define CKPT_MAX_TENSORS 32
#define CKPT_MAX_META 48 /* a state file holds 34 (every hyperparameter, the data shape, the digest) */
#define CKPT_MAX_NAME 128   /* bytes of a tensor name or metadata key */
#define CKPT_MAX_VALUE 512  /* bytes of a metadata value */
#define CKPT_MAX_RANK 4
#define CKPT_JSON_MAX_DEPTH 64

/* Folder layout of --checkpoint-dir: DIR/epoch-NNNNNN/{model,training_state}.safetensors */
#define CKPT_MODEL_FILE "model.safetensors"
#define CKPT_STATE_FILE "training_state.safetensors"
#define CKPT_STATE_FORMAT "wgtrain-training-state"
#define CKPT_VELOCITY_TENSOR "optimizer.velocity"

typedef enum ckpt_status {
    CKPT_OK = 0,
    CKPT_ERR_IO,          /* open, read, write, fsync or rename failed */
    CKPT_ERR_NOSPACE,     /* disk full, quota or file-size limit: the old file is kept */
    CKPT_ERR_NOMEM,
    CKPT_ERR_MISSING,     /* no such file or checkpoint */
    CKPT_ERR_TOO_LARGE,   /* file larger than any model this program can make */
    CKPT_ERR_TRUNCATED,   /* shorter than 8 bytes, or than its header length says */
    CKPT_ERR_HEADER_SIZE, /* header length 0 or over CKPT_MAX_HEADER */
    CKPT_ERR_JSON,        /* the header is not strict JSON */
    CKPT_ERR_SCHEMA,      /* JSON, but not a safetensors header (field, type, duplicate key) */
    CKPT_ERR_DTYPE,       /* a dtype other than F32 */
    CKPT_ERR_SIZE,        /* a tensor's byte range does not match its shape */
    CKPT_ERR_OFFSETS,     /* byte ranges out of bounds, overlapping or leaving a gap */
    CKPT_ERR_TRAILING,    /* bytes after the last tensor */
    CKPT_ERR_TENSOR,      /* a tensor missing, or one the model does not have */
    CKPT_ERR_SHAPE,       /* shapes that do not chain into an inputs-...-classes model */
    CKPT_ERR_VALUE,       /* a NaN or infinite value */
    CKPT_ERR_METADATA,    /* training-state metadata missing, malformed or inconsistent */
    CKPT_ERR_MISMATCH,    /* model and training state are not from the same checkpoint */
    CKPT_ERR_DIGEST,      /* the tensor data does not match the "sha256" metadata, or that is malformed */
} ckpt_status;

const char *ckpt_status_name(ckpt_status s);

typedef struct ckpt_tensor {
    char name[CKPT_MAX_NAME + 1];
    uint32_t rank;
    uint64_t shape[CKPT_MAX_RANK];
    uint64_t count;        /* elements: product of shape */
    uint64_t begin, end;   /* data_offsets, relative to the data section */
    const uint8_t *data;   /* count little-endian F32 values inside the parsed buffer */
} ckpt_tensor;

typedef struct ckpt_kv {
    char key[CKPT_MAX_NAME + 1];
    char value[CKPT_MAX_VALUE + 1];
} ckpt_kv;

/* A parsed file. Tensors are in header order; their data points into the caller's buffer. */
typedef struct ckpt_parsed {
    ckpt_tensor tensors[CKPT_MAX_TENSORS];
    uint32_t ntensors;
    ckpt_kv meta[CKPT_MAX_META];
    uint32_t nmeta;
    uint64_t header_len;
} ckpt_parsed;

/* Parses and validates a whole safetensors file held in memory. */
ckpt_status ckpt_parse(const uint8_t *bytes, size_t len, ckpt_parsed *out, char *err, size_t errlen);
/* Checks that a buffer is one strict JSON value (RFC 8259, UTF-8, depth <= 64), nothing else. */
ckpt_status ckpt_json_validate(const uint8_t *s, size_t len, char *err, size_t errlen);
const char *ckpt_meta_get(const ckpt_parsed *p, const char *key);
const ckpt_tensor *ckpt_find_tensor(const ckpt_parsed *p, const char *name);

/* Integrity: every file wgtrain writes records the SHA-256 of its whole data section (the bytes
 * after the header, exactly) as 64 lowercase hex digits in the metadata key "sha256". Metadata
 * is free-form in safetensors, so PyTorch and other readers load the file as before. */
#define CKPT_DIGEST_KEY "sha256"
/* SHA-256 of len bytes. Not implemented here, so that this parser stays memory-only and builds
 * anywhere: the native build links src/checkpoint/sha256_nettle.c (GNU Nettle); a browser build
 * provides its own. */
void ckpt_sha256(const void *data, size_t len, uint8_t out[32]);
/* Checks the "sha256" metadata of a parsed file (bytes, len: the whole file given to ckpt_parse)
 * against its data section. No such key: CKPT_OK with *present false (a file from another tool,
 * or from an older wgtrain, which the caller may load with a notice). A malformed value or a
 * mismatch: CKPT_ERR_DIGEST. */
ckpt_status ckpt_verify_digest(const uint8_t *bytes, size_t len, const ckpt_parsed *p, bool *present, char *err,
                               size_t errlen);

/* Serialises tensors (F32, data in host floats) and string metadata into a malloc'd file, with
 * the "sha256" digest of the data section added to the metadata (a "sha256" entry among meta
 * is replaced by the fresh digest, in place). The header is padded with spaces so that the data
 * section starts 8-byte aligned. */
typedef struct ckpt_out_tensor {
    const char *name;
    uint32_t rank;
    uint64_t shape[CKPT_MAX_RANK];
    const float *data;
} ckpt_out_tensor;
ckpt_status ckpt_serialize(const ckpt_out_tensor *tensors, size_t ntensors, const ckpt_kv *meta,
                           size_t nmeta, uint8_t **out, size_t *out_len, char *err, size_t errlen);

/* ---- the model ---- */

/* The limits of a model's data (data/idx.h's IDX_MAX_PIXELS and IDX_MAX_CLASSES). */
#define CKPT_MAX_INPUTS 65536
#define CKPT_MAX_CLASSES 256

typedef struct ckpt_model {
    model_arch arch;
    uint32_t rows, cols; /* the image shape of its inputs: rows * cols == arch.inputs */
    float *params; /* mlp_param_count(&arch) floats in mlp_read_params layout; malloc'd */
} ckpt_model;

/* Exactly the tensors 0.weight, 0.bias, 2.weight, ... of one to MODEL_MAX_HIDDEN_LAYERS hidden
 * layers, F32, shapes chaining from 1..CKPT_MAX_INPUTS inputs (0.weight's columns) through
 * widths in 1..MLP_MAX_HIDDEN to 2..CKPT_MAX_CLASSES classes (the last layer's rows), every
 * value finite. Metadata is optional here (a file saved from PyTorch loads too); its
 * "activation", when present, must name one wgtrain has, and its "rows" and "cols", when
 * present, must multiply to the inputs. */
ckpt_status ckpt_model_decode(const ckpt_parsed *p, ckpt_model *out, char *err, size_t errlen);
ckpt_status ckpt_model_encode(const model_arch *arch, const float *params, const ckpt_kv *meta, size_t nmeta,
                              uint8_t **out, size_t *out_len, char *err, size_t errlen);
void ckpt_model_free(ckpt_model *m);
/* The image shape assumed for inputs when a file does not record one: side x side when inputs
 * is a square (784: 28x28), else 1 x inputs. */
void ckpt_default_image_shape(uint32_t inputs, uint32_t *rows, uint32_t *cols);

/* The metadata wgtrain writes into a model file: format "pt", architecture, layers,
 * activation, init, every hyperparameter, epoch, seed, data set, input normalisation and test accuracy (omitted when
 * test_accuracy < 0). Returns the number of entries written to kv (at most CKPT_MAX_META). */
typedef struct ckpt_model_info {
    mlp_config cfg;
    uint32_t epoch;         /* epochs trained */
    uint32_t train_samples, test_samples;
    double test_accuracy;   /* < 0: unknown */
    uint32_t rows, cols;    /* the data's image shape (0: ckpt_default_image_shape) */
    const char *dataset;    /* its name (NULL: "MNIST") */
} ckpt_model_info;
size_t ckpt_model_metadata(const ckpt_model_info *info, ckpt_kv *kv);


/* Fingerprint (FNV-1a 64) of parameters as little-endian F32 bytes, and of raw bytes. */
uint64_t ckpt_fnv1a64(uint64_t h, const void *bytes, size_t n);
uint64_t ckpt_params_fingerprint(const float *params, size_t count);
#define CKPT_FNV_OFFSET 0xcbf29ce484222325ull

/* ---- the training state ---- */

typedef struct ckpt_state {
    mlp_config cfg;          /* arch (hidden widths, activation), init, batch, epochs, lr, momentum,
                              * schedule, seed, kernels (resolved: fused or reference, never auto) */
    uint32_t epochs_done;    /* 1..cfg.epochs */
    uint64_t global_step;    /* epochs_done * steps_per_epoch */
    uint32_t steps_per_epoch;
    uint32_t train_samples;  /* size of the training set the run used */
    uint32_t save_every;     /* --save-every of the run */
    uint64_t train_fingerprint; /* ckpt_fnv1a64 of the training images then labels */
    uint64_t model_fingerprint; /* ckpt_params_fingerprint of the model saved with it */
    mlp_live live;           /* the live edits in effect ("edit_lr_scale", "edit_momentum"; a
                              * state written before them decodes as mlp_live_initial, no edits;
                              * lr_scale 0 (not filled in) is encoded as that) */
    float *slot[OPTIM_MAX_SLOTS]; /* optim_slots(cfg.optimizer) of them, mlp_param_count(&cfg.arch)
                              * floats each, malloc'd: velocity, or exp_avg and exp_avg_sq */
} ckpt_state;

ckpt_status ckpt_state_encode(const ckpt_state *s, uint8_t **out, size_t *out_len, char *err, size_t errlen);
/* Every metadata key must be present and well formed (activation and init may be missing in a
 * state written before they existed: relu and torch), no unknown keys, and the values must
 * agree with each other (steps, global step, config limits, velocity shape). */
ckpt_status ckpt_state_decode(const ckpt_parsed *p, ckpt_state *out, char *err, size_t errlen);
void ckpt_state_free(ckpt_state *s);

/* ---- files (ckpt_io.c) ---- */

/* Largest file accepted: a CKPT_MAX_HEADER header plus MODEL_MAX_PARAMS weights. */
size_t ckpt_max_file_size(void);
/* Reads a whole regular file (at most ckpt_max_file_size() bytes) into a malloc'd buffer. */
ckpt_status ckpt_read_file(const char *path, uint8_t **out, size_t *out_len, char *err, size_t errlen);
/* Replaces path with bytes atomically and durably: writes "<dir>/.<name>.tmp-<pid>-<n>" (new,
 * O_EXCL), fsyncs it, renames it over path, fsyncs the folder. On any failure the temp file
 * is removed and whatever was at path before is left untouched. */
ckpt_status ckpt_write_atomic(const char *path, const uint8_t *bytes, size_t len, char *err, size_t errlen);

/* Loads a model from a .safetensors file, from a checkpoint folder holding model.safetensors,
 * or from a --checkpoint-dir (its latest epoch). resolved (may be NULL) gets the file read.
 * parsed (may be NULL) gets the parsed header for its metadata (its tensor data pointers are
 * not valid after return). */
ckpt_status ckpt_load_model(const char *path, ckpt_model *out, ckpt_parsed *parsed, char *resolved,
                            size_t resolved_len, char *err, size_t errlen);

/* Writes DIR/epoch-NNNNNN (both files) atomically: a unique temp folder is filled, fsynced
 * and renamed into place, then DIR is fsynced; only then are older epoch folders removed. */
ckpt_status ckpt_dir_save(const char *dir, uint32_t epoch, const uint8_t *model, size_t model_len,
                          const uint8_t *state, size_t state_len, char *saved, size_t saved_len,
                          char *err, size_t errlen);
/* The newest complete DIR/epoch-NNNNNN folder: *epoch gets N (0 and CKPT_ERR_MISSING if none). */
ckpt_status ckpt_dir_latest(const char *dir, uint32_t *epoch, char *path, size_t path_len, char *err,
                            size_t errlen);
/* Creates DIR if missing (its parent must exist) and checks it is a writable folder. */
ckpt_status ckpt_dir_prepare(const char *dir, char *err, size_t errlen);

/* Loads a resumable checkpoint: DIR may be a --checkpoint-dir (its latest epoch is used) or one
 * epoch folder. Checks that model and state belong together. folder gets the epoch folder. */
ckpt_status ckpt_load_resume(const char *dir, ckpt_model *model, ckpt_state *state, char *folder,
                             size_t folder_len, char *err, size_t errlen);

#endif
