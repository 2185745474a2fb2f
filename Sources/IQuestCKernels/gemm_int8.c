// Prompt products at integer speed: y[t, r] = x[t] · W[r] for many tokens t with the weights in
// a quantized kind and each activation row quantized to int8 blocks of 32 (iq_quantize_q8: the
// same per-block scheme as llama.cpp's q8_0 activations).
//
// Every kind is rewritten, 16 rows at a time, into one panel layout that the micro-kernels share:
//   weight element e of row j = mul[g][j] · u[e][j] + add[g][j],  u an unsigned byte,
//   group g = e / G with G = 32 (G = 16 for q6_K, whose scales change every 16 elements):
//     q8_0: u = q + 128, mul = d, add = −128·d        q4_0: u = nibble, mul = d, add = −8·d
//     q4_1: u = nibble, mul = d, add = m              q4_K: u = nibble, mul = d·sc_j, add = −dmin·m_j
//     q6_K: u = 6-bit code, mul = d·sc, add = −32·d·sc
//   codes[e/4][j][e%4] = u (64 bytes per 4 elements of 16 rows: one zmm, two ymm),
//   so a token's 4 activation bytes, broadcast, meet 4 elements of 16 rows in one instruction.
// With the activation a_e = dx·q_e (dx per block of 32), per group and row:
//   Σ_{e∈g} w_e·a_e = (mul·dx) · Σ u·q  +  add · (dx·Σ q)
// The integer sum Σ u·q is exact in every kernel set (vpdpbusd accumulates in 32 bits; the AVX2
// form adds vpmaddubsw's 16-bit pair sums in int16 only as far as they cannot overflow, then
// widens them with vpmaddwd),
// and the float steps are the same two FMAs in the same order, so a token's result is bitwise
// the same in every set and whatever other tokens share the call.
#include "iquest_ckernels.h"
#include "gemm_internal.h"
#include "half_scalar.h"
#include "kquants.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PANEL 16
// Panels packed together: a token tile's activations stay in L1 while they meet all of them.
#define PANEL_GROUP 4

static inline int group_len(int kind) { return kind == IQ_Q6_K ? 16 : 32; }

int iq_gemm_q8_supported(int kind, int set) {
    switch (kind) {
    case IQ_Q8_0: return set == IQ_SET_AVX512 || set == IQ_SET_SCALAR;  // codes up to 255: no vpmaddubsw
    case IQ_Q4_0: case IQ_Q4_1: case IQ_Q4_K: case IQ_Q6_K: return 1;
    default: return 0;
    }
}

// ---- Packing: one row's elements [0, k) as codes u (k bytes) and per-group mul/add ----

