// Integer dot products of quantized weight rows with an activation vector quantized to int8 or
// int16 blocks.
//
// Why C: the AVX2 integer multiply-adds these need (vpmaddubsw, vpmaddwd, vpsignb) and the
// saturating packs (vpackssdw/vpacksswb) have no Swift SIMD spelling; Swift's generic integer
// SIMD code compiles to per-lane arithmetic.
//
// Activation blocks (32 elements each), with Q = 127 (int8) or 32767 (int16):
//   d = max|x| / Q,  q = round_half_even(x · (Q / max|x|)) evaluated in f32 (so |q| ≤ Q),  s = d·Σq.
// A block whose max|x| is 0, or so small that Q / max|x| would overflow (≤ Q / FLT_MAX), counts
// as zero: d = 0, q = 0. Activations are finite.
//
// Each kernel returns Σ_i w_i · d·q_i, the exact product of the dequantized weights with the
// dequantized activation (s = d·Σq rather than Σx keeps it so), with one float FMA per block:
//   q8_0: d_w · d · Σ q_w·q
//   q4_0: d_w · d · Σ n·q − 8·d_w·s   (nibbles n taken as unsigned 0…15)
//   q4_1: d_w · d · Σ n·q + m_w·s
// int8: vpmaddubsw (unsigned × signed bytes → 16-bit pair sums) then vpmaddwd by ones; for q8_0
// the weight's magnitude is the unsigned operand and its sign moves onto q. Pair sums reach at
// most 2·128·127 = 32512 (q8_0) or 2·15·127 = 3810 (q4), below the saturation at 32767.
// int16: weights widened to 16 bits, vpmaddwd against q; a block's sum stays below 2^31.
// So the integer sums are exact, and results differ from a double-precision reference only by
// the float arithmetic.
#include "iquest_ckernels.h"
#include "kquants.h"
#include <float.h>
#include <math.h>
#include <string.h>

// Rows are read one at a time, and this many bytes ahead are prefetched: decode streams the
// whole model from DRAM, and the hardware prefetcher alone left these kernels waiting on it
// (a decode-shaped benchmark, SmolLM2 shapes, 1 thread: ~12 → ~10 ms per token with it).
#include "half_scalar.h"

// The portable kernels: the fallback where AVX2 is absent at compile time and the kernel set
// IQ_SET_SCALAR's q8_0/q4_0/q4_1 decode products (same rule, same integer sums).
// One row against int8 (q8) or int16 (q16) activations, whichever is not NULL.
static float scalar_dot_row(int kind, const uint8_t *row, const int8_t *q8, const int16_t *q16, const float *d,
                     const float *s, int64_t k) {
    float acc = 0;
    for (int64_t b = 0; b < k / 32; b++) {
        int32_t x[32], sum = 0;
        for (int i = 0; i < 32; i++) x[i] = q16 ? q16[32 * b + i] : q8[32 * b + i];
        if (kind == IQ_Q8_0) {
            const uint8_t *blk = row + 34 * b;
            for (int i = 0; i < 32; i++) sum += (int8_t)blk[2 + i] * x[i];
            acc += iq_half_at(blk) * d[b] * (float)sum;
        } else {
            const int has_min = kind == IQ_Q4_1;
            const uint8_t *blk = row + (has_min ? 20 : 18) * b, *nib = blk + (has_min ? 4 : 2);
            for (int j = 0; j < 16; j++) sum += (nib[j] & 0x0F) * x[j] + (nib[j] >> 4) * x[j + 16];
            const float dw = iq_half_at(blk);
            acc += dw * d[b] * (float)sum + (has_min ? iq_half_at(blk + 2) : -8.0f * dw) * s[b];
        }
    }
    return acc;
}

static void scalar_dot_rows(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q8, const int16_t *q16,
                            const float *d, const float *s, int64_t k, float *y) {
    for (int64_t r = 0; r < rows; r++) y[r] = scalar_dot_row(kind, (const uint8_t *)w + (size_t)r * row_bytes, q8, q16, d, s, k);
}

#define PREFETCH_AHEAD 2048

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "avx2_common.h"
#include "integer_blocks.h"

static inline int32_t hsum8i(__m256i v) {
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
    return _mm_cvtsi128_si32(t);
}

// One block of 32: q as four int32 vectors, the scale, and the sum of q.
static inline float quantize_block(const float *x, float qmax, __m256i n[4], int32_t *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4];
    for (int i = 0; i < 4; i++) v[i] = _mm256_loadu_ps(x + 8 * i);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                   _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    const int live = amax > qmax / FLT_MAX;
    const __m256 inv = _mm256_set1_ps(live ? qmax / amax : 0.0f);
    for (int i = 0; i < 4; i++)
        n[i] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[i], inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    *sum = hsum8i(_mm256_add_epi32(_mm256_add_epi32(n[0], n[1]), _mm256_add_epi32(n[2], n[3])));
    return live ? amax / qmax : 0.0f;
}

