/* Every kernel's tile and workgroup sizes, in one place.
 *
 * The kernels (src/kernels/, every .wgsl) declare these as override constants with no default, so no
 * pipeline can be made without them, and tiles_kernel_get sets them from the table in tiles.c.
 * The dispatch grids, the fused path's activation carve and the self-checks derive from the
 * same numbers through the helpers below. The _Static_asserts in tiles.c hold the relations a
 * kernel's code relies on (how many threads stage a tile, how much workgroup memory it takes),
 * so a change that breaks one fails the build rather than the numbers.
 *
 * Fixed by the kernels' code, not tunable: the 4x4 blocks of dense_forward/dense_backward and
 * the 2 x 2 (fused_forward) and 4 x 4 (fused_forward_wide, fused_update) outputs per thread are the shapes of their
 * vec4 accumulators, and WGSL sizes function-scope arrays with constants only. */
#ifndef WGTRAIN_TILES_H
#define WGTRAIN_TILES_H

#include <stdbool.h>
#include <stdint.h>

#include "gpu/gpu.h"

/* dense_forward, dense_backward: one invocation per 4x4 block (the vec4 width, see above) */
#define TILE_DENSE_WG 64
#define TILE_DENSE_BLOCK 4
/* dense_forward_tiled, dense_backward_tiled (GPUs): a workgroup per tile, each thread a 2 x 2
 * block of it (the shape of its accumulators); the forward's tile is TS samples x TO outputs over
 * rounds of KC4 vec4s of inputs, KS threads sharing each block's dot products, the backward's TW outputs (dw) or samples (dprev) x TI inputs
 * over rounds of KB terms */
#define TILE_DFT_TS 8
#define TILE_DFT_TO 16
#define TILE_DFT_KS 4
#define TILE_DFT_KC4 28
#define TILE_DFT_WG (TILE_DFT_TS * TILE_DFT_TO / 4 * TILE_DFT_KS)
/* ... and its wide tiles, the same kernel with these constants ("dense_forward_tiled.wgsl:wide"
 * in the table), for a layer whose grid of wide tiles has at least TILE_DFTW_MIN_GROUPS
 * workgroups at the trainer's batch: four times the outputs a tile, so a quarter of the re-reads
 * of its inputs and weights. On the H200 (bench/NOTES.md, experiment 31) 784-256-128-10 at batch
 * 4096 took 6.8 against 10.0 ms an epoch (the first layer's forward 168 against 350 us), but
 * with the wide tiles on every layer 57 against 46 ms at batch 64 and 784-128-10 13.3 against
 * 12.0 ms at 256, where the grid has 32 or 64 of them: too few to fill its 132 SMs */
#define TILE_DFTW_TS 16
#define TILE_DFTW_TO 32
#define TILE_DFTW_KS 2
#define TILE_DFTW_KC4 14
#define TILE_DFTW_WG (TILE_DFTW_TS * TILE_DFTW_TO / 4 * TILE_DFTW_KS)
#ifndef TILE_DFTW_MIN_GROUPS
#define TILE_DFTW_MIN_GROUPS 128
#endif
#define TILE_DBT_TW 32
#define TILE_DBT_TI 32
#define TILE_DBT_KB 32
#define TILE_DBT_WG (TILE_DBT_TW * TILE_DBT_TI / 4)
/* dense_backward_tiled splits dw's sum over a batch into slices of at most this many samples
 * (at most DBT_MAX_SLICES slices), added by grad_slices_sum (one invocation per parameter) */
#define TILE_DBT_SLICE 256
#define TILE_DBT_MAX_SLICES 64
/* dense_backward_wide: a first layer's dw and db (no dprev) on T x T tiles, 4 x 4 a thread, KB
 * samples a round, over the same slices, where the batch's grid of them (tiles x slices) has at
 * least TILE_DBW_MIN_GROUPS workgroups. On the H200 (bench/NOTES.md, experiment 33) 784-256 at
 * batch 4096 (832 workgroups) took 94 against 139 us, and 1024 (208) and 784-128 at 1024 (104)
 * were faster too; 784-256 at 256 (52) and 784-128 at 256 (26) were slower */
#define TILE_DBW_T 64
#define TILE_DBW_KB 16
#define TILE_DBW_WG (TILE_DBW_T * TILE_DBW_T / 16)
#ifndef TILE_DBW_MIN_GROUPS
#define TILE_DBW_MIN_GROUPS 100
#endif
#define TILE_GS_WG 256
/* the tiled first layer reads the pixels itself (GATHER) when training at batches of at least
 * this many samples; below, input_gather runs as its own dispatch (bench/NOTES.md, experiments
 * 15 and 21: at batch 64 on the H200 the fold cost more than the dispatch it saves, 32.3 against
 * 31.0 ms per epoch) */
