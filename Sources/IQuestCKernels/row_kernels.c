#include "iquest_ckernels.h"
#include "kquants.h"
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "avx2_common.h"

// Decodes one 32-element group into four 8-lane vectors.
static inline void decode_group(int kind, const uint8_t *p, __m256 v[4]) {
    switch (kind) {
    case IQ_F16:
        for (int i = 0; i < 4; i++) v[i] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16 * i)));
        break;
    case IQ_BF16:
        for (int i = 0; i < 4; i++) {
            __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 16 * i)));
            v[i] = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
        }
        break;
    case IQ_Q8_0: {
        __m256 d = _mm256_set1_ps(iq_load_half(p));
        for (int i = 0; i < 4; i++) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 2 + 8 * i)));
            v[i] = _mm256_mul_ps(_mm256_cvtepi32_ps(q), d);
        }
        break;
    }
    case IQ_Q4_0:
    case IQ_Q4_1: {
        const int has_min = kind == IQ_Q4_1;
        __m256 d = _mm256_set1_ps(iq_load_half(p));
        __m256 m = has_min ? _mm256_set1_ps(iq_load_half(p + 2)) : _mm256_set1_ps(-8.0f * iq_load_half(p));
        __m128i bytes = _mm_loadu_si128((const __m128i *)(p + (has_min ? 4 : 2)));
        __m128i mask = _mm_set1_epi8(0x0F);
        __m128i lo = _mm_and_si128(bytes, mask);
        __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
        v[0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo)), d, m);
        v[1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8))), d, m);
        v[2] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi)), d, m);
        v[3] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8))), d, m);
        break;
    }
    default:
        for (int i = 0; i < 4; i++) v[i] = _mm256_setzero_ps();
    }
}

static inline size_t group_bytes(int kind) {
    switch (kind) {
    case IQ_F16: case IQ_BF16: return 64;
    case IQ_Q8_0: return 34;
    case IQ_Q4_0: return 18;
    case IQ_Q4_1: return 20;
    default: return 0;
    }
}

// The kind is a compile-time constant in each instantiation so the switch folds away.
#define DEFINE_KERNELS(NAME, KIND)                                                              \
    static void decode_row_##NAME(const uint8_t *src, float *dst, int64_t n) {                  \
        const size_t gb = group_bytes(KIND);                                                    \
        for (int64_t g = 0; g < n / 32; g++) {                                                  \
            __m256 v[4];                                                                        \
            decode_group(KIND, src + g * gb, v);                                                \
            for (int i = 0; i < 4; i++) _mm256_storeu_ps(dst + 32 * g + 8 * i, v[i]);           \
        }                                                                                       \
    }                                                                                           \
    static void dot_rows_##NAME(const uint8_t *w, size_t row_bytes, int64_t rows,               \
                                const float *x, int64_t k, float *y) {                          \
        const size_t gb = group_bytes(KIND);                                                    \
        for (int64_t r = 0; r < rows; r++) {                                                    \
            const uint8_t *row = w + (size_t)r * row_bytes;                                     \
            __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),     \
                             _mm256_setzero_ps()};                                              \
            for (int64_t g = 0; g < k / 32; g++) {                                              \
                __m256 v[4];                                                                    \
                decode_group(KIND, row + g * gb, v);                                            \
                const float *xp = x + 32 * g;                                                   \
                for (int i = 0; i < 4; i++)                                                     \
                    acc[i] = _mm256_fmadd_ps(v[i], _mm256_loadu_ps(xp + 8 * i), acc[i]);        \
            }                                                                                   \
            y[r] = iq_hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]))); \
        }                                                                                       \
    }

DEFINE_KERNELS(f16, IQ_F16)
DEFINE_KERNELS(bf16, IQ_BF16)
DEFINE_KERNELS(q8_0, IQ_Q8_0)
DEFINE_KERNELS(q4_0, IQ_Q4_0)
DEFINE_KERNELS(q4_1, IQ_Q4_1)

void iq_decode_row(int kind, const void *src, float *dst, int64_t n) {
    switch (kind) {
    case IQ_F16: decode_row_f16(src, dst, n); break;
    case IQ_BF16: decode_row_bf16(src, dst, n); break;
    case IQ_Q8_0: decode_row_q8_0(src, dst, n); break;
    case IQ_Q4_0: decode_row_q4_0(src, dst, n); break;
    case IQ_Q4_1: decode_row_q4_1(src, dst, n); break;
    case IQ_Q4_K: case IQ_Q6_K: iq_kq_decode_row(kind, src, dst, n); break;
    }
}