void iq_quantize_q8(const float *x, int64_t k, int8_t *q, float *d, float *s) {
    // vpackssdw/vpacksswb interleave the 128-bit lanes; this puts the dwords back in order.
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t b = 0; b < k / 32; b++) {
        __m256i n[4];
        int32_t sum;
        d[b] = quantize_block(x + 32 * b, 127.0f, n, &sum);
        s[b] = d[b] * (float)sum;
        const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(n[0], n[1]), _mm256_packs_epi32(n[2], n[3]));
        _mm256_storeu_si256((__m256i *)(q + 32 * b), _mm256_permutevar8x32_epi32(packed, order));
    }
}

void iq_quantize_q16(const float *x, int64_t k, int16_t *q, float *d, float *s) {
    for (int64_t b = 0; b < k / 32; b++) {
        __m256i n[4];
        int32_t sum;
        d[b] = quantize_block(x + 32 * b, 32767.0f, n, &sum);
        s[b] = d[b] * (float)sum;
        // vpackssdw interleaves 64-bit halves across lanes; vpermq 0xD8 restores the order.
        _mm256_storeu_si256((__m256i *)(q + 32 * b), _mm256_permute4x64_epi64(_mm256_packs_epi32(n[0], n[1]), 0xD8));
        _mm256_storeu_si256((__m256i *)(q + 32 * b + 16), _mm256_permute4x64_epi64(_mm256_packs_epi32(n[2], n[3]), 0xD8));
    }
}

// Σ q_w·q over one block as eight int32 lanes, for each weight layout and activation width
// (the weight unpacking and the per-token dot are apart in integer_blocks.h).
static inline __m256i block_q8_0_q8(const uint8_t *quants, const int8_t *q) {
    __m256i w[2];
    prep_q8_0_q8(quants, w);
    return dot_q8_0_q8(w, q);
}

static inline __m256i block_q4_q8(const uint8_t *quants, const int8_t *q) {
    __m256i w[2];
    prep_q4_q8(quants, w);
    return dot_q4_q8(w, q);
}

static inline __m256i block_q8_0_q16(const uint8_t *quants, const int16_t *q) {
    __m256i w[2];
    prep_q8_0_q16(quants, w);
    return dot_q8_0_q16(w, q);
}

static inline __m256i block_q4_q16(const uint8_t *quants, const int16_t *q) {
    __m256i w[2];
    prep_q4_q16(quants, w);
    return dot_q4_q16(w, q);
}

// Rows of one weight kind against one activation width: BLOCK_DOT(quants, q + 32·b) gives the
// block's integer sums. The kind is a compile-time constant in each instantiation.
#define DEFINE_DOT_ROWS(NAME, KIND, QTYPE, BLOCK_DOT)                                                \
    static void NAME(const uint8_t *w, size_t row_bytes, int64_t rows, const QTYPE *q, const float *d, \
                     const float *s, int64_t k, float *y) {                                          \
        const size_t block = KIND == IQ_Q8_0 ? 34 : KIND == IQ_Q4_0 ? 18 : 20;                       \
        const size_t quants = KIND == IQ_Q4_1 ? 4 : 2;                                              \
        for (int64_t r = 0; r < rows; r++) {                                                         \
            const uint8_t *row = w + (size_t)r * row_bytes;                                          \
            __m256 acc = _mm256_setzero_ps();                                                        \
            float offset = 0;                                                                        \
            for (int64_t b = 0; b < k / 32; b++) {                                                   \
                const uint8_t *blk = row + block * b;                                                \
                _mm_prefetch((const char *)(blk + PREFETCH_AHEAD), _MM_HINT_T0);                     \
                const float dw = iq_load_half(blk);                                                       \
                const __m256 sums = _mm256_cvtepi32_ps(BLOCK_DOT(blk + quants, q + 32 * b));         \
                acc = _mm256_fmadd_ps(sums, _mm256_set1_ps(dw * d[b]), acc);                         \
                if (KIND == IQ_Q4_0) offset -= 8.0f * dw * s[b];                                     \
                if (KIND == IQ_Q4_1) offset += iq_load_half(blk + 2) * s[b];                              \
            }                                                                                        \
            y[r] = iq_hsum8(acc) + offset;                                                              \
        }                                                                                            \
    }

