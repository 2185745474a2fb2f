// Kernels for ggml's k-quant super-blocks (256 elements), the types of "Q4_K_M" checkpoints.
//
// Why C: as in row_kernels.c / integer_dots.c, the byte shuffles, int8/int16 widening and
// vpmaddubsw/vpmaddwd these need have no Swift SIMD spelling that compiles to vector code.
//
// Layouts (ggml's block_q4_K / block_q6_K), elements e = 0…255 of one super-block:
//   IQ_Q4_K (144 bytes): f16 d @0, f16 dmin @2, scales[12] @4, qs[128] @16.
//     Sub-block j = e/32 has 6-bit scale sc_j and min m_j packed in scales[] (get_scale_min_k4:
//     j < 4: sc = s[j] & 63, m = s[j+4] & 63; j ≥ 4: sc = (s[j+4] & 15) | (s[j-4] >> 6) << 4,
//     m = (s[j+4] >> 4) | (s[j] >> 6) << 4).  Nibble n_e: byte qs[32·(j/2) + e%32], low nibble
//     for even j, high for odd j.   x_e = d·sc_j·n_e − dmin·m_j.
//   IQ_Q6_K (210 bytes): ql[128] @0, qh[64] @128, int8 scales[16] @192, f16 d @208.
//     Half h = e/128, l = e%32, quarter c = (e%128)/32 (ql' = ql + 64h, qh' = qh + 32h):
//     code = (ql'[l + 32·(c&1)] >> 4·(c>>1) & 15) | ((qh'[l] >> 2c) & 3) << 4,
//     x_e = d · scales[e/16] · (code − 32).
//
// Integer dots (activation blocks of 32 as in integer_dots.c: scale da, sum s = da·Σq), per
// activation block b = sub-block j of a super-block:
//   q4_K: d·sc_j·da · Σ n·q  −  dmin·m_j · s
//   q6_K: d·da · (sc_2j·Σ_{first 16} c·q + sc_2j+1·Σ_{last 16} c·q),  c = code − 32 ∈ [−32, 31]
// int8: vpmaddubsw pair sums reach 2·15·127 = 3810 (q4_K nibbles × q) or 2·32·127 = 8128
// (q6_K: |c| as the unsigned operand, its sign moved onto q), below the 16-bit saturation; for
// q6_K vpmaddwd then multiplies the pair sums by the two int8 scales: 2·8128·128 ≈ 2.1e6.
// int16: vpmaddwd of widened codes with q: lanes ≤ 4·15·32767 ≈ 2.0e6 (q4_K) and 2·32·32767
// ≈ 2.1e6 per 16-element half (q6_K, each half scaled by its own float FMA). Every lane is
// below 2^24, so the integer sums are exact and also exact once converted to float: results
// differ from a double-precision reference only by the float arithmetic.
#include "kquants.h"
#include <string.h>

#define PREFETCH_AHEAD 2048

// Per 16 elements s of one super-block: x = mul[s]·code + add[s] (code as the kernels unpack it:
// nibble for q4_K, code − 32 for q6_K). Scalar: 8–16 values per 256 elements.
static inline float half_bits_to_float(const uint8_t *p);

static inline void kq_scales(int kind, const uint8_t *blk, float mul[16], float add[16]) {
    if (kind == IQ_Q4_K) {
        const float d = half_bits_to_float(blk), dmin = half_bits_to_float(blk + 2);
        const uint8_t *s = blk + 4;
        for (int j = 0; j < 8; j++) {
            int sc, m;
            iq_q4k_scale_min(s, j, &sc, &m);
            mul[2 * j] = mul[2 * j + 1] = d * (float)sc;
            add[2 * j] = add[2 * j + 1] = -dmin * (float)m;
        }
    } else {
        const float d = half_bits_to_float(blk + 208);
        for (int s = 0; s < 16; s++) {
            mul[s] = d * (float)(int8_t)blk[192 + s];
            add[s] = 0;
        }
    }
}

static inline size_t kq_block_bytes(int kind) { return kind == IQ_Q4_K ? 144 : 210; }

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "avx2_common.h"

static inline float half_bits_to_float(const uint8_t *p) { return iq_load_half(p); }

