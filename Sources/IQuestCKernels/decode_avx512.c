// AVX-512 VNNI decode kernels: quantized weight rows · an activation quantized to int16 blocks of
// 32 (iq_quantize_q16), the default decode path, for q8_0 / q4_0 / q4_1.
//
// A block's 32 weights are widened to int16 (q4: raw nibbles 0…15) and meet the activation's 32
// int16 quants in two vpdpwssd: eight int32 lanes of exact sums (≤ 4·128·32767 for q8_0). Then,
// as in the AVX2 kernels, one float FMA per block with the scale dw·d[b], and the offset terms
// (q4_0: −8·dw·s[b], q4_1: m·s[b]). Results differ from the AVX2 set's in the float rounding
// order only.
//
// Several tokens (iq_dot_rows_q16_batch): groups of up to 4 tokens on chunks of rows, each weight
// block widened once per group, every token's operations those of the single-token kernel in the
// same order, so each token's result is bitwise what it is alone.
#include "iquest_ckernels.h"
#include "kquants.h"
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "avx2_common.h"

#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define PREFETCH_AHEAD 8192
// Rows per chunk when several tokens share the call (16 rows of q8_0 at K = 5120: 170 KiB, in L2).
#define ROW_CHUNK 16


// Rows against one token. Blocks go eight at a time: the eight weight scales (and q4_1's mins)
// come in with one dword gather at the block starts, are converted together and multiplied by
// the activation's scales d[b…b+7] in one vector op, and the offset terms (q4_0: −8·dw·s,
// q4_1: m·s) advance eight lanes with one FMA. Per block there remain the widening, two
// vpdpwssd (ymm: 256-bit EVEX ops leave all three vector ports in use), the conversion and one
// FMA with the block's scale read back as a broadcast load. A tail of < 8 blocks takes the same
// steps with the gather masked.
#define DEFINE_ROWS_512(NAME, KIND)                                                                       \
    static AVX512_TARGET void NAME(const uint8_t *w, size_t row_bytes, int64_t rows, const int16_t *q,     \
                                   const float *d, const float *s, int64_t k, float *y) {                  \
        const int block = KIND == IQ_Q8_0 ? 34 : KIND == IQ_Q4_0 ? 18 : 20;                               \
        const size_t quants = KIND == IQ_Q4_1 ? 4 : 2;                                                   \
        const int64_t blocks = k / 32;                                                                    \
        const __m256i starts = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(block)); \
        const __m256i low4 = _mm256_set1_epi16(0x0F);                                                     \
        for (int64_t r = 0; r < rows; r++) {                                                              \
            const uint8_t *row = w + (size_t)r * row_bytes;                                               \
            __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), off = _mm256_setzero_ps();     \
            for (int64_t b0 = 0; b0 < blocks; b0 += 8) {                                                  \
                const int n = blocks - b0 < 8 ? (int)(blocks - b0) : 8;                                   \
                const __mmask8 live = (__mmask8)((1u << n) - 1);                                          \
                const uint8_t *base = row + (size_t)block * b0;                                           \
                _mm_prefetch((const char *)(base + PREFETCH_AHEAD), _MM_HINT_T1);                         \
                _mm_prefetch((const char *)(base + PREFETCH_AHEAD + 64), _MM_HINT_T1);                    \
                _mm_prefetch((const char *)(base + PREFETCH_AHEAD + 128), _MM_HINT_T1);                   \
                if (KIND == IQ_Q8_0) _mm_prefetch((const char *)(base + PREFETCH_AHEAD + 192), _MM_HINT_T1); \
                const __m256i heads = _mm256_mmask_i32gather_epi32(_mm256_setzero_si256(), live, starts, base, 1); \
                const __m256 dw = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(heads));                          \
                const __m256 dv = _mm256_maskz_loadu_ps(live, d + b0), sv = _mm256_maskz_loadu_ps(live, s + b0); \
                float scale[8];                                                                           \
                _mm256_storeu_ps(scale, _mm256_mul_ps(dw, dv));                                           \
                if (KIND == IQ_Q4_0) off = _mm256_fnmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(8.0f)), sv, off); \
                if (KIND == IQ_Q4_1)                                                                      \
                    off = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm256_cvtepi32_epi16(_mm256_srli_epi32(heads, 16))), sv, off); \
                for (int i = 0; i < n; i++) {                                                             \
                    const uint8_t *qs = base + (size_t)block * i + quants;                                \
                    const int16_t *x = q + 32 * (b0 + i);                                                 \
                    __m256i lo, hi;                                                                       \
                    if (KIND == IQ_Q8_0) {                                                                \
                        lo = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)qs));                  \
                        hi = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(qs + 16)));           \
                    } else {                                                                              \
                        const __m256i bytes = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)qs)); \
                        lo = _mm256_and_si256(bytes, low4);                                               \
                        hi = _mm256_srli_epi16(bytes, 4);                                                 \
                    }                                                                                     \
                    __m256i sums = _mm256_dpwssd_epi32(_mm256_setzero_si256(), lo, _mm256_loadu_si256((const __m256i *)x)); \
                    sums = _mm256_dpwssd_epi32(sums, hi, _mm256_loadu_si256((const __m256i *)(x + 16)));  \
                    if (i & 1) acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_broadcast_ss(scale + i), acc1); \
                    else acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_broadcast_ss(scale + i), acc0); \
                }                                                                                         \
            }                                                                                             \
            y[r] = iq_hsum8(_mm256_add_ps(acc0, acc1)) + iq_hsum8(off);                                          \
        }                                                                                                 \
    }