#ifndef TILE_GATHER_FOLD_MIN_BATCH
#define TILE_GATHER_FOLD_MIN_BATCH 128
#endif
/* one invocation per element: input_gather (per input), classify (per sample), optimizer (per parameter) */
#define TILE_GATHER_WG 64
#define TILE_CLASSIFY_WG 64
#define TILE_OPTIMIZER_WG 256
/* softmax_xent_backward: a sample per invocation, a tree reduction per workgroup (a power of
 * two) into one partial of the step's metrics */
#define TILE_XENT_WG 64
/* dense_softmax_xent (tiled path, the last layer and the loss in one dispatch when the classes
 * fit in TO): TS samples x TO class slots per workgroup, a thread each, over rounds of KC4 vec4s
 * of inputs; a (loss, correct) partial per workgroup */
#define TILE_DSX_TS 8
#define TILE_DSX_TO 16
#define TILE_DSX_KC4 32
#define TILE_DSX_WG (TILE_DSX_TS * TILE_DSX_TO)
/* grad_norm: pass 0 on NORM_GROUPS workgroups, pass 1 on one; tree reductions (powers of two) */
#define TILE_NORM_WG 256
#define TILE_NORM_GROUPS 64

/* fused_forward: a tile of TS samples x TH hidden units per workgroup; each thread 2 x 2 of it
 * over a KS-th of each round of KC4 vec4s of inputs */
#define TILE_FF_TS 8
#define TILE_FF_TH 16
#define TILE_FF_KS 7
#define TILE_FF_KC4 28
#define TILE_FF_WG ((TILE_FF_TS / 2) * (TILE_FF_TH / 2) * TILE_FF_KS)
/* fused_forward_wide, the same function on T x T tiles (4 x 4 outputs per thread, KC = T / 4
 * inputs a round), for batches of at least TILE_FFW_MIN_BATCH samples (bench/NOTES.md,
 * experiments 17, 30 and 38: split over its inputs, from 1024 on the H200, 4.0-4.6 against
 * 4.9-5.1 ms an epoch at 1024; from 256, 8.2 -> 6.0 at 512 and 9.4 -> 8.8 at 256); below it
 * fused_forward's small tiles, and at up to TILE_FU_FOLD_MAX_BATCH the two-dispatch step */
#ifndef TILE_FFW_T
#define TILE_FFW_T 64
#endif
#define TILE_FFW_WG (TILE_FFW_T * TILE_FFW_T / 16)
#ifndef TILE_FFW_MIN_BATCH
#define TILE_FFW_MIN_BATCH 256
#endif
/* fused_forward_wide splits each tile's rounds over up to TILE_FFW_MAX_SPLITS workgroups where
 * the batch has too few tiles to fill a GPU, to about TILE_FFW_GROUPS workgroups (two an SM on
 * the H200's 132); fused_softmax then adds the splits (bench/NOTES.md, experiment 27) */
#ifndef TILE_FFW_GROUPS
#define TILE_FFW_GROUPS 256
#endif
/* ... and to about TILE_FFW_GROUPS_LARGE from batch TILE_FFW_LARGE_MIN_BATCH: at 4096, 4 splits
 * in place of 2 took the forward from 54 to 48 us and the epoch from 2.23 to 2.09 ms, where at
 * 1024 the same target was slower, 3.57 -> 3.81 (bench/NOTES.md, experiment 40) */
#define TILE_FFW_GROUPS_LARGE 512
#define TILE_FFW_LARGE_MIN_BATCH 4096
#define TILE_FFW_MAX_SPLITS 16
/* fused_softmax: SB samples per workgroup; it sums the forward's partials (one per hidden tile),
 * or after a split wide forward the splits' dot products. 2 samples (6 threads per (sample,
 * class) in the split form's layer 2) ran 1-2 us faster than 4 at every batch from 256 to 4096
 * on the H200, and 8 on 256 threads no faster (bench/NOTES.md, experiment 32) */
#define TILE_FS_SB 2
#define TILE_FS_WG 128
/* ... and after a split forward, finishes the hidden layer HC units at a time through workgroup
 * memory (bench/NOTES.md, experiment 29) */