static void row_codes(int kind, const uint8_t *row, int64_t k, uint8_t *u, float *mul, float *add) {
    switch (kind) {
    case IQ_Q8_0:
    case IQ_Q4_0:
    case IQ_Q4_1:
        for (int64_t b = 0; b < k / 32; b++) {
            const uint8_t *blk = row + (size_t)b * (kind == IQ_Q8_0 ? 34 : kind == IQ_Q4_0 ? 18 : 20);
            const float d = iq_half_at(blk);
            uint8_t *ub = u + 32 * b;
            if (kind == IQ_Q8_0) {
                for (int i = 0; i < 32; i++) ub[i] = (uint8_t)(blk[2 + i] ^ 0x80);
                mul[b] = d;
                add[b] = -128.0f * d;
            } else {
                const uint8_t *nib = blk + (kind == IQ_Q4_1 ? 4 : 2);
                for (int i = 0; i < 16; i++) {
                    ub[i] = nib[i] & 0x0F;
                    ub[i + 16] = nib[i] >> 4;
                }
                mul[b] = d;
                add[b] = kind == IQ_Q4_1 ? iq_half_at(blk + 2) : -8.0f * d;
            }
        }
        break;
    case IQ_Q4_K:
        for (int64_t sb = 0; sb < k / 256; sb++) {
            const uint8_t *blk = row + (size_t)sb * 144, *s = blk + 4, *qs = blk + 16;
            const float d = iq_half_at(blk), dmin = iq_half_at(blk + 2);
            for (int j = 0; j < 8; j++) {
                int sc, m;
                iq_q4k_scale_min(s, j, &sc, &m);
                mul[8 * sb + j] = d * (float)sc;
                add[8 * sb + j] = -dmin * (float)m;
                uint8_t *ub = u + 256 * sb + 32 * j;
                const uint8_t *src = qs + 32 * (j / 2);
                for (int i = 0; i < 32; i++) ub[i] = (j & 1) ? src[i] >> 4 : src[i] & 0x0F;
            }
        }
        break;
    case IQ_Q6_K:
        for (int64_t sb = 0; sb < k / 256; sb++) {
            const uint8_t *blk = row + (size_t)sb * 210;
            const float d = iq_half_at(blk + 208);
            for (int g = 0; g < 16; g++) {
                const float scale = d * (float)(int8_t)blk[192 + g];
                mul[16 * sb + g] = scale;
                add[16 * sb + g] = -32.0f * scale;
            }
            // Element 128h + 32c + l: nibble (c >> 1) of ql byte l + 32(c & 1), bit pair c of qh byte l
            // (the inner loop vectorizes).
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
                for (int c = 0; c < 4; c++) {
                    uint8_t *uc = u + 256 * sb + 128 * h + 32 * c;
                    const uint8_t *lo = ql + 32 * (c & 1);
                    const int shift = 4 * (c >> 1), pair = 2 * c;
                    for (int l = 0; l < 32; l++) uc[l] = (uint8_t)(((lo[l] >> shift) & 15) | (((qh[l] >> pair) & 3) << 4));
                }
            }
        }
        break;
    }
}

// Packs rows [0, nr) (nr ≤ 16) into codes [k/4][16][4], mul/add [k/G][16]; rows ≥ nr are zero.
static void pack_panel(int kind, const uint8_t *w, size_t row_bytes, int nr, int64_t k, uint8_t *codes, float *mul,
                       float *add, uint8_t *u, float *gm, float *ga) {
    const int64_t groups = k / group_len(kind);
    for (int j = 0; j < PANEL; j++) {
        if (j < nr) {
            row_codes(kind, w + (size_t)j * row_bytes, k, u, gm, ga);
        } else {
            memset(u, 0, (size_t)k);
            for (int64_t g = 0; g < groups; g++) gm[g] = ga[g] = 0;
        }
        for (int64_t e4 = 0; e4 < k / 4; e4++) memcpy(codes + 64 * e4 + 4 * j, u + 4 * e4, 4);
        for (int64_t g = 0; g < groups; g++) {
            mul[16 * g + j] = gm[g];
            add[16 * g + j] = ga[g];
        }
    }
}

// ---- Micro-kernels: tokens [0, mr) of a tile against one packed panel ----
// q: token t's int8 quants at q + t·k; dx: its block scales at dx + t·(k/32); sx: its group
// sums dx·Σq at sx + t·(k/G). out[t·ldo + j] for j < 16.

// Two-plane activations (int16 precision): q = 256·qh + ql with both planes int8, so the same
// unsigned-byte × signed-byte products give Σ u·q = 256·Σ u·qh + Σ u·ql, exact in 32 bits
// (|Σ u·qh| ≤ 32·255·127 per group). `ql` is NULL for one-plane (int8) activations.
static void kernel_scalar(const uint8_t *codes, const float *mul, const float *add, int G, int64_t k, const int8_t *q,
                          const int8_t *ql, const float *dx, const float *sx, int mr, float *out, size_t ldo) {
    const int64_t groups = k / G;
    for (int t = 0; t < mr; t++) {
        const int8_t *qt = q + t * k, *lt = ql ? ql + t * k : NULL;
        for (int j = 0; j < PANEL; j++) {
            float acc = 0;
            for (int64_t g = 0; g < groups; g++) {
                int32_t hi = 0, lo = 0;
                for (int64_t e = g * G; e < (g + 1) * G; e++) {
                    const int32_t u = codes[64 * (e / 4) + 4 * j + e % 4];
                    hi += u * qt[e];
                    if (lt) lo += u * lt[e];
                }
                const int32_t sum = lt ? hi * 256 + lo : hi;
                acc = fmaf((float)sum, mul[16 * g + j] * dx[t * (k / 32) + g * G / 32], acc);
                acc = fmaf(add[16 * g + j], sx[t * groups + g], acc);
            }
            out[t * ldo + j] = acc;
        }
    }
}

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

