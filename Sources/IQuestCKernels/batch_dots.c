// Integer dots of quantized weight rows with several tokens' quantized activations at once (the
// decode step of continuous batching: one weight pass for every sequence's token).
//
// Batch invariance: token t's result is bitwise what iq_dot_rows_q8/_q16 gives for t alone.
//   q8_0 / q4_0 / q4_1: each 32-block of a row is unpacked once (integer_blocks.h prep_*) and
//   then, per token, the same dot_* lanes, the same FMA into that token's own accumulator and
//   the same offset arithmetic as DEFINE_DOT_ROWS in integer_dots.c, in the same block order.
//   q4_K / q6_K: the single-token kernel itself, called per token on a chunk of rows small
//   enough to stay in L1, so tokens after the first read the chunk from cache.
// Rows are taken ROW_CHUNK at a time and tokens in groups of at most TOKEN_GROUP (one
// accumulator register each); within a chunk every group re-reads the chunk's weights from L1.
#include "iquest_ckernels.h"
#include "kquants.h"
#include <stdlib.h>

// Rows per chunk: 16 rows of q8_0 at K = 1536 are 26 KiB, about L1.
#define ROW_CHUNK 16

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "avx2_common.h"
#include "integer_blocks.h"

// As integer_dots.c: prefetch this far ahead in the weight stream.
#define PREFETCH_AHEAD 2048
// Tokens per pass over a row: eight accumulators + two weight vectors + temporaries fit the 16
// ymm registers.
#define TOKEN_GROUP 8

// `rows` rows against G ≤ 8 tokens (G a compile-time constant after inlining): token t's
// quants at q + t·k, y[t·ldy + r]. The activation scales and sums come transposed, dt[8·b + t]
// and st[8·b + t] (batch_layout): a token's dw·d is a broadcast load times set1(dw), and one
// vector FMA advances every token's offset; each lane computes exactly the scalar dw·d[b] and
// offset ∓ m·s[b] of the single-token kernel (one rounding each, FMA fused in both).
#define DEFINE_BATCH_ROWS(NAME, KIND, QTYPE, PREP, DOT)                                                    \
    static inline __attribute__((always_inline)) void NAME(const uint8_t *w, size_t row_bytes, int64_t rows, \
                                                           const QTYPE *q, const float *dt, const float *st,  \
                                                           int64_t k, const int G, float *y, size_t ldy) {    \
        const size_t block = KIND == IQ_Q8_0 ? 34 : KIND == IQ_Q4_0 ? 18 : 20;                             \
        const size_t quants = KIND == IQ_Q4_1 ? 4 : 2;                                                    \
        const int64_t blocks = k / 32;                                                                     \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            const uint8_t *row = w + (size_t)r * row_bytes;                                                \
            __m256 acc[TOKEN_GROUP];                                                                       \
            for (int t = 0; t < G; t++) acc[t] = _mm256_setzero_ps();                                      \
            __m256 offset = _mm256_setzero_ps();                                                           \
            for (int64_t b = 0; b < blocks; b++) {                                                         \
                const uint8_t *blk = row + block * b;                                                      \
                _mm_prefetch((const char *)(blk + PREFETCH_AHEAD), _MM_HINT_T0);                           \
                const __m256 dwv = iq_load_half8(blk);                                                     \
                if (KIND == IQ_Q4_0)                                                                       \
                    offset = _mm256_fnmadd_ps(_mm256_mul_ps(_mm256_set1_ps(8.0f), dwv), _mm256_loadu_ps(st + 8 * b), offset); \
                if (KIND == IQ_Q4_1)                                                                       \
                    offset = _mm256_fmadd_ps(iq_load_half8(blk + 2), _mm256_loadu_ps(st + 8 * b), offset);    \
                __m256i wv[2];                                                                             \
                PREP(blk + quants, wv);                                                                    \
                for (int t = 0; t < G; t++) {                                                              \
                    const __m256 sums = _mm256_cvtepi32_ps(DOT(wv, q + t * k + 32 * b));                   \
                    /* dw·d as a broadcast load and a vector multiply (a shuffle-free set1(dw·d)). */      \
                    acc[t] = _mm256_fmadd_ps(sums, _mm256_mul_ps(dwv, _mm256_broadcast_ss(dt + 8 * b + t)), acc[t]); \
                }                                                                                          \
            }                                                                                              \
            float off[TOKEN_GROUP];                                                                        \
            _mm256_storeu_ps(off, offset);                                                                 \
            for (int t = 0; t < G; t++) y[(size_t)t * ldy + r] = iq_hsum8(acc[t]) + off[t];                \
        }                                                                                                  \
    }