// The 256 codes of a super-block in element order, 32 per vector: unsigned nibbles (q4_K) or
// signed code − 32 (q6_K).
static inline void kq_unpack(int kind, const uint8_t *blk, __m256i v[8]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    if (kind == IQ_Q4_K) {
        for (int j = 0; j < 4; j++) {
            const __m256i bytes = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * j));
            v[2 * j] = _mm256_and_si256(bytes, m4);
            v[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
        }
    } else {
        const __m256i m2 = _mm256_set1_epi8(3), bias = _mm256_set1_epi8(32);
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h));
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h + 32));
            const __m256i hb = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
            // Bits ≤ 0x30 after the shift left, so 16-bit shifts cannot carry across bytes.
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4);
            const __m256i h2 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4);
            const __m256i h3 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4);
            v[4 * h + 0] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(l0, m4), h0), bias);
            v[4 * h + 1] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(l1, m4), h1), bias);
            v[4 * h + 2] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), h2), bias);
            v[4 * h + 3] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), h3), bias);
        }
    }
}

// Prefetches the super-block PREFETCH_AHEAD bytes on, every cache line of it: a super-block
// spans 3–4 lines, and one prefetch per block (enough for the 18–34-byte blocks of
// integer_dots.c) left the q6_K kernels stalled on memory (perf: the first load of each block).
static inline void kq_prefetch(int kind, const uint8_t *blk) {
    for (size_t off = 0; off < kq_block_bytes(kind); off += 64) _mm_prefetch((const char *)(blk + PREFETCH_AHEAD + off), _MM_HINT_T0);
}

// Sub-blocks 2c and 2c + 1 of a super-block (codes as kq_unpack gives them).
static inline __attribute__((always_inline)) void kq_unpack_pair(int kind, const uint8_t *blk, int c, __m256i out[2]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    if (kind == IQ_Q4_K) {
        const __m256i bytes = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * c));
        out[0] = _mm256_and_si256(bytes, m4);
        out[1] = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
    } else {
        // Sub-blocks 4h + {0,1,2,3} of half h come from ql (low 32 bytes for 0 and 2, high for
        // 1 and 3; nibble low for 0/1, high for 2/3) and qh bit pairs 0, 1, 2, 3.
        const int h = c / 2, upper = c % 2;   /* c = 2h + upper: sub-blocks 4h + 2·upper + {0, 1} */
        const __m256i m2 = _mm256_set1_epi8(3), bias = _mm256_set1_epi8(32);
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h));
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h + 32));
        const __m256i hb = _mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h)), 4 * upper);
        const __m256i a = upper ? _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4) : _mm256_and_si256(l0, m4);
        const __m256i b = upper ? _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4) : _mm256_and_si256(l1, m4);
        out[0] = _mm256_sub_epi8(_mm256_or_si256(a, _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4)), bias);
        out[1] = _mm256_sub_epi8(_mm256_or_si256(b, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4)), bias);
    }
}

// Eight f32 weights: elements 8i…8i+7 of sub-block j.
static inline __m256 kq_weights8(int kind, const uint8_t *codes, int j, int i, const float mul[16], const float add[16]) {
    const __m128i b = _mm_loadl_epi64((const __m128i *)(codes + 32 * j + 8 * i));
    const __m256i n = kind == IQ_Q4_K ? _mm256_cvtepu8_epi32(b) : _mm256_cvtepi8_epi32(b);
    const int s = 2 * j + i / 2;
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(n), _mm256_set1_ps(mul[s]), _mm256_set1_ps(add[s]));
}