DEFINE_ROWS_512(rows512_q8_0, IQ_Q8_0)
DEFINE_ROWS_512(rows512_q4_0, IQ_Q4_0)
DEFINE_ROWS_512(rows512_q4_1, IQ_Q4_1)

// Rows against NT ≤ 4 tokens at once (speculative verify rows, small batches): each weight block
// is loaded and widened once, then meets every token's quants. Per token the operations are the
// single-token kernel's above, in the same order (same accumulator parity, same scale products,
// same offset FMA, same final sums), so each token's result is bitwise what it is alone.
#define DEFINE_GROUP_512(NAME, KIND)                                                                      \
    static AVX512_TARGET __attribute__((always_inline)) inline void NAME(                                  \
        const uint8_t *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d, const float *s, \
        int64_t k, const int nt, float *y, size_t ldy) {                                                 \
        const int block = KIND == IQ_Q8_0 ? 34 : KIND == IQ_Q4_0 ? 18 : 20;                               \
        const size_t quants = KIND == IQ_Q4_1 ? 4 : 2;                                                   \
        const int64_t blocks = k / 32;                                                                    \
        const __m256i starts = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(block)); \
        const __m256i low4 = _mm256_set1_epi16(0x0F);                                                     \
        for (int64_t r = 0; r < rows; r++) {                                                              \
            const uint8_t *row = w + (size_t)r * row_bytes;                                               \
            __m256 acc0[4], acc1[4], off[4];                                                              \
            for (int t = 0; t < nt; t++) acc0[t] = acc1[t] = off[t] = _mm256_setzero_ps();               \
            for (int64_t b0 = 0; b0 < blocks; b0 += 8) {                                                  \
                const int n = blocks - b0 < 8 ? (int)(blocks - b0) : 8;                                   \
                const __mmask8 live = (__mmask8)((1u << n) - 1);                                          \
                const uint8_t *base = row + (size_t)block * b0;                                           \
                _mm_prefetch((const char *)(base + PREFETCH_AHEAD), _MM_HINT_T1);                         \
                _mm_prefetch((const char *)(base + PREFETCH_AHEAD + 64), _MM_HINT_T1);                    \
                _mm_prefetch((const char *)(base + PREFETCH_AHEAD + 128), _MM_HINT_T1);                   \
                if (KIND == IQ_Q8_0) _mm_prefetch((const char *)(base + PREFETCH_AHEAD + 192), _MM_HINT_T1); \
                const __m256i heads = _mm256_mmask_i32gather_epi32(_mm256_setzero_si256(), live, starts, base, 1); \
                const __m256 dw = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(heads));                          \
                float scale[4][8];                                                                        \
                for (int t = 0; t < nt; t++) {                                                            \
                    const float *dt = d + t * blocks, *st = s + t * blocks;                               \
                    const __m256 dv = _mm256_maskz_loadu_ps(live, dt + b0), sv = _mm256_maskz_loadu_ps(live, st + b0); \
                    _mm256_storeu_ps(scale[t], _mm256_mul_ps(dw, dv));                                    \
                    if (KIND == IQ_Q4_0) off[t] = _mm256_fnmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(8.0f)), sv, off[t]); \
                    if (KIND == IQ_Q4_1)                                                                  \
                        off[t] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm256_cvtepi32_epi16(_mm256_srli_epi32(heads, 16))), sv, off[t]); \
                }                                                                                         \
                for (int i = 0; i < n; i++) {                                                             \
                    const uint8_t *qs = base + (size_t)block * i + quants;                                \
                    __m256i lo, hi;                                                                       \
                    if (KIND == IQ_Q8_0) {                                                                \
                        lo = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)qs));                  \
                        hi = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(qs + 16)));           \
                    } else {                                                                              \
                        const __m256i bytes = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)qs)); \
                        lo = _mm256_and_si256(bytes, low4);                                               \
                        hi = _mm256_srli_epi16(bytes, 4);                                                 \
                    }                                                                                     \
                    for (int t = 0; t < nt; t++) {                                                        \
                        const int16_t *x = q + t * k + 32 * (b0 + i);                                     \
                        __m256i sums = _mm256_dpwssd_epi32(_mm256_setzero_si256(), lo, _mm256_loadu_si256((const __m256i *)x)); \
                        sums = _mm256_dpwssd_epi32(sums, hi, _mm256_loadu_si256((const __m256i *)(x + 16))); \
                        if (i & 1) acc1[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_broadcast_ss(scale[t] + i), acc1[t]); \
                        else acc0[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_broadcast_ss(scale[t] + i), acc0[t]); \
                    }                                                                                     \
                }                                                                                         \
            }                                                                                             \
            for (int t = 0; t < nt; t++) y[(size_t)t * ldy + r] = iq_hsum8(_mm256_add_ps(acc0[t], acc1[t])) + iq_hsum8(off[t]); \
        }                                                                                                 \
    }

