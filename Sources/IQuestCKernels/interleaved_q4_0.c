// q4_0 weights with rows interleaved 16 at a time ("x16"), the layout the AVX-512 decode kernel
// wants: one vector lane per row, so a block of 16 rows costs a few vector µops instead of ~9 per
// row (the row-major kernel's widening, horizontal sums and per-row scale). Repacked at load
// (same bytes, same size); see iquest_ckernels.h for the layout.
//
// Decode (AVX-512 VNNI): for block b of a group, lane r of vector j (j = 0…3) holds bytes
// 4j…4j+3 of row r's nibbles. Masking that dword with 0x000F000F gives two int16 nibbles
// (elements 4j and 4j+2); shifted by 4, 8 and 12 the other six (4j+16, 4j+18; 4j+1, 4j+3;
// 4j+17, 4j+19). Each pair meets the matching pair of the activation's int16 quants, broadcast
// from a permuted copy (one dword), in one vpdpwssd: 16 vpdpwssd per block and group give the
// 16 rows' exact integer sums Σ n·q. Then per block, as in the row-major kernels:
//   acc += float(Σ n·q) · (d_w·d[b]),   off += d_w · (−8·s[b]),   y = acc + off.
// Several tokens share each group's unpacking; each token's steps are the single-token ones in
// the same order, so a token's result is bitwise the same alone or batched.
//
// Every other product on this layout (other kernel sets, int8 activations, f32 activations, the
// f32 panels) restores a group's 16 rows to the row-major layout in a per-thread buffer and runs
// the row-major kernel on them: the results are those of the row-major matrix. The integer
// prompt GEMM (gemm_int8.c) restores each group as it packs its panel.
#include "iquest_ckernels.h"
#include "half_scalar.h"
#include <stdlib.h>
#include <string.h>

#define GROUP 16
#define BLOCK_BYTES 18
#define GROUP_BLOCK_BYTES (GROUP * BLOCK_BYTES)  // 32 bytes of scales + 4 × 64 bytes of nibbles

int iq_x16_preferred(int kind, int set) { return kind == IQ_Q4_0 && set == IQ_SET_AVX512 && iq_kernel_set_supported(set); }

void iq_x16_interleave(const void *src, size_t row_bytes, int64_t rows, int64_t k, void *dst) {
    const int64_t blocks = k / 32;
    for (int64_t g = 0; g < rows / GROUP; g++) {
        for (int64_t b = 0; b < blocks; b++) {
            uint8_t *out = (uint8_t *)dst + ((size_t)g * blocks + b) * GROUP_BLOCK_BYTES;
            for (int r = 0; r < GROUP; r++) {
                const uint8_t *blk = (const uint8_t *)src + (size_t)(g * GROUP + r) * row_bytes + b * BLOCK_BYTES;
                memcpy(out + 2 * r, blk, 2);
                for (int j = 0; j < 4; j++) memcpy(out + 32 + 64 * j + 4 * r, blk + 2 + 4 * j, 4);
            }
        }
    }
}

void iq_x16_deinterleave(const void *group, size_t row_bytes, int64_t k, void *dst) {
    const int64_t blocks = k / 32;
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *in = (const uint8_t *)group + (size_t)b * GROUP_BLOCK_BYTES;
        for (int r = 0; r < GROUP; r++) {
            uint8_t *blk = (uint8_t *)dst + (size_t)r * row_bytes + b * BLOCK_BYTES;
            memcpy(blk, in + 2 * r, 2);
            for (int j = 0; j < 4; j++) memcpy(blk + 2 + 4 * j, in + 32 + 64 * j + 4 * r, 4);
        }
    }
}

// ---- Row-major fallback: one group's rows restored into a per-thread buffer ----

static _Thread_local uint8_t *restored;
static _Thread_local size_t restored_capacity;

// The group's 16 rows in row-major form (row_bytes apart), or NULL when no memory could be had.
static const uint8_t *restore_group(const uint8_t *group, size_t row_bytes, int64_t k) {
    const size_t need = GROUP * row_bytes;
    if (need > restored_capacity) {
        uint8_t *grown = malloc(need);
        if (!grown) return NULL;
        free(restored);
        restored = grown;
        restored_capacity = need;
    }
    iq_x16_deinterleave(group, row_bytes, k, restored);
    return restored;
}

// Element i of row r of a group, read in place (only when restore_group found no memory).
static float element_at(const uint8_t *group, int r, int64_t i) {
    const uint8_t *blk = group + (size_t)(i / 32) * GROUP_BLOCK_BYTES;
    const int e = (int)(i % 32), byte = e % 16;
    const uint8_t packed = blk[32 + 64 * (byte / 4) + 4 * r + byte % 4];
    const int nibble = e < 16 ? packed & 0x0F : packed >> 4;
    return iq_half_at(blk + 2 * r) * (float)(nibble - 8);
}