#define TILE_FS_HC 128
/* fused_update: W1 tiles of TJW hidden units x TK inputs, small tiles of TJ hidden units, each
 * staged TBATCH samples a round through SCRATCH floats of workgroup memory; at batches of more
 * than one gradient slice (TILE_FUSED_SLICE) wide W1 tiles of TJW_WIDE units, TBW samples a
 * round (bench/NOTES.md, experiment 20) */
#define TILE_FU_WG 256
#define TILE_FU_TJ 16
#define TILE_FU_TJW 32
#define TILE_FU_TJW_WIDE 64
#define TILE_FU_TK 64
#define TILE_FU_TBW 16
#define TILE_FU_TBATCH 32
#define TILE_FU_SCRATCH 2048
/* fused_update folds fused_softmax's work in, two dispatches a step instead of three, at
 * batches of at most this many samples where the adapter's workgroup memory holds the batch's
 * dlogits beside the tiles (tiles_fused_fold). bench/NOTES.md, experiment 22 (H200): 7% faster
 * at batch 64, 2% at 128, 5% slower at 256, where every workgroup's share of the batch's
 * softmax outweighs the dispatch it saves */
#ifndef TILE_FU_FOLD_MAX_BATCH
#define TILE_FU_FOLD_MAX_BATCH 128
#endif
/* fused_step: a training step in one dispatch at batches of at most TILE_FST_MAX_BATCH, steps
 * pipelined (the update of one and the forward of the next in each dispatch): a workgroup per
 * TILE_FST_TH hidden units (the kernel's TH), TILE_FST_WG threads, the rest of the mapping
 * fixed in the kernel. Its workgroup memory in floats: the samples' indices (2 x 64), the
 * shared scratch (the forward's 16 slices x 64 samples x TH partial sums, or the update's
 * logits, dhidden and hidden values), its W1 rows (TH x 784), its hidden values (64 x TH),
 * W2 columns, biases, and the per-sample loss and hit */
#define TILE_FST_WG 256
#ifndef TILE_FST_TH
#define TILE_FST_TH 4
#endif
#define TILE_FST_MAX_BATCH 64
/* every workgroup adds every tile's partial logits: at 128 tiles that costs five times the
 * step (bench/NOTES.md, experiment 23d), so wider layers keep the two-dispatch step */
#define TILE_FST_MAX_TILES 64
#define TILE_FST_SCRATCH (16 * 64 * TILE_FST_TH > 64 * 10 + 2 * 64 * TILE_FST_TH ? 16 * 64 * TILE_FST_TH \
                                                                             : 64 * 10 + 2 * 64 * TILE_FST_TH)
#define TILE_FST_STORAGE \
    (4 * (2 * 64 + TILE_FST_SCRATCH + TILE_FST_TH * 784 + 64 * TILE_FST_TH + 11 * TILE_FST_TH + 10 + 2 * 64))
/* health_stats: a workgroup per tensor, a tree reduction (a power of two) */
#define TILE_HEALTH_WG 256
/* fused_apply: one invocation per parameter */
#define TILE_FA_WG 256
/* the fused path splits the gradient reductions of a batch over slices of at most this many
 * samples (bench/NOTES.md: a serial reduction over 1024 samples was the slowest part), and at
 * most this many slices; at batches of at most TILE_FUSED_SMALL_MAX_BATCH, slices of
 * TILE_FUSED_SMALL_SLICE, whose twice as many workgroups fill the GPU where 256-sample slices
 * do not (bench/NOTES.md, experiment 36, H200: 3% faster at 256, 512 and 1024; at 2048 and
 * 4096 4-9% slower, where the grid is full already and fused_apply adds twice the slices) */
#define TILE_FUSED_SLICE 256
#ifndef TILE_FUSED_SMALL_SLICE
#define TILE_FUSED_SMALL_SLICE 128
#endif
#define TILE_FUSED_SMALL_MAX_BATCH 1024
#define TILE_FUSED_MAX_SLICES 64

/* gpu_kernel_get for file with the caller's constants (the model's: shapes, offsets,
 * hyperparameters) followed by the file's tile constants from the table (none for a file the
 * table does not list). "file:variant" names a second set of tiles for the same file. */
gpu_status tiles_kernel_get(gpu_context *ctx, const char *file, const gpu_constant *constants, int count,
                            gpu_kernel **out);

static inline uint32_t tiles_div_up(uint64_t n, uint32_t d) { return (uint32_t)((n + d - 1) / d); }