static inline int32_t load4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// AVX2: all 16 rows of the panel (two ymm halves) for MR tokens, so that each activation
// broadcast meets both halves; the float accumulators live in `out` (L1), touched once per group,
// which leaves the 16 ymm registers to the int16 pair sums (MR·PLANES·2), the two weight vectors
// and the broadcast.
static inline __attribute__((always_inline)) void avx2_full(const uint8_t *codes, const float *mul, const float *add,
                                                            const int G, int64_t k, const int8_t *q, const int8_t *ql,
                                                            const int PLANES, const float *dx, const float *sx,
                                                            const int MR, float *out, size_t ldo) {
    const int64_t groups = k / G, blocks = k / 32;
    for (int t = 0; t < MR; t++) {
        _mm256_storeu_ps(out + t * ldo, _mm256_setzero_ps());
        _mm256_storeu_ps(out + t * ldo + 8, _mm256_setzero_ps());
    }
    for (int64_t g = 0; g < groups; g++) {
        __m256i isum[4][2];
        for (int t = 0; t < MR; t++) isum[t][0] = isum[t][1] = _mm256_setzero_si256();
        // vpmaddubsw pair sums are added in int16 for RUN steps before one vpmaddwd widens them:
        // |pair sum| ≤ 2·15·128 = 3840 for 4-bit codes (G = 32), so 8 steps stay ≤ 30720; 6-bit
        // codes (q6_K, G = 16) reach 2·63·128 = 16128, so 2 steps. Exact either way, and one
        // multiply-port µop per step instead of two. The planes widen as 256·high + low at once.
        const int RUN = G == 32 ? 8 : 2;
        for (int s0 = 0; s0 < G / 4; s0 += RUN) {
            __m256i hsum[4][2], lsum[4][2];
            for (int t = 0; t < MR; t++) hsum[t][0] = hsum[t][1] = lsum[t][0] = lsum[t][1] = _mm256_setzero_si256();
        // Unrolled, the steps spilled the pair sums (measured 15% slower).
#pragma clang loop unroll(disable)
            for (int s = s0; s < s0 + RUN; s++) {
                const int64_t e = g * G + 4 * s;
                const __m256i w0 = _mm256_loadu_si256((const __m256i *)(codes + 16 * e));
                const __m256i w1 = _mm256_loadu_si256((const __m256i *)(codes + 16 * e + 32));
                for (int t = 0; t < MR; t++) {
                    const __m256i x = _mm256_set1_epi32(load4(q + t * k + e));
                    hsum[t][0] = _mm256_add_epi16(hsum[t][0], _mm256_maddubs_epi16(w0, x));
                    hsum[t][1] = _mm256_add_epi16(hsum[t][1], _mm256_maddubs_epi16(w1, x));
                    if (PLANES == 2) {
                        const __m256i xl = _mm256_set1_epi32(load4(ql + t * k + e));
                        lsum[t][0] = _mm256_add_epi16(lsum[t][0], _mm256_maddubs_epi16(w0, xl));
                        lsum[t][1] = _mm256_add_epi16(lsum[t][1], _mm256_maddubs_epi16(w1, xl));
                    }
                }
            }
            const __m256i ones = _mm256_set1_epi16(1), c256 = _mm256_set1_epi16(256);
            for (int t = 0; t < MR; t++)
                for (int h = 0; h < 2; h++) {
                    if (PLANES == 2)
                        isum[t][h] = _mm256_add_epi32(isum[t][h], _mm256_add_epi32(_mm256_madd_epi16(hsum[t][h], c256),
                                                                                   _mm256_madd_epi16(lsum[t][h], ones)));
                    else
                        isum[t][h] = _mm256_add_epi32(isum[t][h], _mm256_madd_epi16(hsum[t][h], ones));
                }
        }
        for (int h = 0; h < 2; h++) {
            const __m256 mv = _mm256_loadu_ps(mul + 16 * g + 8 * h), av = _mm256_loadu_ps(add + 16 * g + 8 * h);
            for (int t = 0; t < MR; t++) {
                float *o = out + t * ldo + 8 * h;
                const __m256 scale = _mm256_mul_ps(mv, _mm256_set1_ps(dx[t * blocks + g * G / 32]));
                __m256 acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t][h]), scale, _mm256_loadu_ps(o));
                _mm256_storeu_ps(o, _mm256_fmadd_ps(av, _mm256_set1_ps(sx[t * groups + g]), acc));
            }
        }
    }
}