// The integer rule of the row-major kernels, read in place (same fallback).
static float in_place_dot(const uint8_t *group, int r, const int8_t *q8, const int16_t *q16, const float *d,
                          const float *s, int64_t k) {
    float acc = 0;
    for (int64_t b = 0; b < k / 32; b++) {
        int32_t sum = 0;
        const uint8_t *blk = group + (size_t)b * GROUP_BLOCK_BYTES;
        for (int e = 0; e < 32; e++) {
            const int byte = e % 16;
            const uint8_t packed = blk[32 + 64 * (byte / 4) + 4 * r + byte % 4];
            sum += (e < 16 ? packed & 0x0F : packed >> 4) * (q16 ? q16[32 * b + e] : q8[32 * b + e]);
        }
        const float dw = iq_half_at(blk + 2 * r);
        acc += dw * d[b] * (float)sum + -8.0f * dw * s[b];
    }
    return acc;
}

void iq_x16_dot_rows(int kind, const void *w, size_t row_bytes, int64_t rows, const float *x, int64_t k, float *y) {
    (void)kind;
    for (int64_t g = 0; g < rows / GROUP; g++) {
        const uint8_t *group = (const uint8_t *)w + (size_t)g * GROUP * row_bytes;
        const uint8_t *rm = restore_group(group, row_bytes, k);
        if (rm) { iq_dot_rows(IQ_Q4_0, rm, row_bytes, GROUP, x, k, y + GROUP * g); continue; }
        for (int r = 0; r < GROUP; r++) {
            float acc = 0;
            for (int64_t i = 0; i < k; i++) acc += element_at(group, r, i) * x[i];
            y[GROUP * g + r] = acc;
        }
    }
}

void iq_x16_pack_panel16(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, float *panel) {
    (void)kind;
    const uint8_t *rm = restore_group(w, row_bytes, k);
    if (rm) { iq_pack_panel16(IQ_Q4_0, rm, row_bytes, rows, k, panel); return; }
    for (int64_t i = 0; i < k; i++)
        for (int j = 0; j < GROUP; j++) panel[i * GROUP + j] = j < rows ? element_at(w, j, i) : 0;
}

// Every token against one group through the row-major kernels (or in place).
static void restored_group_dots(const uint8_t *group, size_t row_bytes, const int8_t *q8, const int16_t *q16,
                                const float *d, const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    const uint8_t *rm = restore_group(group, row_bytes, k);
    const int64_t blocks = k / 32;
    if (rm && q8) iq_dot_rows_q8_batch(IQ_Q4_0, rm, row_bytes, GROUP, q8, d, s, k, tokens, y, ldy);
    else if (rm) iq_dot_rows_q16_batch(IQ_Q4_0, rm, row_bytes, GROUP, q16, d, s, k, tokens, y, ldy);
    else
        for (int64_t t = 0; t < tokens; t++)
            for (int r = 0; r < GROUP; r++)
                y[(size_t)t * ldy + r] = in_place_dot(group, r, q8 ? q8 + t * k : NULL, q16 ? q16 + t * k : NULL,
                                                      d + t * blocks, s + t * blocks, k);
}

void iq_x16_dot_rows_q8_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                              const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    (void)kind;
    for (int64_t g = 0; g < rows / GROUP; g++)
        restored_group_dots((const uint8_t *)w + (size_t)g * GROUP * row_bytes, row_bytes, q, NULL, d, s, k, tokens,
                            y + GROUP * g, ldy);
}

void iq_x16_dot_rows_q8(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                        const float *s, int64_t k, float *y) {
    iq_x16_dot_rows_q8_batch(kind, w, row_bytes, rows, q, d, s, k, 1, y, 0);
}

// ---- The AVX-512 VNNI decode kernel ----

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define PREFETCH_AHEAD 2048
#define MAX_GROUP_TOKENS 4

// The activation's int16 quants in the order the nibble pairs come out: per block and vector j,
// dwords (q[4j], q[4j+2]), (q[4j+16], q[4j+18]), (q[4j+1], q[4j+3]), (q[4j+17], q[4j+19]).
static void permute_quants(const int16_t *q, int64_t k, int16_t *p) {
    for (int64_t b = 0; b < k / 32; b++) {
        const int16_t *x = q + 32 * b;
        for (int j = 0; j < 4; j++) {
            int16_t *o = p + 32 * b + 8 * j;
            o[0] = x[4 * j], o[1] = x[4 * j + 2], o[2] = x[4 * j + 16], o[3] = x[4 * j + 18];
            o[4] = x[4 * j + 1], o[5] = x[4 * j + 3], o[6] = x[4 * j + 17], o[7] = x[4 * j + 19];
        }
    }
}