/* dense_forward's invocations for count samples of a layer of out outputs */
static inline uint64_t tiles_dense_forward_invocations(uint32_t count, uint32_t out) {
    return (uint64_t)tiles_div_up(count, TILE_DENSE_BLOCK) * tiles_div_up(out, TILE_DENSE_BLOCK);
}

/* dense_backward's: the dw blocks, db, and dprev (has_prev) */
static inline uint64_t tiles_dense_backward_invocations(uint32_t count, uint32_t in, uint32_t out, bool has_prev) {
    return (uint64_t)tiles_div_up(out, TILE_DENSE_BLOCK) * tiles_div_up(in, TILE_DENSE_BLOCK) + out +
           (has_prev ? (uint64_t)count * in : 0);
}

/* whether a tiled forward of out outputs at this batch takes the wide tiles, and the table's
 * name for its pipeline */
static inline bool tiles_dense_forward_wide(uint32_t batch, uint32_t out) {
    return (uint64_t)tiles_div_up(batch, TILE_DFTW_TS) * tiles_div_up(out, TILE_DFTW_TO) >= TILE_DFTW_MIN_GROUPS;
}
static inline const char *tiles_dense_forward_tiled_name(bool wide) {
    return wide ? "dense_forward_tiled.wgsl:wide" : "dense_forward_tiled.wgsl";
}
/* the tiled kernels' workgroups: forward tiles (small or wide), and backward's dw tiles plus
 * dprev's (has_prev) */
static inline uint32_t tiles_dense_forward_tiled_groups(uint32_t count, uint32_t out, bool wide) {
    return wide ? tiles_div_up(count, TILE_DFTW_TS) * tiles_div_up(out, TILE_DFTW_TO)
                : tiles_div_up(count, TILE_DFT_TS) * tiles_div_up(out, TILE_DFT_TO);
}
static inline uint32_t tiles_dense_forward_tiled_wg(bool wide) { return wide ? TILE_DFTW_WG : TILE_DFT_WG; }
/* the slices of a batch's dw sum, and the samples of each (slice_rows; every slice but the last full) */
static inline uint32_t tiles_dense_backward_slices(uint32_t batch) {
    uint32_t s = tiles_div_up(batch, TILE_DBT_SLICE);
    return s > TILE_DBT_MAX_SLICES ? TILE_DBT_MAX_SLICES : s ? s : 1;
}
static inline uint32_t tiles_dense_backward_slice_rows(uint32_t batch) {
    return tiles_div_up(batch, tiles_dense_backward_slices(batch));
}
/* whether a layer's backward takes dense_backward_wide (a first layer: no dprev), and its workgroups */
static inline uint32_t tiles_dense_backward_wide_groups(uint32_t in, uint32_t out, uint32_t slices) {
    return tiles_div_up(out, TILE_DBW_T) * tiles_div_up(in, TILE_DBW_T) * slices;
}
static inline bool tiles_dense_backward_wide(uint32_t batch, uint32_t in, uint32_t out, bool has_prev) {
    return !has_prev && tiles_dense_backward_wide_groups(in, out, tiles_dense_backward_slices(batch)) >= TILE_DBW_MIN_GROUPS;
}
static inline uint32_t tiles_dense_backward_tiled_groups(uint32_t count, uint32_t in, uint32_t out, bool has_prev,
                                                         uint32_t slices) {
    uint32_t itiles = tiles_div_up(in, TILE_DBT_TI);
    return tiles_div_up(out, TILE_DBT_TW) * itiles * slices + (has_prev ? tiles_div_up(count, TILE_DBT_TW) * itiles : 0);
}

/* softmax_xent_backward's workgroups, and so the metrics partials of each step, at a batch */
static inline uint32_t tiles_xent_parts(uint32_t batch) { return tiles_div_up(batch, TILE_XENT_WG); }
/* whether dense_softmax_xent takes a model of this many classes, and its partials per step */
static inline bool tiles_dense_softmax_fits(uint32_t classes) { return classes <= TILE_DSX_TO; }
static inline uint32_t tiles_dense_softmax_parts(uint32_t batch) { return tiles_div_up(batch, TILE_DSX_TS); }