DEFINE_BATCH_ROWS(batch_q8_0_q8, IQ_Q8_0, int8_t, prep_q8_0_q8, dot_q8_0_q8)
DEFINE_BATCH_ROWS(batch_q4_0_q8, IQ_Q4_0, int8_t, prep_q4_q8, dot_q4_q8)
DEFINE_BATCH_ROWS(batch_q4_1_q8, IQ_Q4_1, int8_t, prep_q4_q8, dot_q4_q8)
DEFINE_BATCH_ROWS(batch_q8_0_q16, IQ_Q8_0, int16_t, prep_q8_0_q16, dot_q8_0_q16)
DEFINE_BATCH_ROWS(batch_q4_0_q16, IQ_Q4_0, int16_t, prep_q4_q16, dot_q4_q16)
DEFINE_BATCH_ROWS(batch_q4_1_q16, IQ_Q4_1, int16_t, prep_q4_q16, dot_q4_q16)

// One instantiation per group size 1…8, so each keeps its accumulators in registers.
#define DEFINE_BATCH_GROUPS(NAME, QTYPE)                                                                   \
    static void NAME##_group(const uint8_t *w, size_t row_bytes, int64_t rows, const QTYPE *q,            \
                             const float *d, const float *s, int64_t k, int g, float *y, size_t ldy) {    \
        switch (g) {                                                                                       \
        case 1: NAME(w, row_bytes, rows, q, d, s, k, 1, y, ldy); break;                                    \
        case 2: NAME(w, row_bytes, rows, q, d, s, k, 2, y, ldy); break;                                    \
        case 3: NAME(w, row_bytes, rows, q, d, s, k, 3, y, ldy); break;                                    \
        case 4: NAME(w, row_bytes, rows, q, d, s, k, 4, y, ldy); break;                                    \
        case 5: NAME(w, row_bytes, rows, q, d, s, k, 5, y, ldy); break;                                    \
        case 6: NAME(w, row_bytes, rows, q, d, s, k, 6, y, ldy); break;                                    \
        case 7: NAME(w, row_bytes, rows, q, d, s, k, 7, y, ldy); break;                                    \
        default: NAME(w, row_bytes, rows, q, d, s, k, 8, y, ldy); break;                                   \
        }                                                                                                  \
    }

DEFINE_BATCH_GROUPS(batch_q8_0_q8, int8_t)
DEFINE_BATCH_GROUPS(batch_q4_0_q8, int8_t)
DEFINE_BATCH_GROUPS(batch_q4_1_q8, int8_t)
DEFINE_BATCH_GROUPS(batch_q8_0_q16, int16_t)
DEFINE_BATCH_GROUPS(batch_q4_0_q16, int16_t)
DEFINE_BATCH_GROUPS(batch_q4_1_q16, int16_t)

// Tokens are split into ⌈tokens/8⌉ groups as equal as possible (9 → 5 + 4, not 8 + 1: a group
// of one costs ~1.7× per token what a group of eight does); group g holds tokens
// [group_start(g), group_start(g + 1)). Which group a token lands in changes nothing in its
// arithmetic.
static inline int64_t group_start(int64_t g, int64_t groups, int64_t tokens) { return tokens * g / groups; }

// Group g's scales and sums transposed: dt[g·8·blocks + 8·b + i] = d[(group_start(g) + i)·blocks + b]
// (zero past the group's last token), the same for s.
static void batch_layout(const float *d, const float *s, int64_t blocks, int64_t tokens, int64_t groups,
                         float *dt, float *st) {
    for (int64_t g = 0; g < groups; g++) {
        const int64_t t0 = group_start(g, groups, tokens), size = group_start(g + 1, groups, tokens) - t0;
        float *dg = dt + g * TOKEN_GROUP * blocks, *sg = st + g * TOKEN_GROUP * blocks;
        for (int64_t b = 0; b < blocks; b++)
            for (int64_t i = 0; i < TOKEN_GROUP; i++) {
                dg[8 * b + i] = i < size ? d[(t0 + i) * blocks + b] : 0.0f;
                sg[8 * b + i] = i < size ? s[(t0 + i) * blocks + b] : 0.0f;
            }
    }
}