DEFINE_GROUP_512(group512_q8_0, IQ_Q8_0)
DEFINE_GROUP_512(group512_q4_0, IQ_Q4_0)
DEFINE_GROUP_512(group512_q4_1, IQ_Q4_1)

// One kind, nt a constant in each call so the per-token arrays stay in registers.
#define GROUP_CALL(FN)                                                                                    \
    switch (nt) {                                                                                         \
    case 4: FN(w, row_bytes, rows, q, d, s, k, 4, y, ldy); break;                                         \
    case 3: FN(w, row_bytes, rows, q, d, s, k, 3, y, ldy); break;                                         \
    case 2: FN(w, row_bytes, rows, q, d, s, k, 2, y, ldy); break;                                         \
    default: FN(w, row_bytes, rows, q, d, s, k, 1, y, ldy); break;                                        \
    }

static AVX512_TARGET void group512(int kind, const uint8_t *w, size_t row_bytes, int64_t rows, const int16_t *q,
                                   const float *d, const float *s, int64_t k, int nt, float *y, size_t ldy) {
    switch (kind) {
    case IQ_Q8_0: GROUP_CALL(group512_q8_0) break;
    case IQ_Q4_0: GROUP_CALL(group512_q4_0) break;
    case IQ_Q4_1: GROUP_CALL(group512_q4_1) break;
    }
}

int iq_avx512_has_q16(int kind) { return kind == IQ_Q8_0 || kind == IQ_Q4_0 || kind == IQ_Q4_1; }

void iq_avx512_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                            const float *s, int64_t k, float *y) {
    switch (kind) {
    case IQ_Q8_0: rows512_q8_0(w, row_bytes, rows, q, d, s, k, y); break;
    case IQ_Q4_0: rows512_q4_0(w, row_bytes, rows, q, d, s, k, y); break;
    case IQ_Q4_1: rows512_q4_1(w, row_bytes, rows, q, d, s, k, y); break;
    }
}

void iq_avx512_dot_rows_q16_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q,
                                  const float *d, const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    // Groups of up to 4 tokens share each weight block's load and widening (verify rows of a
    // speculative step used to cost a whole single-token pass each); row chunks keep the
    // weights of a chunk in L1/L2 for the next group.
    for (int64_t r0 = 0; r0 < rows; r0 += ROW_CHUNK) {
        const int64_t nr = rows - r0 < ROW_CHUNK ? rows - r0 : ROW_CHUNK;
        const uint8_t *chunk = (const uint8_t *)w + (size_t)r0 * row_bytes;
        for (int64_t t = 0; t < tokens; t += 4) {
            const int nt = tokens - t < 4 ? (int)(tokens - t) : 4;
            group512(kind, chunk, row_bytes, nr, q + t * k, d + t * blocks, s + t * blocks, k, nt,
                     y + (size_t)t * ldy + r0, ldy);
        }
    }
}
#else
int iq_avx512_has_q16(int kind) { (void)kind; return 0; }
void iq_avx512_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                            const float *s, int64_t k, float *y) {}
void iq_avx512_dot_rows_q16_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q,
                                  const float *d, const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {}
#endif