#define DEFINE_KQ_F32(NAME, KIND)                                                                  \
    static void decode_##NAME(const uint8_t *src, float *dst, int64_t n) {                         \
        for (int64_t sb = 0; sb < n / 256; sb++) {                                                 \
            const uint8_t *blk = src + (size_t)sb * kq_block_bytes(KIND);                          \
            float mul[16], add[16];                                                                \
            __m256i v[8];                                                                          \
            uint8_t codes[256];                                                                    \
            kq_scales(KIND, blk, mul, add);                                                        \
            kq_unpack(KIND, blk, v);                                                               \
            for (int j = 0; j < 8; j++) _mm256_storeu_si256((__m256i *)(codes + 32 * j), v[j]);    \
            for (int j = 0; j < 8; j++)                                                            \
                for (int i = 0; i < 4; i++)                                                        \
                    _mm256_storeu_ps(dst + 256 * sb + 32 * j + 8 * i, kq_weights8(KIND, codes, j, i, mul, add)); \
        }                                                                                          \
    }                                                                                              \
    static void dot_##NAME(const uint8_t *w, size_t row_bytes, int64_t rows, const float *x, int64_t k, float *y) { \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            const uint8_t *row = w + (size_t)r * row_bytes;                                        \
            __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
            for (int64_t sb = 0; sb < k / 256; sb++) {                                             \
                const uint8_t *blk = row + (size_t)sb * kq_block_bytes(KIND);                      \
                kq_prefetch(KIND, blk);                                                            \
                float mul[16], add[16];                                                            \
                __m256i v[8];                                                                      \
                uint8_t codes[256];                                                                \
                kq_scales(KIND, blk, mul, add);                                                    \
                kq_unpack(KIND, blk, v);                                                           \
                for (int j = 0; j < 8; j++) _mm256_storeu_si256((__m256i *)(codes + 32 * j), v[j]); \
                const float *xp = x + 256 * sb;                                                    \
                for (int j = 0; j < 8; j++)                                                        \
                    for (int i = 0; i < 4; i++)                                                    \
                        acc[i] = _mm256_fmadd_ps(kq_weights8(KIND, codes, j, i, mul, add),         \
                                                 _mm256_loadu_ps(xp + 32 * j + 8 * i), acc[i]);    \
            }                                                                                      \
            y[r] = iq_hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]))); \
        }                                                                                          \
    }

DEFINE_KQ_F32(q4_K, IQ_Q4_K)
DEFINE_KQ_F32(q6_K, IQ_Q6_K)

void iq_kq_decode_row(int kind, const void *src, float *dst, int64_t n) {
    if (kind == IQ_Q4_K) decode_q4_K(src, dst, n);
    else decode_q6_K(src, dst, n);
}

void iq_kq_dot_rows(int kind, const void *w, size_t row_bytes, int64_t rows, const float *x, int64_t k, float *y) {
    if (kind == IQ_Q4_K) dot_q4_K(w, row_bytes, rows, x, k, y);
    else dot_q6_K(w, row_bytes, rows, x, k, y);
}

// q4_K's eight 6-bit scales (bytes 0–7) and mins (bytes 8–15) from the 12 packed bytes, as
// 32-bit words w0…w2 (bytes 0–3, 4–7, 8–11; rule in the header comment):
//   sc0–3 = w0 & 63,  sc4–7 = (w2 & 15) | (w0 >> 6 & 3) << 4,
//   m0–3  = w1 & 63,  m4–7  = (w2 >> 4 & 15) | (w1 >> 6 & 3) << 4.
static inline __m128i q4k_scale_bytes(const uint8_t *packed) {
    uint32_t w[3];
    memcpy(w, packed, 12);
    const uint32_t six = 0x3F3F3F3Fu, four = 0x0F0F0F0Fu, two = 0x03030303u;
    return _mm_setr_epi32((int)(w[0] & six), (int)((w[2] & four) | (((w[0] >> 6) & two) << 4)),
                          (int)(w[1] & six), (int)(((w[2] >> 4) & four) | (((w[1] >> 6) & two) << 4)));
}

static inline __m256 bytes8_to_ps(__m128i b, int is_signed) {
    return _mm256_cvtepi32_ps(is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b));
}