// Row chunks × token groups; `group` handles q8_0/q4_0/q4_1, `single` (the one-token kernel)
// each token of a k-quant chunk, and every token when the transposed scales can't be allocated.
#define DEFINE_BATCH_ENTRY(NAME, QTYPE, Q8_0, Q4_0, Q4_1, SINGLE, OTHER_SET)                                          \
    void NAME(int kind, const void *w, size_t row_bytes, int64_t rows, const QTYPE *q, const float *d,    \
              const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {                           \
        const int64_t blocks = k / 32, groups = (tokens + TOKEN_GROUP - 1) / TOKEN_GROUP;                  \
        if (OTHER_SET(kind, w, row_bytes, rows, q, d, s, k, tokens, y, ldy)) return;                       \
        const int grouped = kind == IQ_Q8_0 || kind == IQ_Q4_0 || kind == IQ_Q4_1;                         \
        float *dt = grouped ? malloc(sizeof(float) * 2 * (size_t)(groups * TOKEN_GROUP * blocks)) : NULL;  \
        float *st = dt ? dt + groups * TOKEN_GROUP * blocks : NULL;                                        \
        if (dt) batch_layout(d, s, blocks, tokens, groups, dt, st);                                        \
        for (int64_t r0 = 0; r0 < rows; r0 += ROW_CHUNK) {                                                 \
            const int64_t nr = rows - r0 < ROW_CHUNK ? rows - r0 : ROW_CHUNK;                              \
            const uint8_t *chunk = (const uint8_t *)w + (size_t)r0 * row_bytes;                            \
            for (int64_t gi = 0; gi < groups; gi++) {                                                      \
                const int64_t t0 = group_start(gi, groups, tokens);                                        \
                const int g = (int)(group_start(gi + 1, groups, tokens) - t0);                             \
                const QTYPE *qg = q + t0 * k;                                                              \
                float *yg = y + (size_t)t0 * ldy + r0;                                                     \
                if (!dt) {                                                                                 \
                    for (int t = 0; t < g; t++)                                                            \
                        SINGLE(kind, chunk, row_bytes, nr, qg + t * k, d + (t0 + t) * blocks,              \
                               s + (t0 + t) * blocks, k, yg + (size_t)t * ldy);                            \
                    continue;                                                                              \
                }                                                                                          \
                const float *dg = dt + gi * TOKEN_GROUP * blocks, *sg = st + gi * TOKEN_GROUP * blocks;    \
                switch (kind) {                                                                            \
                case IQ_Q8_0: Q8_0(chunk, row_bytes, nr, qg, dg, sg, k, g, yg, ldy); break;                \
                case IQ_Q4_0: Q4_0(chunk, row_bytes, nr, qg, dg, sg, k, g, yg, ldy); break;                \
                default: Q4_1(chunk, row_bytes, nr, qg, dg, sg, k, g, yg, ldy); break;                     \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        free(dt);                                                                                          \
    }

// Kinds whose kernels in the active set are not this file's AVX2 ones: computed there (returns 1).
// The scalar set runs the single-token kernel per token; the AVX-512 set has its own batch form.
static int other_set_q8(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                        const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    if (!(iq_kernel_set() == IQ_SET_SCALAR && kind <= IQ_Q4_1)) return 0;
    for (int64_t t = 0; t < tokens; t++)
        iq_dot_rows_q8(kind, w, row_bytes, rows, q + t * k, d + t * (k / 32), s + t * (k / 32), k, y + (size_t)t * ldy);
    return 1;
}
static int other_set_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                         const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    if (iq_kernel_set() == IQ_SET_AVX512 && iq_avx512_has_q16(kind)) {
        iq_avx512_dot_rows_q16_batch(kind, w, row_bytes, rows, q, d, s, k, tokens, y, ldy);
        return 1;
    }
    if (!(iq_kernel_set() == IQ_SET_SCALAR && kind <= IQ_Q4_1)) return 0;
    for (int64_t t = 0; t < tokens; t++)
        iq_dot_rows_q16(kind, w, row_bytes, rows, q + t * k, d + t * (k / 32), s + t * (k / 32), k, y + (size_t)t * ldy);
    return 1;
}

DEFINE_BATCH_ENTRY(iq_dot_rows_q8_batch, int8_t, batch_q8_0_q8_group, batch_q4_0_q8_group, batch_q4_1_q8_group,
                   iq_dot_rows_q8, other_set_q8)
DEFINE_BATCH_ENTRY(iq_dot_rows_q16_batch, int16_t, batch_q8_0_q16_group, batch_q4_0_q16_group,
                   batch_q4_1_q16_group, iq_dot_rows_q16, other_set_q16)

#else
// Portable fallback: the single-token kernel per token (same results, no weight reuse).
void iq_dot_rows_q8_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                          const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    for (int64_t t = 0; t < tokens; t++)
        iq_dot_rows_q8(kind, w, row_bytes, rows, q + t * k, d + t * (k / 32), s + t * (k / 32), k, y + (size_t)t * ldy);
}

void iq_dot_rows_q16_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q,
                           const float *d, const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    for (int64_t t = 0; t < tokens; t++)
        iq_dot_rows_q16(kind, w, row_bytes, rows, q + t * k, d + t * (k / 32), s + t * (k / 32), k, y + (size_t)t * ldy);
}
#endif
