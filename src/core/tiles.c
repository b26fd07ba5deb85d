/* The tile table; see tiles.h. */
#include "core/tiles.h"

#include <string.h>

#define TILES_MAX_PER_KERNEL 6

/* (TILE_FF_TS / 2) x (TILE_FF_TH / 2) threads, KS each over a share of the inputs; each stages
 * one vec4 of the TS x KC4 inputs and two of the TH x KC4 weights of a round, and the layer-2
 * partials take one thread per (sample, class) */
_Static_assert(TILE_FF_TS % 2 == 0 && TILE_FF_TH % 2 == 0, "fused_forward: 2 x 2 outputs per thread");
_Static_assert(TILE_FF_TS * TILE_FF_KC4 == TILE_FF_WG, "fused_forward: one vec4 of inputs per thread per round");
_Static_assert(TILE_FF_TH * TILE_FF_KC4 == 2 * TILE_FF_WG, "fused_forward: two vec4s of weights per thread per round");
_Static_assert((784 / 4) % TILE_FF_KC4 == 0, "fused_forward: whole rounds of its 784 inputs");
_Static_assert(TILE_FF_TS * 10 <= TILE_FF_WG, "fused_forward: a thread per sample and class of the tile");
/* xs and ws (vec4 rows padded to KC4 + 1), then part, hs and sample_of */
_Static_assert(16 * (TILE_FF_TS + TILE_FF_TH) * (TILE_FF_KC4 + 1) +
                       4 * (TILE_FF_TS * TILE_FF_TH * TILE_FF_KS + TILE_FF_TS * TILE_FF_TH + TILE_FF_TS) <=
                   16384,
               "fused_forward: within WebGPU's guaranteed 16 KiB of workgroup memory");
/* fused_forward_wide: a thread per 4 x 4 block; each stages one word of pixels (4 inputs of
 * one sample) and one vec4 of weights a round; whole rounds of the 784 inputs; smem (two
 * regions of KC rows of T / 4 + 1 vec4s) also holds two classes' partials per thread */
_Static_assert(TILE_FFW_T % 16 == 0 && 784 % (TILE_FFW_T / 4) == 0, "fused_forward_wide: whole words and rounds");
_Static_assert(TILE_FFW_MAX_SPLITS <= 784 / (TILE_FFW_T / 4), "fused_forward_wide: a round for every split");
_Static_assert(TILE_FFW_WG <= 256 && 2 * TILE_FFW_T <= TILE_FFW_WG, "fused_forward_wide: a thread per layer-2 sum");
_Static_assert(16 * 2 * (TILE_FFW_T / 4) * (TILE_FFW_T / 4 + 1) + 4 * TILE_FFW_T <= 16384,
               "fused_forward_wide: within WebGPU's guaranteed 16 KiB of workgroup memory");
_Static_assert(TILE_FS_SB * 10 <= TILE_FS_WG, "fused_softmax: a thread per sample and class");
/* fused_update: TK / 4 threads across a W1 tile's inputs (4 each) and the rest down its hidden
 * units (2 each; 4 each in wide tiles); per round each thread stages 4 dhidden values and 2 vec4s
 * of inputs (W1 tiles), one vec4 of each (wide W1 tiles), or 2 values of hidden and dhidden each
 * (small tiles) */
_Static_assert(TILE_FU_TK % 4 == 0 && TILE_FU_TJW == 2 * TILE_FU_WG / (TILE_FU_TK / 4),
               "fused_update: a W1 tile is 2 hidden units x 4 inputs per thread");
_Static_assert(TILE_FU_TJW_WIDE == 4 * TILE_FU_WG / (TILE_FU_TK / 4), "fused_update: a wide W1 tile is 4 x 4 per thread");
_Static_assert(TILE_FU_TBATCH * TILE_FU_TJW == 4 * TILE_FU_WG, "fused_update: 4 dhidden values per thread per round");
_Static_assert(TILE_FU_TBATCH * TILE_FU_TK == 8 * TILE_FU_WG, "fused_update: 2 vec4s of inputs per thread per round");
_Static_assert(TILE_FU_TBW * TILE_FU_TK == 4 * TILE_FU_WG && TILE_FU_TBW * TILE_FU_TJW_WIDE == 4 * TILE_FU_WG,
               "fused_update: one vec4 of inputs and one of dhidden per thread per round in wide tiles");
_Static_assert(TILE_FU_TBW * (TILE_FU_TK + TILE_FU_TJW_WIDE) <= TILE_FU_TBATCH * TILE_FU_TK,
               "fused_update: wide tiles stage in x_tile");
_Static_assert(TILE_FU_TBATCH * TILE_FU_TJ == 2 * TILE_FU_WG, "fused_update: 2 hidden values per thread per round");
_Static_assert(TILE_FU_TBATCH * 10 <= 2 * TILE_FU_WG && 10 * TILE_FU_TJ + TILE_FU_TJ + 10 <= TILE_FU_WG,
               "fused_update: the small tiles' dlogits and their threads");