// Rows of q4_K / q6_K against int8 (Q8 = 1) or int16 activations. Per super-block the float
// scales of its 8 activation blocks are formed in vectors: q4_K scl[j] = d·sc_j·da[b], and the
// min term −dmin·m_j·s[b] accumulates lane-wise; q6_K scl[h] = d·sc_h·da[b] per 16 elements.
#define DEFINE_KQ_INT(NAME, KIND, QTYPE)                                                           \
    static void NAME(const uint8_t *w, size_t row_bytes, int64_t rows, const QTYPE *q, const float *da, \
                     const float *s, int64_t k, float *y) {                                         \
        const int wide = sizeof(QTYPE) == 2;                                                        \
        const __m256i ones = _mm256_set1_epi16(1);                                                  \
        const __m256i lo_pairs = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);                         \
        const __m256i hi_pairs = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);                         \
        for (int64_t r = 0; r < rows; r++) {                                                        \
            const uint8_t *row = w + (size_t)r * row_bytes;                                         \
            __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), mins = _mm256_setzero_ps(); \
            for (int64_t sb = 0; sb < k / 256; sb++) {                                              \
                const uint8_t *blk = row + (size_t)sb * kq_block_bytes(KIND);                       \
                kq_prefetch(KIND, blk);                                                             \
                const __m256 da8 = _mm256_loadu_ps(da + 8 * sb);                                    \
                float scl[16];                                                                      \
                if (KIND == IQ_Q4_K) {                                                              \
                    const __m128i sm = q4k_scale_bytes(blk + 4);                                    \
                    const __m256 sc = _mm256_mul_ps(bytes8_to_ps(sm, 0), _mm256_set1_ps(half_bits_to_float(blk))); \
                    const __m256 mn = _mm256_mul_ps(bytes8_to_ps(_mm_srli_si128(sm, 8), 0),          \
                                                    _mm256_set1_ps(half_bits_to_float(blk + 2)));   \
                    _mm256_storeu_ps(scl, _mm256_mul_ps(sc, da8));                                  \
                    mins = _mm256_fnmadd_ps(mn, _mm256_loadu_ps(s + 8 * sb), mins);                 \
                } else {                                                                            \
                    const __m128i sc = _mm_loadu_si128((const __m128i *)(blk + 192));               \
                    const __m256 d = _mm256_set1_ps(half_bits_to_float(blk + 208));                 \
                    _mm256_storeu_ps(scl, _mm256_mul_ps(_mm256_mul_ps(bytes8_to_ps(sc, 1), d),      \
                                                        _mm256_permutevar8x32_ps(da8, lo_pairs)));  \
                    _mm256_storeu_ps(scl + 8, _mm256_mul_ps(_mm256_mul_ps(bytes8_to_ps(_mm_srli_si128(sc, 8), 1), d), \
                                                            _mm256_permutevar8x32_ps(da8, hi_pairs))); \
                }                                                                                   \
                const QTYPE *qs = q + 256 * sb;                                                     \
                for (int c = 0; c < 4; c++) {                                                       \
                    /* Two sub-blocks per step: 2c and 2c + 1, decoded just before use. */          \
                    __m256i pair[2];                                                                \
                    kq_unpack_pair(KIND, blk, c, pair);                                             \
                    for (int half = 0; half < 2; half++) {                                          \
                        const int j = 2 * c + half;                                                 \
                        const __m256i vj = pair[half];                                              \
                        const QTYPE *qb = qs + 32 * j;                                              \
                        if (!wide) {                                                                \
                            const __m256i x = _mm256_loadu_si256((const __m256i *)qb);              \
                            if (KIND == IQ_Q4_K) {                                                  \
                                const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(vj, x), ones); \
                                acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_broadcast_ss(scl + j), acc0); \
                            } else {                                                                \
                                /* lanes 0–3: elements 0–15 (scale 2j), lanes 4–7: 16–31 (2j+1) */  \
                                const __m256i sums = _mm256_madd_epi16(                             \
                                    _mm256_maddubs_epi16(_mm256_sign_epi8(vj, vj), _mm256_sign_epi8(x, vj)), ones); \
                                const __m256 scale = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_broadcast_ss(scl + 2 * j)), \
                                                                          _mm_broadcast_ss(scl + 2 * j + 1), 1); \
                                acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc0);      \
                            }                                                                       \
                        } else {                                                                    \
                            const __m256i lo = _mm256_madd_epi16(widen16(KIND, _mm256_castsi256_si128(vj)), \
                                                                 _mm256_loadu_si256((const __m256i *)qb)); \
                            const __m256i hi = _mm256_madd_epi16(widen16(KIND, _mm256_extracti128_si256(vj, 1)), \
                                                                 _mm256_loadu_si256((const __m256i *)(qb + 16))); \
                            if (KIND == IQ_Q4_K) {                                                  \
                                acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(lo, hi)), \
                                                       _mm256_broadcast_ss(scl + j), acc0);         \
                            } else {                                                                \
                                acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo), _mm256_broadcast_ss(scl + 2 * j), acc0); \
                                acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi), _mm256_broadcast_ss(scl + 2 * j + 1), acc1); \
                            }                                                                       \
                        }                                                                           \
                    }                                                                               \
                }                                                                                   \
            }                                                                                       \
            y[r] = iq_hsum8(_mm256_add_ps(_mm256_add_ps(acc0, acc1), mins));                          \
        }                                                                                           \
    }

static inline __m256i widen16(int kind, __m128i b) { return kind == IQ_Q4_K ? _mm256_cvtepu8_epi16(b) : _mm256_cvtepi8_epi16(b); }