/* the fused forward of a trainer of this batch: the wide tiles at large batches */
static inline bool tiles_fused_wide(uint32_t batch) { return batch >= TILE_FFW_MIN_BATCH; }
/* its hidden tiles: the partial sums per sample that fused_softmax adds */
static inline uint32_t tiles_fused_htiles(uint32_t hidden, uint32_t batch) {
    return tiles_div_up(hidden, tiles_fused_wide(batch) ? TILE_FFW_T : TILE_FF_TH);
}
/* the wide forward's splits of each tile's inputs at a batch (1: none) */
static inline uint32_t tiles_fused_forward_splits(uint32_t hidden, uint32_t batch) {
    if (!tiles_fused_wide(batch)) return 1;
    uint32_t groups = batch >= TILE_FFW_LARGE_MIN_BATCH ? TILE_FFW_GROUPS_LARGE : TILE_FFW_GROUPS;
    uint32_t s = tiles_div_up(groups, tiles_div_up(batch, TILE_FFW_T) * tiles_div_up(hidden, TILE_FFW_T));
    return s > TILE_FFW_MAX_SPLITS ? TILE_FFW_MAX_SPLITS : s;
}
/* its workgroups for a step of count samples */
static inline uint64_t tiles_fused_forward_groups(uint32_t count, uint32_t hidden, uint32_t batch) {
    return (uint64_t)tiles_div_up(count, tiles_fused_wide(batch) ? TILE_FFW_T : TILE_FF_TS) *
           tiles_fused_htiles(hidden, batch) * tiles_fused_forward_splits(hidden, batch);
}
static inline uint32_t tiles_fused_softmax_groups(uint32_t count) { return tiles_div_up(count, TILE_FS_SB); }
/* fused_update's input tiles of W1 (its K_TILES constant) */
static inline uint32_t tiles_fused_k_tiles(uint32_t inputs) { return tiles_div_up(inputs, TILE_FU_TK); }
static inline uint32_t tiles_fused_slices(uint32_t batch) {
    uint32_t slice = batch <= TILE_FUSED_SMALL_MAX_BATCH ? TILE_FUSED_SMALL_SLICE : TILE_FUSED_SLICE;
    uint32_t s = batch > slice ? tiles_div_up(batch, slice) : 1;
    return s > TILE_FUSED_MAX_SLICES ? TILE_FUSED_MAX_SLICES : s;
}
/* fused_update's W1 tiles at a batch: wide (its WIDE_W1 constant) where the batch is sliced */
static inline bool tiles_fused_update_wide(uint32_t batch) { return tiles_fused_slices(batch) > 1; }
static inline uint32_t tiles_fused_update_tjw(uint32_t batch) {
    return tiles_fused_update_wide(batch) ? TILE_FU_TJW_WIDE : TILE_FU_TJW;
}
/* fused_update's grid row: W1 tiles, small tiles, the metrics workgroup */
static inline uint32_t tiles_fused_update_groups(uint32_t hidden, uint32_t inputs, uint32_t batch) {
    return tiles_div_up(hidden, tiles_fused_update_tjw(batch)) * tiles_fused_k_tiles(inputs) +
           tiles_div_up(hidden, TILE_FU_TJ) + 1;
}
/* the fold's workgroup memory in floats (its FOLD_FLOATS constant): a W1 tile's columns of W2
 * and the batch's dlogits (the fused path's 10 classes), and whether a trainer of this batch
 * folds on an adapter with this much workgroup memory (bytes) */
static inline uint32_t tiles_fused_fold_floats(uint32_t batch) { return 10 * TILE_FU_TJW + 10 * batch; }
static inline bool tiles_fused_fold(uint32_t batch, uint32_t workgroup_storage) {
    return batch <= TILE_FU_FOLD_MAX_BATCH && tiles_fused_slices(batch) == 1 &&
           4ull * (TILE_FU_SCRATCH + TILE_FU_TBATCH * TILE_FU_TK + tiles_fused_fold_floats(batch)) <= workgroup_storage;
}
/* whether a trainer of this batch steps in one pipelined dispatch (fused_step) on an adapter
 * with this much workgroup memory (bytes), and its workgroups */
static inline uint32_t tiles_fused_step_groups(uint32_t hidden) { return tiles_div_up(hidden, TILE_FST_TH); }
static inline bool tiles_fused_step(uint32_t batch, uint32_t hidden, uint32_t workgroup_storage) {
    return batch <= TILE_FST_MAX_BATCH && tiles_fused_step_groups(hidden) <= TILE_FST_MAX_TILES &&
           TILE_FST_STORAGE <= workgroup_storage;
}
static inline uint32_t tiles_fused_apply_groups(uint64_t params) { return tiles_div_up(params, TILE_FA_WG); }

#endif