_Static_assert(TILE_FU_SCRATCH >= TILE_FU_TBATCH * TILE_FU_TJW &&
                   TILE_FU_SCRATCH >= 2 * TILE_FU_TBATCH * TILE_FU_TJ + TILE_FU_TBATCH * 10 &&
                   TILE_FU_SCRATCH >= 2 * TILE_FU_WG,
               "fused_update: scratch holds each kind of workgroup's staging");
_Static_assert(TILE_FU_TJ <= TILE_FU_TJW, "fused_update: the fold's W2 columns fit a W1 tile's and a small tile's");
_Static_assert(4 * TILE_FU_SCRATCH + 4 * TILE_FU_TBATCH * TILE_FU_TK <= 16384,
               "fused_update: within WebGPU's guaranteed 16 KiB of workgroup memory");
/* fused_step: a thread per (sample, unit), per input word of the W1 update (196) with the small
 * gradients on the rest, and per (slice, 4 samples) of the forward; the kernel has the same */
_Static_assert(TILE_FST_MAX_BATCH * TILE_FST_TH <= TILE_FST_WG && 16 * (TILE_FST_MAX_BATCH / 4) == TILE_FST_WG,
               "fused_step: a thread per (sample, unit) and per (slice, 4 samples)");
_Static_assert(196 + 10 * TILE_FST_TH + TILE_FST_TH + 10 <= TILE_FST_WG, "fused_step: the small gradients' threads");
/* dense_*_tiled: 2 x 2 outputs per thread; rows of vec4s (forward) and pairs (backward) */
_Static_assert(TILE_DFT_TS % 2 == 0 && TILE_DFT_TO % 2 == 0 && TILE_DBT_TW % 2 == 0 && TILE_DBT_TI % 2 == 0,
               "dense tiled kernels: 2 x 2 outputs per thread");
_Static_assert((TILE_DFT_TS + TILE_DFT_TO) * TILE_DFT_KC4 <= 6 * TILE_DFT_WG,
               "dense_forward_tiled: at most NQ = 6 vec4s staged per thread per round");
_Static_assert(16 * (TILE_DFT_TS + TILE_DFT_TO) * (TILE_DFT_KC4 + 1) + 4 * TILE_DFT_TS * TILE_DFT_TO * TILE_DFT_KS <= 16384,
               "dense_forward_tiled: within WebGPU's guaranteed 16 KiB of workgroup memory");
_Static_assert(TILE_DBT_KB * (TILE_DBT_TW + TILE_DBT_TI) / 2 <= 4 * TILE_DBT_WG,
               "dense_backward_tiled: at most NQ = 4 pairs staged per thread per round");
_Static_assert(4 * TILE_DBT_KB * (TILE_DBT_TW + TILE_DBT_TI) <= 16384,
               "dense_backward_tiled: within WebGPU's guaranteed 16 KiB of workgroup memory");
_Static_assert(TILE_DFTW_TS % 2 == 0 && TILE_DFTW_TO % 2 == 0, "dense_forward_tiled's wide tiles: 2 x 2 outputs per thread");
_Static_assert((TILE_DFTW_TS + TILE_DFTW_TO) * TILE_DFTW_KC4 <= 6 * TILE_DFTW_WG,
               "dense_forward_tiled's wide tiles: at most NQ = 6 vec4s staged per thread per round");
_Static_assert(16 * (TILE_DFTW_TS + TILE_DFTW_TO) * (TILE_DFTW_KC4 + 1) + 4 * TILE_DFTW_TS * TILE_DFTW_TO * TILE_DFTW_KS <= 16384,
               "dense_forward_tiled's wide tiles: within WebGPU's guaranteed 16 KiB of workgroup memory");
_Static_assert(TILE_DBW_T % 4 == 0 && TILE_DBW_KB * TILE_DBW_T / 2 <= 2 * TILE_DBW_WG,
               "dense_backward_wide: 4 x 4 a thread, at most NQ = 2 vec4s staged per thread per round");
_Static_assert(2 * 4 * TILE_DBW_KB * TILE_DBW_T <= 16384, "dense_backward_wide: within WebGPU's guaranteed 16 KiB of workgroup memory");
_Static_assert(TILE_DBW_WG <= 256 && TILE_DFTW_WG <= 256 && TILE_DFT_WG <= 256 && TILE_DBT_WG <= 256 && TILE_DSX_WG <= 256, "within WebGPU's guaranteed 256 invocations");
/* xs and ws (padded rows of vec4s), the logits, each sample's Softmax (3 words), loss and count */
_Static_assert(16 * (TILE_DSX_TS + TILE_DSX_TO) * (TILE_DSX_KC4 + 1) + 4 * TILE_DSX_TS * TILE_DSX_TO + 20 * TILE_DSX_TS <= 16384,
               "dense_softmax_xent: within WebGPU's guaranteed 16 KiB of workgroup memory");
/* fused_softmax: the logits, dlogits, layer 2's partial sums and a chunk of hidden values */
_Static_assert(4 * (2 * TILE_FS_SB * 10 + TILE_FS_WG + TILE_FS_SB * TILE_FS_HC) <= 16384,
               "fused_softmax: within WebGPU's guaranteed 16 KiB of workgroup memory");