// G and MR become compile-time constants, so the group's steps and the tokens unroll.
static void kernel_avx2(const uint8_t *codes, const float *mul, const float *add, int G, int64_t k, const int8_t *q,
                        const int8_t *ql, const float *dx, const float *sx, int mr, float *out, size_t ldo) {
#define CASE(GG, P, N) case N: avx2_full(codes, mul, add, GG, k, q, ql, P, dx, sx, N, out, ldo); break;
#define TILES(GG) switch (mr) { CASE(GG, 1, 1) CASE(GG, 1, 2) CASE(GG, 1, 3) default: avx2_full(codes, mul, add, GG, k, q, ql, 1, dx, sx, 4, out, ldo); break; }
#define TILES2(GG) switch (mr) { CASE(GG, 2, 1) default: avx2_full(codes, mul, add, GG, k, q, ql, 2, dx, sx, 2, out, ldo); break; }
    if (ql) { if (G == 32) { TILES2(32) } else { TILES2(16) } }
    else { if (G == 32) { TILES(32) } else { TILES(16) } }
#undef TILES2
#undef TILES
#undef CASE
}

#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

// AVX-512 VNNI: all 16 rows in one zmm, MR ≤ 8 tokens.
static inline __attribute__((always_inline)) AVX512_TARGET void avx512_tile(
    const uint8_t *codes, const float *mul, const float *add, const int G, int64_t k, const int8_t *q, const int8_t *ql,
    const int PLANES, const float *dx, const float *sx, const int MR, float *out, size_t ldo) {
    const int64_t groups = k / G, blocks = k / 32;
    __m512 acc[8];
    for (int t = 0; t < MR; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t g = 0; g < groups; g++) {
        __m512i isum[8], ilow[8];
        for (int t = 0; t < MR; t++) isum[t] = ilow[t] = _mm512_setzero_si512();
        for (int s = 0; s < G / 4; s++) {
            const int64_t e = g * G + 4 * s;
            const __m512i w = _mm512_loadu_si512((const void *)(codes + 16 * e));
            for (int t = 0; t < MR; t++) {
                isum[t] = _mm512_dpbusd_epi32(isum[t], w, _mm512_set1_epi32(load4(q + t * k + e)));
                if (PLANES == 2) ilow[t] = _mm512_dpbusd_epi32(ilow[t], w, _mm512_set1_epi32(load4(ql + t * k + e)));
            }
        }
        if (PLANES == 2)
            for (int t = 0; t < MR; t++) isum[t] = _mm512_add_epi32(_mm512_slli_epi32(isum[t], 8), ilow[t]);
        const __m512 mv = _mm512_loadu_ps(mul + 16 * g), av = _mm512_loadu_ps(add + 16 * g);
        for (int t = 0; t < MR; t++) {
            const __m512 scale = _mm512_mul_ps(mv, _mm512_set1_ps(dx[t * blocks + g * G / 32]));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), scale, acc[t]);
            acc[t] = _mm512_fmadd_ps(av, _mm512_set1_ps(sx[t * groups + g]), acc[t]);
        }
    }
    for (int t = 0; t < MR; t++) _mm512_storeu_ps(out + t * ldo, acc[t]);
}