void iq_dot_rows(int kind, const void *w, size_t row_bytes, int64_t rows, const float *x, int64_t k, float *y) {
    switch (kind) {
    case IQ_F16: dot_rows_f16(w, row_bytes, rows, x, k, y); break;
    case IQ_BF16: dot_rows_bf16(w, row_bytes, rows, x, k, y); break;
    case IQ_Q8_0: dot_rows_q8_0(w, row_bytes, rows, x, k, y); break;
    case IQ_Q4_0: dot_rows_q4_0(w, row_bytes, rows, x, k, y); break;
    case IQ_Q4_1: dot_rows_q4_1(w, row_bytes, rows, x, k, y); break;
    case IQ_Q4_K: case IQ_Q6_K: iq_kq_dot_rows(kind, w, row_bytes, rows, x, k, y); break;
    }
}

#else
// Portable fallback for CPUs/compilers without AVX2+FMA+F16C: same results, scalar speed.
#include "half_scalar.h"

static void decode_group_scalar(int kind, const uint8_t *p, float *out) {
    switch (kind) {
    case IQ_F16: for (int i = 0; i < 32; i++) out[i] = iq_half_at(p + 2 * i); break;
    case IQ_BF16:
        for (int i = 0; i < 32; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); uint32_t b = (uint32_t)h << 16; memcpy(out + i, &b, 4); }
        break;
    case IQ_Q8_0: { float d = iq_half_at(p); for (int i = 0; i < 32; i++) out[i] = d * (float)(int8_t)p[2 + i]; break; }
    case IQ_Q4_0: {
        float d = iq_half_at(p);
        for (int j = 0; j < 16; j++) { out[j] = d * (float)((p[2 + j] & 0xF) - 8); out[j + 16] = d * (float)((p[2 + j] >> 4) - 8); }
        break;
    }
    case IQ_Q4_1: {
        float d = iq_half_at(p), m = iq_half_at(p + 2);
        for (int j = 0; j < 16; j++) { out[j] = d * (float)(p[4 + j] & 0xF) + m; out[j + 16] = d * (float)(p[4 + j] >> 4) + m; }
        break;
    }
    }
}

static size_t group_bytes(int kind) {
    switch (kind) { case IQ_F16: case IQ_BF16: return 64; case IQ_Q8_0: return 34; case IQ_Q4_0: return 18; case IQ_Q4_1: return 20; default: return 0; }
}

void iq_decode_row(int kind, const void *src, float *dst, int64_t n) {
    if (kind == IQ_Q4_K || kind == IQ_Q6_K) { iq_kq_decode_row(kind, src, dst, n); return; }
    for (int64_t g = 0; g < n / 32; g++) decode_group_scalar(kind, (const uint8_t *)src + g * group_bytes(kind), dst + 32 * g);
}

void iq_dot_rows(int kind, const void *w, size_t row_bytes, int64_t rows, const float *x, int64_t k, float *y) {
    if (kind == IQ_Q4_K || kind == IQ_Q6_K) { iq_kq_dot_rows(kind, w, row_bytes, rows, x, k, y); return; }
    float buf[32];
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        float s = 0;
        for (int64_t g = 0; g < k / 32; g++) {
            decode_group_scalar(kind, row + g * group_bytes(kind), buf);
            for (int i = 0; i < 32; i++) s += buf[i] * x[32 * g + i];
        }
        y[r] = s;
    }
}
#endif

// q4_K / q6_K: super-blocks of 256; each row's super-block is decoded by the k-quant kernel
// into a small buffer and transposed from there (16 rows × 256 floats = 16 KiB on the stack).
static void pack_panel_kquant(int kind, const uint8_t *w, size_t row_bytes, int64_t rows, int64_t k, float *panel) {
    const size_t sb = kind == IQ_Q4_K ? 144 : 210;
    float buf[16][256];
    for (int64_t s = 0; s < k / 256; s++) {
        for (int j = 0; j < 16; j++) {
            if (j < rows) iq_kq_decode_row(kind, w + (size_t)j * row_bytes + (size_t)s * sb, buf[j], 256);
            else memset(buf[j], 0, sizeof buf[j]);
        }
        float *dst = panel + (size_t)s * 256 * 16;
        for (int i = 0; i < 256; i++)
            for (int j = 0; j < 16; j++) dst[i * 16 + j] = buf[j][i];
    }
}