_Static_assert(TILE_FS_WG >= TILE_FS_SB * 10, "fused_softmax: a thread per (sample, class)");
#define POWER_OF_TWO(n) ((n) > 0 && ((n) & ((n) - 1)) == 0)
_Static_assert(POWER_OF_TWO(TILE_FU_WG) && POWER_OF_TWO(TILE_XENT_WG) && POWER_OF_TWO(TILE_NORM_WG) &&
                   POWER_OF_TWO(TILE_HEALTH_WG),
               "tree reductions halve the workgroup");

static const struct {
    const char *name; /* the file, or "file:variant" */
    int count;
    gpu_constant constants[TILES_MAX_PER_KERNEL];
} tile_table[] = {
    {"dense_forward.wgsl", 1, {{"WG", TILE_DENSE_WG}}},
    {"dense_backward.wgsl", 1, {{"WG", TILE_DENSE_WG}}},
    {"dense_forward_tiled.wgsl", 5,
     {{"WG", TILE_DFT_WG}, {"TS", TILE_DFT_TS}, {"TO", TILE_DFT_TO}, {"KS", TILE_DFT_KS}, {"KC4", TILE_DFT_KC4}}},
    {"dense_forward_tiled.wgsl:wide", 5,
     {{"WG", TILE_DFTW_WG}, {"TS", TILE_DFTW_TS}, {"TO", TILE_DFTW_TO}, {"KS", TILE_DFTW_KS}, {"KC4", TILE_DFTW_KC4}}},
    {"dense_backward_tiled.wgsl", 4, {{"WG", TILE_DBT_WG}, {"TW", TILE_DBT_TW}, {"TI", TILE_DBT_TI}, {"KB", TILE_DBT_KB}}},
    {"dense_backward_wide.wgsl", 3, {{"WG", TILE_DBW_WG}, {"T", TILE_DBW_T}, {"KB", TILE_DBW_KB}}},
    {"input_gather.wgsl", 1, {{"WG", TILE_GATHER_WG}}},
    {"classify.wgsl", 1, {{"WG", TILE_CLASSIFY_WG}}},
    {"softmax_xent_backward.wgsl", 1, {{"WG", TILE_XENT_WG}}},
    {"dense_softmax_xent.wgsl", 4, {{"WG", TILE_DSX_WG}, {"TS", TILE_DSX_TS}, {"TO", TILE_DSX_TO}, {"KC4", TILE_DSX_KC4}}},
    {"optimizer.wgsl", 1, {{"WG", TILE_OPTIMIZER_WG}}},
    {"grad_norm.wgsl", 2, {{"WG", TILE_NORM_WG}, {"GROUPS", TILE_NORM_GROUPS}}},
    {"fused_forward.wgsl", 5,
     {{"WG", TILE_FF_WG}, {"TS", TILE_FF_TS}, {"TH", TILE_FF_TH}, {"KS", TILE_FF_KS}, {"KC4", TILE_FF_KC4}}},
    {"fused_forward_wide.wgsl", 2, {{"WG", TILE_FFW_WG}, {"T", TILE_FFW_T}}},
    {"fused_softmax.wgsl", 3, {{"WG", TILE_FS_WG}, {"SB", TILE_FS_SB}, {"HC", TILE_FS_HC}}},
    {"fused_update.wgsl", 6,
     {{"WG", TILE_FU_WG},
      {"TJ", TILE_FU_TJ},
      {"TK", TILE_FU_TK},
      {"TBW", TILE_FU_TBW},
      {"TBATCH", TILE_FU_TBATCH},
      {"SCRATCH", TILE_FU_SCRATCH}}},
    {"fused_apply.wgsl", 1, {{"WG", TILE_FA_WG}}},
    {"grad_slices_sum.wgsl", 1, {{"WG", TILE_GS_WG}}},
    {"health_stats.wgsl", 1, {{"WG", TILE_HEALTH_WG}}},
};

gpu_status tiles_kernel_get(gpu_context *ctx, const char *file, const gpu_constant *constants, int count,
                            gpu_kernel **out) {
    /* a variant's name is its file's, then ":variant" */
    const char *colon = strchr(file, ':');
    char base[64];
    if (colon) {
        size_t len = (size_t)(colon - file);
        if (len >= sizeof base) len = sizeof base - 1;
        memcpy(base, file, len);
        base[len] = '\0';
    }
    for (size_t i = 0; i < sizeof tile_table / sizeof *tile_table; i++) {
        if (strcmp(tile_table[i].name, file)) continue;
        if (colon) file = base;
        int n = tile_table[i].count;
        /* past the limit gpu_kernel_get says so, reading none of them */
        if (count + n > GPU_MAX_CONSTANTS) return gpu_kernel_get(ctx, file, constants, count + n, out);
        gpu_constant all[GPU_MAX_CONSTANTS];
        memcpy(all, constants, (size_t)count * sizeof *all);
        memcpy(all + count, tile_table[i].constants, (size_t)n * sizeof *all);
        return gpu_kernel_get(ctx, file, all, count + n, out);
    }
    /* a kernel with no tiles: its pipeline fails on any override it lacks */
    return gpu_kernel_get(ctx, file, constants, count, out);
}