static AVX512_TARGET void kernel_avx512(const uint8_t *codes, const float *mul, const float *add, int G, int64_t k,
                                        const int8_t *q, const int8_t *ql, const float *dx, const float *sx, int mr,
                                        float *out, size_t ldo) {
#define CASE(GG, P, N) case N: avx512_tile(codes, mul, add, GG, k, q, ql, P, dx, sx, N, out, ldo); break;
#define TILES(GG, P) switch (mr) { CASE(GG, P, 1) CASE(GG, P, 2) CASE(GG, P, 3) CASE(GG, P, 4) CASE(GG, P, 5) CASE(GG, P, 6) CASE(GG, P, 7) default: avx512_tile(codes, mul, add, GG, k, q, ql, P, dx, sx, 8, out, ldo); break; }
    if (ql) { if (G == 32) { TILES(32, 2) } else { TILES(16, 2) } }
    else { if (G == 32) { TILES(32, 1) } else { TILES(16, 1) } }
#undef TILES
#undef CASE
}
#endif

typedef void (*gemm_kernel)(const uint8_t *, const float *, const float *, int, int64_t, const int8_t *,
                            const int8_t *, const float *, const float *, int, float *, size_t);

// Activation quantization for the two-plane (int16-precision) GEMM: per block of 32, as
// iq_quantize_q16 with Q = 32639 (so that qh = (q − ql)/256 stays within int8), then
// ql = ((q + 128) mod 256) − 128 and qh = (q − ql) / 256, both in [−127, 127].
void iq_quantize_q16_planes(const float *x, int64_t k, int8_t *qh, int8_t *ql, float *d) {
    for (int64_t b = 0; b < k / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(xb[i]));
        const float Q = 32639.0f;
        const int live = amax > Q / FLT_MAX;
        const float inv = live ? Q / amax : 0.0f;
        d[b] = live ? amax / Q : 0.0f;
        for (int i = 0; i < 32; i++) {
            const int32_t q = (int32_t)nearbyintf(xb[i] * inv);
            const int32_t lo = ((q + 128) & 255) - 128;
            ql[32 * b + i] = (int8_t)lo;
            qh[32 * b + i] = (int8_t)((q - lo) / 256);
        }
    }
}

int iq_gemm_q16(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, const int8_t *qh, const int8_t *ql,
                const float *d, int64_t tokens, float *y, size_t ldy);

int iq_gemm_q8(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, const int8_t *q, const float *d,
               int64_t tokens, float *y, size_t ldy) {
    return iq_gemm_q16(kind, w, row_bytes, rows, k, q, NULL, d, tokens, y, ldy);
}