DEFINE_KQ_INT(dot_q4_K_q8, IQ_Q4_K, int8_t)
DEFINE_KQ_INT(dot_q6_K_q8, IQ_Q6_K, int8_t)
DEFINE_KQ_INT(dot_q4_K_q16, IQ_Q4_K, int16_t)
DEFINE_KQ_INT(dot_q6_K_q16, IQ_Q6_K, int16_t)

void iq_kq_dot_rows_q8(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                       const float *s, int64_t k, float *y) {
    if (kind == IQ_Q4_K) dot_q4_K_q8(w, row_bytes, rows, q, d, s, k, y);
    else dot_q6_K_q8(w, row_bytes, rows, q, d, s, k, y);
}

void iq_kq_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                        const float *s, int64_t k, float *y) {
    if (kind == IQ_Q4_K) dot_q4_K_q16(w, row_bytes, rows, q, d, s, k, y);
    else dot_q6_K_q16(w, row_bytes, rows, q, d, s, k, y);
}

#else
// Portable fallback: the same layouts and the same integer sums, in scalar code.
#include "half_scalar.h"

static inline float half_bits_to_float(const uint8_t *p) { return iq_half_at(p); }

static void kq_unpack_scalar(int kind, const uint8_t *blk, int32_t c[256]) {
    if (kind == IQ_Q4_K) {
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                c[64 * j + l] = blk[16 + 32 * j + l] & 0x0F;
                c[64 * j + 32 + l] = blk[16 + 32 * j + l] >> 4;
            }
    } else {
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
            for (int l = 0; l < 32; l++) {
                c[128 * h + l] = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32;
                c[128 * h + l + 32] = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                c[128 * h + l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                c[128 * h + l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            }
        }
    }
}

static void kq_decode_block(int kind, const uint8_t *blk, float out[256]) {
    float mul[16], add[16];
    int32_t c[256];
    kq_scales(kind, blk, mul, add);
    kq_unpack_scalar(kind, blk, c);
    for (int e = 0; e < 256; e++) out[e] = mul[e / 16] * (float)c[e] + add[e / 16];
}

void iq_kq_decode_row(int kind, const void *src, float *dst, int64_t n) {
    for (int64_t sb = 0; sb < n / 256; sb++) kq_decode_block(kind, (const uint8_t *)src + sb * kq_block_bytes(kind), dst + 256 * sb);
}

void iq_kq_dot_rows(int kind, const void *w, size_t row_bytes, int64_t rows, const float *x, int64_t k, float *y) {
    float buf[256];
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        float acc = 0;
        for (int64_t sb = 0; sb < k / 256; sb++) {
            kq_decode_block(kind, row + sb * kq_block_bytes(kind), buf);
            for (int e = 0; e < 256; e++) acc += buf[e] * x[256 * sb + e];
        }
        y[r] = acc;
    }
}

static float kq_dot_row_int(int kind, const uint8_t *row, const int8_t *q8, const int16_t *q16, const float *da,
                            const float *s, int64_t k) {
    float acc = 0;
    for (int64_t sb = 0; sb < k / 256; sb++) {
        const uint8_t *blk = row + sb * kq_block_bytes(kind);
        float mul[16], add[16];
        int32_t c[256];
        kq_scales(kind, blk, mul, add);
        kq_unpack_scalar(kind, blk, c);
        for (int half = 0; half < 16; half++) {
            const int64_t b = 8 * sb + half / 2;
            int32_t sum = 0;
            for (int i = 0; i < 16; i++) {
                const int64_t e = 256 * sb + 16 * half + i;
                sum += c[16 * half + i] * (q16 ? q16[e] : q8[e]);
            }
            acc += mul[half] * da[b] * (float)sum;
            if (half % 2 == 0) acc += add[half] * s[b];
        }
    }
    return acc;
}

void iq_kq_dot_rows_q8(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                       const float *s, int64_t k, float *y) {
    for (int64_t r = 0; r < rows; r++) y[r] = kq_dot_row_int(kind, (const uint8_t *)w + (size_t)r * row_bytes, q, NULL, d, s, k);
}

void iq_kq_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                        const float *s, int64_t k, float *y) {
    for (int64_t r = 0; r < rows; r++) y[r] = kq_dot_row_int(kind, (const uint8_t *)w + (size_t)r * row_bytes, NULL, q, d, s, k);
}
#endif