DEFINE_DOT_ROWS(dot_rows_q8_0_q8, IQ_Q8_0, int8_t, block_q8_0_q8)
DEFINE_DOT_ROWS(dot_rows_q4_0_q8, IQ_Q4_0, int8_t, block_q4_q8)
DEFINE_DOT_ROWS(dot_rows_q4_1_q8, IQ_Q4_1, int8_t, block_q4_q8)
DEFINE_DOT_ROWS(dot_rows_q8_0_q16, IQ_Q8_0, int16_t, block_q8_0_q16)
DEFINE_DOT_ROWS(dot_rows_q4_0_q16, IQ_Q4_0, int16_t, block_q4_q16)
DEFINE_DOT_ROWS(dot_rows_q4_1_q16, IQ_Q4_1, int16_t, block_q4_q16)

void iq_dot_rows_q8(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                    const float *s, int64_t k, float *y) {
    if (iq_kernel_set() == IQ_SET_SCALAR && kind <= IQ_Q4_1) {
        scalar_dot_rows(kind, w, row_bytes, rows, q, NULL, d, s, k, y);
        return;
    }
    switch (kind) {
    case IQ_Q8_0: dot_rows_q8_0_q8(w, row_bytes, rows, q, d, s, k, y); break;
    case IQ_Q4_0: dot_rows_q4_0_q8(w, row_bytes, rows, q, d, s, k, y); break;
    case IQ_Q4_1: dot_rows_q4_1_q8(w, row_bytes, rows, q, d, s, k, y); break;
    case IQ_Q4_K: case IQ_Q6_K: iq_kq_dot_rows_q8(kind, w, row_bytes, rows, q, d, s, k, y); break;
    }
}

void iq_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                     const float *s, int64_t k, float *y) {
    const int set = iq_kernel_set();
    if (set == IQ_SET_AVX512 && iq_avx512_has_q16(kind)) {
        iq_avx512_dot_rows_q16(kind, w, row_bytes, rows, q, d, s, k, y);
        return;
    }
    if (set == IQ_SET_SCALAR && kind <= IQ_Q4_1) {
        scalar_dot_rows(kind, w, row_bytes, rows, NULL, q, d, s, k, y);
        return;
    }
    switch (kind) {
    case IQ_Q8_0: dot_rows_q8_0_q16(w, row_bytes, rows, q, d, s, k, y); break;
    case IQ_Q4_0: dot_rows_q4_0_q16(w, row_bytes, rows, q, d, s, k, y); break;
    case IQ_Q4_1: dot_rows_q4_1_q16(w, row_bytes, rows, q, d, s, k, y); break;
    case IQ_Q4_K: case IQ_Q6_K: iq_kq_dot_rows_q16(kind, w, row_bytes, rows, q, d, s, k, y); break;
    }
}

#else
// Portable fallback: the same rule and the same integer sums, in scalar code.

static float quantize_block(const float *x, float qmax, int32_t n[32], int32_t *sum) {
    float amax = 0;
    for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
    const int live = amax > qmax / FLT_MAX;
    const float inv = live ? qmax / amax : 0.0f;
    *sum = 0;
    for (int i = 0; i < 32; i++) {
        n[i] = (int32_t)nearbyintf(x[i] * inv);  // default rounding mode: half to even
        *sum += n[i];
    }
    return live ? amax / qmax : 0.0f;
}

void iq_quantize_q8(const float *x, int64_t k, int8_t *q, float *d, float *s) {
    for (int64_t b = 0; b < k / 32; b++) {
        int32_t n[32], sum;
        d[b] = quantize_block(x + 32 * b, 127.0f, n, &sum);
        s[b] = d[b] * (float)sum;
        for (int i = 0; i < 32; i++) q[32 * b + i] = (int8_t)n[i];
    }
}

void iq_quantize_q16(const float *x, int64_t k, int16_t *q, float *d, float *s) {
    for (int64_t b = 0; b < k / 32; b++) {
        int32_t n[32], sum;
        d[b] = quantize_block(x + 32 * b, 32767.0f, n, &sum);
        s[b] = d[b] * (float)sum;
        for (int i = 0; i < 32; i++) q[32 * b + i] = (int16_t)n[i];
    }
}

void iq_dot_rows_q8(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                    const float *s, int64_t k, float *y) {
    if (kind == IQ_Q4_K || kind == IQ_Q6_K) { iq_kq_dot_rows_q8(kind, w, row_bytes, rows, q, d, s, k, y); return; }
    for (int64_t r = 0; r < rows; r++) y[r] = scalar_dot_row(kind, (const uint8_t *)w + (size_t)r * row_bytes, q, NULL, d, s, k);
}

void iq_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                     const float *s, int64_t k, float *y) {
    if (kind == IQ_Q4_K || kind == IQ_Q6_K) { iq_kq_dot_rows_q16(kind, w, row_bytes, rows, q, d, s, k, y); return; }
    for (int64_t r = 0; r < rows; r++) y[r] = scalar_dot_row(kind, (const uint8_t *)w + (size_t)r * row_bytes, NULL, q, d, s, k);
}
#endif
