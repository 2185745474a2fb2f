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
            if (j < 4) {
                sc = s[j] & 63;
                m = s[j + 4] & 63;
            } else {
                sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
                m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
            }
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
#include <immintrin.h>

static inline float half_bits_to_float(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static inline float hsum8(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

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
                _mm_prefetch((const char *)(blk + PREFETCH_AHEAD), _MM_HINT_T0);                   \
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
            y[r] = hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]))); \
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

// Integer sums of sub-block j (32 codes in v) with activation block q, as int32 lanes; for
// q6_K the int8 version has the two 16-element scales applied already (see the header comment).
static inline __m256i kq_block_q8(int kind, __m256i v, const int8_t *q, const uint8_t *blk, int j) {
    const __m256i x = _mm256_loadu_si256((const __m256i *)q);
    if (kind == IQ_Q4_K) return _mm256_madd_epi16(_mm256_maddubs_epi16(v, x), _mm256_set1_epi16(1));
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(x, v));
    const __m256i scales = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((int8_t)blk[192 + 2 * j])),
                                                   _mm_set1_epi16((int8_t)blk[193 + 2 * j]), 1);
    return _mm256_madd_epi16(pairs, scales);
}

static inline __m256i widen16(int kind, __m128i b) { return kind == IQ_Q4_K ? _mm256_cvtepu8_epi16(b) : _mm256_cvtepi8_epi16(b); }

#define DEFINE_KQ_INT(NAME, KIND, QTYPE)                                                           \
    static void NAME(const uint8_t *w, size_t row_bytes, int64_t rows, const QTYPE *q, const float *da, \
                     const float *s, int64_t k, float *y) {                                         \
        const int wide = sizeof(QTYPE) == 2;                                                        \
        for (int64_t r = 0; r < rows; r++) {                                                        \
            const uint8_t *row = w + (size_t)r * row_bytes;                                         \
            __m256 acc = _mm256_setzero_ps();                                                       \
            float offset = 0;                                                                       \
            for (int64_t sb = 0; sb < k / 256; sb++) {                                              \
                const uint8_t *blk = row + (size_t)sb * kq_block_bytes(KIND);                       \
                _mm_prefetch((const char *)(blk + PREFETCH_AHEAD), _MM_HINT_T0);                    \
                float mul[16], add[16];                                                             \
                __m256i v[8];                                                                       \
                kq_scales(KIND, blk, mul, add);                                                     \
                kq_unpack(KIND, blk, v);                                                            \
                const float d = KIND == IQ_Q4_K ? 0.0f : half_bits_to_float(blk + 208);             \
                for (int j = 0; j < 8; j++) {                                                       \
                    const int64_t b = 8 * sb + j;                                                   \
                    const QTYPE *qb = q + 32 * b;                                                   \
                    if (!wide) {                                                                    \
                        const __m256i sums = kq_block_q8(KIND, v[j], (const int8_t *)qb, blk, j);   \
                        const float scale = KIND == IQ_Q4_K ? mul[2 * j] * da[b] : d * da[b];       \
                        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(scale), acc); \
                    } else {                                                                        \
                        const __m256i lo = _mm256_madd_epi16(widen16(KIND, _mm256_castsi256_si128(v[j])), \
                                                             _mm256_loadu_si256((const __m256i *)qb)); \
                        const __m256i hi = _mm256_madd_epi16(widen16(KIND, _mm256_extracti128_si256(v[j], 1)), \
                                                             _mm256_loadu_si256((const __m256i *)(qb + 16))); \
                        if (KIND == IQ_Q4_K) {                                                      \
                            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(lo, hi)),     \
                                                  _mm256_set1_ps(mul[2 * j] * da[b]), acc);         \
                        } else {                                                                    \
                            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lo), _mm256_set1_ps(mul[2 * j] * da[b]), acc); \
                            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(hi), _mm256_set1_ps(mul[2 * j + 1] * da[b]), acc); \
                        }                                                                           \
                    }                                                                               \
                    if (KIND == IQ_Q4_K) offset += add[2 * j] * s[b];                               \
                }                                                                                   \
            }                                                                                       \
            y[r] = hsum8(acc) + offset;                                                             \
        }                                                                                           \
    }

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