// Packs `rows` (≤ 16) weight rows of k elements (a multiple of 32) as a [k, 16] f32 panel for
// the prompt-path matrix product: panel[i·16 + j] = W[j][i], zero for j ≥ rows. Kind 0 is f32.
// Why C: decoding 32 columns of 16 rows and transposing them 8×8 with AVX2 shuffles replaces
// the Swift element-by-element transpose (stores 64 bytes apart), which took ~7% of linear's
// time on SmolLM2 prompts (perf).
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
static inline void transpose8_store(__m256 r[8], float *dst, size_t ld) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst + 0 * ld, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(dst + 1 * ld, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(dst + 2 * ld, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(dst + 3 * ld, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(dst + 4 * ld, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(dst + 5 * ld, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(dst + 6 * ld, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(dst + 7 * ld, _mm256_permute2f128_ps(s3, s7, 0x31));
}

#define DEFINE_PACK(NAME, KIND)                                                                   \
    static void pack_panel_##NAME(const uint8_t *w, size_t row_bytes, int64_t rows, int64_t k,   \
                                  float *panel) {                                                \
        const size_t gb = KIND == 0 ? 128 : group_bytes(KIND);                                   \
        for (int64_t g = 0; g < k / 32; g++) {                                                   \
            __m256 v[16][4];                                                                     \
            for (int j = 0; j < 16; j++) {                                                       \
                if (j < rows) {                                                                  \
                    const uint8_t *src = w + (size_t)j * row_bytes + g * gb;                     \
                    if (KIND == 0) {                                                             \
                        for (int i = 0; i < 4; i++) v[j][i] = _mm256_loadu_ps((const float *)src + 8 * i); \
                    } else {                                                                     \
                        decode_group(KIND, src, v[j]);                                           \
                    }                                                                            \
                } else {                                                                         \
                    for (int i = 0; i < 4; i++) v[j][i] = _mm256_setzero_ps();                   \
                }                                                                                \
            }                                                                                    \
            float *dst = panel + (size_t)g * 32 * 16;                                            \
            for (int c = 0; c < 4; c++) {                                                        \
                for (int h = 0; h < 2; h++) {                                                    \
                    __m256 r[8];                                                                 \
                    for (int j = 0; j < 8; j++) r[j] = v[8 * h + j][c];                          \
                    transpose8_store(r, dst + (size_t)c * 8 * 16 + 8 * h, 16);                   \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }

DEFINE_PACK(f32, 0)
DEFINE_PACK(f16, IQ_F16)
DEFINE_PACK(bf16, IQ_BF16)
DEFINE_PACK(q8_0, IQ_Q8_0)
DEFINE_PACK(q4_0, IQ_Q4_0)
DEFINE_PACK(q4_1, IQ_Q4_1)

void iq_pack_panel16(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, float *panel) {
    switch (kind) {
    case 0: pack_panel_f32(w, row_bytes, rows, k, panel); break;
    case IQ_F16: pack_panel_f16(w, row_bytes, rows, k, panel); break;
    case IQ_BF16: pack_panel_bf16(w, row_bytes, rows, k, panel); break;
    case IQ_Q8_0: pack_panel_q8_0(w, row_bytes, rows, k, panel); break;
    case IQ_Q4_0: pack_panel_q4_0(w, row_bytes, rows, k, panel); break;
    case IQ_Q4_1: pack_panel_q4_1(w, row_bytes, rows, k, panel); break;
    case IQ_Q4_K: case IQ_Q6_K: pack_panel_kquant(kind, w, row_bytes, rows, k, panel); break;
    }
}
#else
void iq_pack_panel16(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, float *panel) {
    if (kind == IQ_Q4_K || kind == IQ_Q6_K) { pack_panel_kquant(kind, w, row_bytes, rows, k, panel); return; }
    float buf[32];
    for (int64_t g = 0; g < k / 32; g++) {
        for (int j = 0; j < 16; j++) {
            if (j < rows) {
                const uint8_t *row = (const uint8_t *)w + (size_t)j * row_bytes;
                if (kind == 0) memcpy(buf, row + g * 128, 128);
                else decode_group_scalar(kind, row + g * group_bytes(kind), buf);
            } else {
                memset(buf, 0, sizeof buf);
            }
            for (int i = 0; i < 32; i++) panel[(g * 32 + i) * 16 + j] = buf[i];
        }
    }
}
#endif