// One group of 16 rows against nt ≤ 4 tokens (permuted quants p + t·k): y[t·ldy + r].
static AVX512_TARGET __attribute__((always_inline)) inline void group_dots(
    const uint8_t *group, const int16_t *p, const float *d, const float *s, int64_t k, const int nt, float *y,
    size_t ldy) {
    const int64_t blocks = k / 32;
    const __m512i low = _mm512_set1_epi32(0x000F000F);
    __m512 acc[MAX_GROUP_TOKENS], off[MAX_GROUP_TOKENS];
    for (int t = 0; t < nt; t++) acc[t] = off[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *blk = group + (size_t)b * GROUP_BLOCK_BYTES;
        for (int line = 0; line < GROUP_BLOCK_BYTES; line += 64) _mm_prefetch((const char *)blk + PREFETCH_AHEAD + line, _MM_HINT_T0);
        __m512i even[MAX_GROUP_TOKENS], odd[MAX_GROUP_TOKENS];
        for (int t = 0; t < nt; t++) even[t] = odd[t] = _mm512_setzero_si512();
        for (int j = 0; j < 4; j++) {
            const __m512i v = _mm512_loadu_si512(blk + 32 + 64 * j);
            const __m512i n0 = _mm512_and_si512(v, low), n1 = _mm512_and_si512(_mm512_srli_epi32(v, 4), low);
            const __m512i n2 = _mm512_and_si512(_mm512_srli_epi32(v, 8), low), n3 = _mm512_and_si512(_mm512_srli_epi32(v, 12), low);
            for (int t = 0; t < nt; t++) {
                const int32_t *a = (const int32_t *)(p + t * k + 32 * b + 8 * j);
                even[t] = _mm512_dpwssd_epi32(even[t], n0, _mm512_set1_epi32(a[0]));
                odd[t] = _mm512_dpwssd_epi32(odd[t], n1, _mm512_set1_epi32(a[1]));
                even[t] = _mm512_dpwssd_epi32(even[t], n2, _mm512_set1_epi32(a[2]));
                odd[t] = _mm512_dpwssd_epi32(odd[t], n3, _mm512_set1_epi32(a[3]));
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)blk));
        for (int t = 0; t < nt; t++) {
            const __m512 sums = _mm512_cvtepi32_ps(_mm512_add_epi32(even[t], odd[t]));
            acc[t] = _mm512_fmadd_ps(sums, _mm512_mul_ps(dw, _mm512_set1_ps(d[t * blocks + b])), acc[t]);
            off[t] = _mm512_fmadd_ps(dw, _mm512_set1_ps(-8.0f * s[t * blocks + b]), off[t]);
        }
    }
    for (int t = 0; t < nt; t++) _mm512_storeu_ps(y + (size_t)t * ldy, _mm512_add_ps(acc[t], off[t]));
}

static AVX512_TARGET void groups512(const uint8_t *w, size_t row_bytes, int64_t rows, const int16_t *p, const float *d,
                                    const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    for (int64_t g = 0; g < rows / GROUP; g++) {
        const uint8_t *group = w + (size_t)g * GROUP * row_bytes;
        // Token groups of up to 4 on one row group: its 16 rows stay in L1/L2 for the next.
        for (int64_t t = 0; t < tokens; t += MAX_GROUP_TOKENS) {
            const int64_t nt = tokens - t < MAX_GROUP_TOKENS ? tokens - t : MAX_GROUP_TOKENS;
            const int16_t *pt = p + t * k;
            const float *dt = d + t * blocks, *st = s + t * blocks;
            float *yt = y + (size_t)t * ldy + GROUP * g;
            switch (nt) {  // nt a constant in each call, so the per-token arrays stay in registers
            case 4: group_dots(group, pt, dt, st, k, 4, yt, ldy); break;
            case 3: group_dots(group, pt, dt, st, k, 3, yt, ldy); break;
            case 2: group_dots(group, pt, dt, st, k, 2, yt, ldy); break;
            default: group_dots(group, pt, dt, st, k, 1, yt, ldy); break;
            }
        }
    }
}

// Per-thread copy of the permuted quants.
static _Thread_local int16_t *permuted;
static _Thread_local size_t permuted_capacity;

static int fast_q16(const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d, const float *s,
                    int64_t k, int64_t tokens, float *y, size_t ldy) {
    if (iq_kernel_set() != IQ_SET_AVX512) return 0;
    const size_t need = (size_t)(tokens * k);
    if (need > permuted_capacity) {
        int16_t *grown = malloc(need * sizeof(int16_t));
        if (!grown) return 0;
        free(permuted);
        permuted = grown;
        permuted_capacity = need;
    }
    for (int64_t t = 0; t < tokens; t++) permute_quants(q + t * k, k, permuted + t * k);
    groups512(w, row_bytes, rows, permuted, d, s, k, tokens, y, ldy);
    return 1;
}
#else
static int fast_q16(const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d, const float *s,
                    int64_t k, int64_t tokens, float *y, size_t ldy) {
    (void)w, (void)row_bytes, (void)rows, (void)q, (void)d, (void)s, (void)k, (void)tokens, (void)y, (void)ldy;
    return 0;
}
#endif

void iq_x16_dot_rows_q16_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q,
                               const float *d, const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    (void)kind;
    if (fast_q16(w, row_bytes, rows, q, d, s, k, tokens, y, ldy)) return;
    for (int64_t g = 0; g < rows / GROUP; g++)
        restored_group_dots((const uint8_t *)w + (size_t)g * GROUP * row_bytes, row_bytes, NULL, q, d, s, k, tokens,
                            y + GROUP * g, ldy);
}

void iq_x16_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                         const float *s, int64_t k, float *y) {
    iq_x16_dot_rows_q16_batch(kind, w, row_bytes, rows, q, d, s, k, 1, y, 0);
}