// The GEMM; with `x16` the weights are in the 16-row interleaved layout (iq_x16_*), whose groups
// are packed straight into panels (gemm_pack_x16.c).
static int gemm(int kind, int x16, const void *w, size_t row_bytes, int64_t rows, int64_t k, const int8_t *q,
                const int8_t *ql, const float *d, int64_t tokens, float *y, size_t ldy) {
    const int set = iq_kernel_set();
    if (!iq_gemm_q8_supported(kind, set) || rows <= 0 || tokens <= 0) return 0;
    gemm_kernel kernel = kernel_scalar;
    int tile = 4;
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
    if (set == IQ_SET_AVX512) { kernel = kernel_avx512; tile = 8; }
    else if (set == IQ_SET_AVX2) { kernel = kernel_avx2; tile = ql ? 2 : 4; }
#endif
    const int G = group_len(kind);
    const int64_t groups = k / G, blocks = k / 32;
    const size_t panel_bytes = (size_t)16 * k + 2 * sizeof(float) * 16 * (size_t)groups;
    // Per panel: codes, mul, add; then the row scratch, the tile's outputs and the group sums.
    const size_t bytes = PANEL_GROUP * panel_bytes + (size_t)k + 2 * sizeof(float) * (size_t)groups +
                         sizeof(float) * 16 * 8 + sizeof(float) * (size_t)(tokens * groups) + 64 * 8;
    uint8_t *scratch = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!scratch) return 0;
    uint8_t *panels = scratch;
    uint8_t *u = panels + PANEL_GROUP * panel_bytes;
    float *gm = (float *)(((uintptr_t)(u + k) + 63) & ~(uintptr_t)63), *ga = gm + groups;
    float *tmp = (float *)(((uintptr_t)(ga + groups) + 63) & ~(uintptr_t)63);
    float *sx = tmp + 16 * 8;
    // Group sums dx·Σq of every token (the quantizer's s when G = 32: the same integers, the same product).
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t g = 0; g < groups; g++) {
            int32_t sum = 0;
            for (int e = 0; e < G; e++) sum += q[t * k + g * G + e] * (ql ? 256 : 1) + (ql ? ql[t * k + g * G + e] : 0);
            sx[t * groups + g] = d[t * blocks + g * G / 32] * (float)sum;
        }
    for (int64_t r0 = 0; r0 < rows; r0 += PANEL * PANEL_GROUP) {
        int np = 0, nrs[PANEL_GROUP];
        for (; np < PANEL_GROUP && r0 + PANEL * np < rows; np++) {
            const int64_t left = rows - r0 - PANEL * np;
            nrs[np] = left < PANEL ? (int)left : PANEL;
            uint8_t *p = panels + np * panel_bytes;
            const uint8_t *rows_at = (const uint8_t *)w + (size_t)(r0 + PANEL * np) * row_bytes;
            if (x16) iq_x16_pack_gemm_panel(kind, rows_at, k, p, (float *)(p + 16 * k), (float *)(p + 16 * k) + 16 * groups);
            else pack_panel(kind, rows_at, row_bytes, nrs[np], k, p, (float *)(p + 16 * k), (float *)(p + 16 * k) + 16 * groups,
                            u, gm, ga);
        }
        for (int64_t t0 = 0; t0 < tokens; t0 += tile) {
            const int mr = tokens - t0 < tile ? (int)(tokens - t0) : tile;
            for (int i = 0; i < np; i++) {
                const uint8_t *p = panels + i * panel_bytes;
                const float *mul = (const float *)(p + 16 * k), *add = mul + 16 * groups;
                float *yp = y + (size_t)t0 * ldy + r0 + PANEL * i;
                if (nrs[i] == PANEL) {
                    kernel(p, mul, add, G, k, q + t0 * k, ql ? ql + t0 * k : NULL, d + t0 * blocks, sx + t0 * groups, mr, yp, ldy);
                } else {
                    kernel(p, mul, add, G, k, q + t0 * k, ql ? ql + t0 * k : NULL, d + t0 * blocks, sx + t0 * groups, mr, tmp, 16);
                    for (int t = 0; t < mr; t++) memcpy(yp + (size_t)t * ldy, tmp + 16 * t, sizeof(float) * nrs[i]);
                }
            }
        }
    }
    free(scratch);
    return 1;
}

int iq_gemm_q16(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, const int8_t *q, const int8_t *ql,
                const float *d, int64_t tokens, float *y, size_t ldy) {
    return gemm(kind, 0, w, row_bytes, rows, k, q, ql, d, tokens, y, ldy);
}

int iq_x16_gemm_q8(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, const int8_t *q, const float *d,
                   int64_t tokens, float *y, size_t ldy) {
    return gemm(kind, 1, w, row_bytes, rows, k, q, NULL, d, tokens, y, ldy);
}

int iq_x16_gemm_q16(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, const int8_t *qh,
                    const int8_t *ql, const float *d, int64_t tokens, float *y, size_t ldy) {
    return gemm(kind, 1, w, row_bytes, rows, k, qh, ql, d, tokens, y, ldy);
}
