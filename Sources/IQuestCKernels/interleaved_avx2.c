// The int16 decode kernels on the x16 layout for AVX2 (interleaved_rows.c holds the layout, the
// activation permutation and the AVX-512 kernels this file mirrors). A 64-byte piece vector of a
// group (the same 4 bytes of 16 rows, row r at 4r) is read as two 32-byte halves: rows 0–7 and
// rows 8–15, one dword lane per row. AVX2 has no vpdpwssd, so each nibble pair meets the
// broadcast activation pair in vpmaddwd and the int32 products are added with vpaddd; the
// integer sums per block are exact, so a row's integer work is the AVX-512 kernel's, and the
// float steps per block (scale, FMA into acc/off) are taken in the same order.
//
// Why: the row-major AVX2 int16 kernels spend ~20 vector µops per row and block of 32 (nibble
// unpacking, widening, horizontal sums, a per-row scale) and stay ALU-bound at the 7B shape
// (12.4 GB/s of a 28.8 GB/s probe on a 2-core EPYC); here a block of 8 rows costs ~70 µops.
#include "iquest_ckernels.h"
#include "interleaved_internal.h"
#include <string.h>

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>

#define GROUP 16
#define PREFETCH_AHEAD 8192
// Tokens sharing one group's unpacking: 2 keeps a token's accumulators in the 16 ymm registers.
#define MAX_GROUP_TOKENS 2
// q6_K's chunk of a row (group_q6_K's caller).
#define Q6K_CHUNK 2048

// 16 int32 (or float) lanes as two AVX2 halves: l = rows 0–7, h = rows 8–15.
typedef struct { __m256i l, h; } lanes_i;
typedef struct { __m256 l, h; } lanes_f;

#define INLINE static inline __attribute__((always_inline))
INLINE lanes_i load_i(const uint8_t *p) { return (lanes_i){_mm256_loadu_si256((const __m256i *)p), _mm256_loadu_si256((const __m256i *)(p + 32))}; }
INLINE lanes_i zero_i(void) { return (lanes_i){_mm256_setzero_si256(), _mm256_setzero_si256()}; }
INLINE lanes_f zero_f(void) { return (lanes_f){_mm256_setzero_ps(), _mm256_setzero_ps()}; }
INLINE lanes_i and_i(lanes_i a, __m256i m) { return (lanes_i){_mm256_and_si256(a.l, m), _mm256_and_si256(a.h, m)}; }
INLINE lanes_i or_i(lanes_i a, lanes_i b) { return (lanes_i){_mm256_or_si256(a.l, b.l), _mm256_or_si256(a.h, b.h)}; }
// Shift counts are immediates once the callers' loops are unrolled.
#define SRLI(a, n) ((lanes_i){_mm256_srli_epi32((a).l, (n)), _mm256_srli_epi32((a).h, (n))})
#define SRLI16(a, n) ((lanes_i){_mm256_srli_epi16((a).l, (n)), _mm256_srli_epi16((a).h, (n))})
#define SRAI16(a, n) ((lanes_i){_mm256_srai_epi16((a).l, (n)), _mm256_srai_epi16((a).h, (n))})
#define SLLI16(a, n) ((lanes_i){_mm256_slli_epi16((a).l, (n)), _mm256_slli_epi16((a).h, (n))})
INLINE lanes_f cvt_f(lanes_i a) { return (lanes_f){_mm256_cvtepi32_ps(a.l), _mm256_cvtepi32_ps(a.h)}; }
// 16 f16 values (32 bytes) widened to floats.
INLINE lanes_f halfs(const uint8_t *p) {
    return (lanes_f){_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)))};
}
INLINE lanes_f mul_f(lanes_f a, lanes_f b) { return (lanes_f){_mm256_mul_ps(a.l, b.l), _mm256_mul_ps(a.h, b.h)}; }
INLINE lanes_f mul_scalar_f(lanes_f a, float v) {
    const __m256 s = _mm256_set1_ps(v);
    return (lanes_f){_mm256_mul_ps(a.l, s), _mm256_mul_ps(a.h, s)};
}
INLINE lanes_f fma_f(lanes_f a, lanes_f b, lanes_f c) { return (lanes_f){_mm256_fmadd_ps(a.l, b.l, c.l), _mm256_fmadd_ps(a.h, b.h, c.h)}; }
INLINE lanes_f fma_scalar_f(lanes_f a, float v, lanes_f c) {
    const __m256 s = _mm256_set1_ps(v);
    return (lanes_f){_mm256_fmadd_ps(a.l, s, c.l), _mm256_fmadd_ps(a.h, s, c.h)};
}
INLINE void store_f(float *y, lanes_f a) { _mm256_storeu_ps(y, a.l), _mm256_storeu_ps(y + 8, a.h); }
INLINE lanes_f add_f(lanes_f a, lanes_f b) { return (lanes_f){_mm256_add_ps(a.l, b.l), _mm256_add_ps(a.h, b.h)}; }

// The activation pair at `pair` (two int16 quants) broadcast to every dword lane.
INLINE __m256i bcast(const int16_t *pair) {
    int32_t a;
    memcpy(&a, pair, 4);
    return _mm256_set1_epi32(a);
}
// acc + (int16 pairs of n) · (the activation pair at `pair`), per lane: 8 lanes, then 16.
INLINE __m256i dp8(__m256i acc, __m256i n, const int16_t *pair) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(n, bcast(pair)));
}
INLINE lanes_i dp(lanes_i acc, lanes_i n, const int16_t *pair) {
    const __m256i b = bcast(pair);
    return (lanes_i){_mm256_add_epi32(acc.l, _mm256_madd_epi16(n.l, b)), _mm256_add_epi32(acc.h, _mm256_madd_epi16(n.h, b))};
}

INLINE void prefetch(const uint8_t *p) { _mm_prefetch((const char *)p + PREFETCH_AHEAD, _MM_HINT_T0); }

// q4_0 / q4_1 (`mins`): one group of 16 rows against nt ≤ 2 tokens (permuted quants p + t·k).
// Per block: acc += float(Σ n·q)·(d_w·d[b]); off += d_w·(−8·s[b]) (q4_0) or m_w·s[b] (q4_1).
INLINE void group_q4(const int mins, const uint8_t *group, const int16_t *p, const float *d, const float *s, int64_t k,
                     const int nt, float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    const int stride = GROUP * (mins ? 20 : 18), head = mins ? 64 : 32;
    const __m256i low = _mm256_set1_epi32(0x000F000F);
    lanes_f acc[MAX_GROUP_TOKENS], off[MAX_GROUP_TOKENS];
    for (int t = 0; t < nt; t++) acc[t] = off[t] = zero_f();
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *blk = group + (size_t)b * stride;
        for (int line = 0; line < stride; line += 64) prefetch(blk + line);
        lanes_i sum[MAX_GROUP_TOKENS];
        for (int t = 0; t < nt; t++) sum[t] = zero_i();
        for (int v = 0; v < 4; v++) {
            const lanes_i bytes = load_i(blk + head + 64 * v);
            const lanes_i n0 = and_i(bytes, low), n1 = and_i(SRLI(bytes, 4), low);
            const lanes_i n2 = and_i(SRLI(bytes, 8), low), n3 = SRLI16(bytes, 12);   // the top nibble of each int16 lane: no mask
            for (int t = 0; t < nt; t++) {
                const int16_t *a = p + t * k + 32 * b + 8 * v;
                sum[t] = dp(dp(dp(dp(sum[t], n0, a), n1, a + 2), n2, a + 4), n3, a + 6);
            }
        }
        const lanes_f dw = halfs(blk);
        for (int t = 0; t < nt; t++) {
            acc[t] = fma_f(cvt_f(sum[t]), mul_scalar_f(dw, d[t * blocks + b]), acc[t]);
            if (mins) off[t] = fma_scalar_f(halfs(blk + 32), s[t * blocks + b], off[t]);
            else off[t] = fma_scalar_f(dw, -8.0f * s[t * blocks + b], off[t]);
        }
    }
    for (int t = 0; t < nt; t++) store_f(y + (size_t)t * ldy, add_f(acc[t], off[t]));
}

// The same products for up to 8 tokens at once (decode steps of a batch), one 8-row half of the
// group at a time: with both halves each token's sums take two registers and 8 tokens would
// spill. The nibbles of a half are unpacked once for all tokens; per lane the integer sums and
// the float steps are those above, so a token's result is bitwise the same alone or batched.
#define MANY_TOKENS 8
INLINE void group_q4_many(const int mins, const uint8_t *group, const int16_t *p, const float *d, const float *s,
                          int64_t k, const int nt, float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    const int stride = GROUP * (mins ? 20 : 18), head = mins ? 64 : 32;
    const __m256i low = _mm256_set1_epi32(0x000F000F);
    __m256 acc[MANY_TOKENS][2], off[MANY_TOKENS][2];
    for (int t = 0; t < nt; t++) acc[t][0] = acc[t][1] = off[t][0] = off[t][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *blk = group + (size_t)b * stride;
        for (int line = 0; line < stride; line += 64) prefetch(blk + line);
        for (int hf = 0; hf < 2; hf++) {
            __m256i sum[MANY_TOKENS];
            for (int t = 0; t < nt; t++) sum[t] = _mm256_setzero_si256();
            for (int v = 0; v < 4; v++) {
                const __m256i bytes = _mm256_loadu_si256((const __m256i *)(blk + head + 64 * v + 32 * hf));
                const __m256i n0 = _mm256_and_si256(bytes, low), n1 = _mm256_and_si256(_mm256_srli_epi32(bytes, 4), low);
                const __m256i n2 = _mm256_and_si256(_mm256_srli_epi32(bytes, 8), low), n3 = _mm256_srli_epi16(bytes, 12);
                for (int t = 0; t < nt; t++) {
                    const int16_t *a = p + t * k + 32 * b + 8 * v;
                    sum[t] = dp8(dp8(dp8(dp8(sum[t], n0, a), n1, a + 2), n2, a + 4), n3, a + 6);
                }
            }
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 16 * hf)));
            for (int t = 0; t < nt; t++) {
                acc[t][hf] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]), _mm256_mul_ps(dw, _mm256_set1_ps(d[t * blocks + b])), acc[t][hf]);
                if (mins) off[t][hf] = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 32 + 16 * hf))),
                                                       _mm256_set1_ps(s[t * blocks + b]), off[t][hf]);
                else off[t][hf] = _mm256_fmadd_ps(dw, _mm256_set1_ps(-8.0f * s[t * blocks + b]), off[t][hf]);
            }
        }
    }
    for (int t = 0; t < nt; t++)
        store_f(y + (size_t)t * ldy, (lanes_f){_mm256_add_ps(acc[t][0], off[t][0]), _mm256_add_ps(acc[t][1], off[t][1])});
}

// q8_0: int8 quants widened in int16 lanes by shifts (bytes 0 and 2; then 1 and 3).
INLINE void group_q8_0(const uint8_t *group, const int16_t *p, const float *d, int64_t k, const int nt, float *y,
                       size_t ldy) {
    const int64_t blocks = k / 32;
    lanes_f acc[MAX_GROUP_TOKENS];
    for (int t = 0; t < nt; t++) acc[t] = zero_f();
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *blk = group + (size_t)b * GROUP * 34;
        for (int line = 0; line < GROUP * 34; line += 64) prefetch(blk + line);
        lanes_i sum[MAX_GROUP_TOKENS];
        for (int t = 0; t < nt; t++) sum[t] = zero_i();
        for (int v = 0; v < 8; v++) {
            const lanes_i bytes = load_i(blk + 32 + 64 * v);
            const lanes_i q02 = SRAI16(SLLI16(bytes, 8), 8), q13 = SRAI16(bytes, 8);
            for (int t = 0; t < nt; t++) {
                const int16_t *a = p + t * k + 32 * b + 4 * v;
                sum[t] = dp(dp(sum[t], q02, a), q13, a + 2);
            }
        }
        const lanes_f dw = halfs(blk);
        for (int t = 0; t < nt; t++) acc[t] = fma_f(cvt_f(sum[t]), mul_scalar_f(dw, d[t * blocks + b]), acc[t]);
    }
    for (int t = 0; t < nt; t++) store_f(y + (size_t)t * ldy, acc[t]);
}

// Byte i of each dword lane, zero-extended (one vpshufb per half).
INLINE lanes_i byte_of(const int i, lanes_i a) {
    const __m256i pick = _mm256_setr_epi8(i, -1, -1, -1, 4 + i, -1, -1, -1, 8 + i, -1, -1, -1, 12 + i, -1, -1, -1,
                                          i, -1, -1, -1, 4 + i, -1, -1, -1, 8 + i, -1, -1, -1, 12 + i, -1, -1, -1);
    return (lanes_i){_mm256_shuffle_epi8(a.l, pick), _mm256_shuffle_epi8(a.h, pick)};
}

// q4_K: per sub-block j of 32: acc += float(Σ n·q)·((d·sc_j)·d[b]); off += (dmin·m_j)·(−s[b]).
INLINE void group_q4_K(const uint8_t *group, const int16_t *p, const float *d, const float *s, int64_t k, const int nt,
                       float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    const __m256i low = _mm256_set1_epi32(0x000F000F);
    lanes_f acc[MAX_GROUP_TOKENS], off[MAX_GROUP_TOKENS];
    for (int t = 0; t < nt; t++) acc[t] = off[t] = zero_f();
    for (int64_t sb = 0; sb < k / 256; sb++) {
        const uint8_t *blk = group + (size_t)sb * GROUP * 144;
        const lanes_f dv = halfs(blk), dminv = halfs(blk + 32);
        const lanes_i s0 = load_i(blk + 64), s1 = load_i(blk + 128), s2 = load_i(blk + 192);
        // Each row's eight 6-bit scales and mins as bytes, kquants.c's rule: j < 4 the low 6 bits
        // of s0 (scales) / s1 (mins); j ≥ 4 a nibble of s2 with the top two bits of s0 / s1 above
        // it. Unpacked once per super-block, then one vpshufb per sub-block (7% faster in cache
        // than two to six shifts and masks per sub-block).
        const __m256i m6 = _mm256_set1_epi8(63), m4 = _mm256_set1_epi8(15), top = _mm256_set1_epi8(0x30);
        const lanes_i sc_lo = and_i(s0, m6), mn_lo = and_i(s1, m6);
        const lanes_i sc_hi = or_i(and_i(s2, m4), and_i(SRLI(s0, 2), top));
        const lanes_i mn_hi = or_i(and_i(SRLI(s2, 4), m4), and_i(SRLI(s1, 2), top));
#pragma clang loop unroll(full)
        for (int pair = 0; pair < 4; pair++) {
            const uint8_t *nib = blk + 256 + 512 * pair;
            for (int line = 0; line < 576; line += 64) prefetch(blk + 576 * pair + line);
            lanes_i even[MAX_GROUP_TOKENS], odd[MAX_GROUP_TOKENS];
            for (int t = 0; t < nt; t++) even[t] = odd[t] = zero_i();
            const int64_t b0 = sb * 8 + 2 * pair;
            for (int v = 0; v < 8; v++) {
                const lanes_i bytes = load_i(nib + 64 * v);
                const lanes_i n0 = and_i(bytes, low), n1 = and_i(SRLI(bytes, 4), low);
                const lanes_i n2 = and_i(SRLI(bytes, 8), low), n3 = SRLI16(bytes, 12);   // the top nibble of each int16 lane: no mask
                for (int t = 0; t < nt; t++) {
                    const int16_t *a = p + t * k + 32 * b0 + 4 * v;
                    even[t] = dp(dp(even[t], n0, a), n2, a + 2);
                    odd[t] = dp(dp(odd[t], n1, a + 32), n3, a + 34);
                }
            }
#pragma clang loop unroll(full)
            for (int half = 0; half < 2; half++) {
                const int j = 2 * pair + half;
                const lanes_f dsc = mul_f(dv, cvt_f(byte_of(j & 3, j < 4 ? sc_lo : sc_hi)));
                const lanes_f dmm = mul_f(dminv, cvt_f(byte_of(j & 3, j < 4 ? mn_lo : mn_hi)));
                for (int t = 0; t < nt; t++) {
                    const lanes_f sums = cvt_f(half ? odd[t] : even[t]);
                    acc[t] = fma_f(sums, mul_scalar_f(dsc, d[t * blocks + b0 + half]), acc[t]);
                    off[t] = fma_scalar_f(dmm, -s[t * blocks + b0 + half], off[t]);
                }
            }
        }
    }
    for (int t = 0; t < nt; t++) store_f(y + (size_t)t * ldy, add_f(acc[t], off[t]));
}

// q6_K: code = (nibble) | (bit pair) << 4, built as bytes (32 codes per op, then split into the
// even and odd int16 lanes: 25% faster in cache than building them in int16 lanes), two sums
// per block (one per 16-element scale), the codes' offset of 32 taken off each with the
// activation's Σq per 16 (h16). Each super-block is done one 8-row half at a time (the other
// half of each piece vector is the next 32 bytes): with both halves at once the codes, bit pairs
// and sums outgrow the 16 ymm registers and spill (7B-shape q6_K from DRAM, 2 threads: 14.5 GB/s
// with both halves, ALU-bound). Covers the kn elements from a chunk's start (group, p, d and h16
// point there; k is the row's length and the tokens' stride); the sums continue from y's, which
// the caller zeroes first.
INLINE void group_q6_K(const uint8_t *group, const int16_t *p, const float *d, const int32_t *h16, int64_t k,
                       int64_t kn, const int nt, float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    const __m256i nib8 = _mm256_set1_epi8(15), pair8 = _mm256_set1_epi8(0x30), even8 = _mm256_set1_epi16(0x00FF);
    __m256 acc[MAX_GROUP_TOKENS][2];
    for (int t = 0; t < nt; t++) acc[t][0] = _mm256_loadu_ps(y + (size_t)t * ldy), acc[t][1] = _mm256_loadu_ps(y + (size_t)t * ldy + 8);
    for (int64_t sb = 0; sb < kn / 256; sb++) {
        const uint8_t *blk = group + (size_t)sb * GROUP * 210;
        for (int hf = 0; hf < 2; hf++) {
            const uint8_t *half = blk + 32 * hf;   // this half's 32 bytes of each 64-byte piece vector
            const __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(blk + 3328 + 16 * hf)));
            for (int h = 0; h < 2; h++) {
#pragma clang loop unroll(full)
                for (int c = 0; c < 4; c++) {
                    __m256i first[MAX_GROUP_TOKENS], second[MAX_GROUP_TOKENS];
                    for (int t = 0; t < nt; t++) first[t] = second[t] = _mm256_setzero_si256();
                    const int64_t b = sb * 8 + 4 * h + c;
                    const int ns = 4 * (c >> 1), hs = 2 * c;
                    // An eighth of the super-block's 3360 bytes ahead, spread over the first half's pass.
                    for (int line = 0; line < 448 && hf == 0; line += 64) prefetch(blk + 448 * (4 * h + c) + line);
#pragma clang loop unroll(full)
                    for (int v = 0; v < 8; v++) {
                        const __m256i src = _mm256_loadu_si256((const __m256i *)(half + 64 * (16 * h + 8 * (c & 1) + v)));
                        const __m256i hb = _mm256_loadu_si256((const __m256i *)(half + 2048 + 64 * (8 * h + v)));
                        // The 6-bit codes as bytes (nibble | bit pair << 4: 32 codes per op), then
                        // bytes 0 and 2 of each lane as int16 (ce) and bytes 1 and 3 (co).
                        const __m256i nibble = _mm256_and_si256(ns ? _mm256_srli_epi16(src, 4) : src, nib8);
                        const __m256i moved = hs < 4 ? _mm256_slli_epi16(hb, 4 - hs) : hs == 4 ? hb : _mm256_srli_epi16(hb, 2);
                        const __m256i code = _mm256_or_si256(nibble, _mm256_and_si256(moved, pair8));
                        const __m256i ce = _mm256_and_si256(code, even8), co = _mm256_srli_epi16(code, 8);
                        for (int t = 0; t < nt; t++) {
                            const int16_t *a = p + t * k + 32 * b + 4 * v;
                            if (v < 4) first[t] = dp8(dp8(first[t], ce, a), co, a + 2);
                            else second[t] = dp8(dp8(second[t], ce, a), co, a + 2);
                        }
                    }
                    const int j = 8 * h + 2 * c;
                    const __m256i sv = _mm256_loadu_si256((const __m256i *)(half + 3072 + 64 * (j / 4)));
                    const __m256 sc0 = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(sv, 24 - 8 * (j % 4)), 24));
                    const __m256 sc1 = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(sv, 16 - 8 * (j % 4)), 24));
                    const __m256 ds0 = _mm256_mul_ps(dv, sc0), ds1 = _mm256_mul_ps(dv, sc1);
                    for (int t = 0; t < nt; t++) {
                        const int32_t *sums = h16 + t * (k / 16) + 2 * b;
                        const __m256i f = _mm256_sub_epi32(first[t], _mm256_set1_epi32(32 * sums[0]));
                        const __m256i g = _mm256_sub_epi32(second[t], _mm256_set1_epi32(32 * sums[1]));
                        const __m256 da = _mm256_set1_ps(d[t * blocks + b]);
                        acc[t][hf] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(f), _mm256_mul_ps(ds0, da), acc[t][hf]);
                        acc[t][hf] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(g), _mm256_mul_ps(ds1, da), acc[t][hf]);
                    }
                }
            }
        }
    }
    for (int t = 0; t < nt; t++) store_f(y + (size_t)t * ldy, (lanes_f){acc[t][0], acc[t][1]});
}

// One group against nt tokens, nt a constant in each call so the per-token arrays stay in registers.
#define GROUP_CALL(CALL)                                                                                   \
    do {                                                                                                   \
        if (nt == 2) { const int n = 2; CALL; } else { const int n = 1; CALL; }                           \
    } while (0)

void iq_x16_groups_avx2(int kind, const uint8_t *w, size_t row_bytes, int64_t rows, const int16_t *p, const float *d,
                        const float *s, const int32_t *h16, int64_t k, int64_t tokens, float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    for (int64_t g = 0; g < rows / GROUP; g++) {
        const uint8_t *group = w + (size_t)g * GROUP * row_bytes;
        if ((kind == IQ_Q4_0 || kind == IQ_Q4_1) && tokens > MAX_GROUP_TOKENS) {
            // Batches: 8 tokens per pass over the group (nt a constant in each call).
            for (int64_t t = 0; t < tokens; t += MANY_TOKENS) {
                const int nt = tokens - t < MANY_TOKENS ? (int)(tokens - t) : MANY_TOKENS;
                const int16_t *pt = p + t * k;
                const float *dt = d + t * blocks, *st = s + t * blocks;
                float *yt = y + (size_t)t * ldy + GROUP * g;
                const int mins = kind == IQ_Q4_1;
                switch (nt) {
                case 8: group_q4_many(mins, group, pt, dt, st, k, 8, yt, ldy); break;
                case 7: group_q4_many(mins, group, pt, dt, st, k, 7, yt, ldy); break;
                case 6: group_q4_many(mins, group, pt, dt, st, k, 6, yt, ldy); break;
                case 5: group_q4_many(mins, group, pt, dt, st, k, 5, yt, ldy); break;
                case 4: group_q4_many(mins, group, pt, dt, st, k, 4, yt, ldy); break;
                case 3: group_q4_many(mins, group, pt, dt, st, k, 3, yt, ldy); break;
                case 2: group_q4_many(mins, group, pt, dt, st, k, 2, yt, ldy); break;
                default: group_q4_many(mins, group, pt, dt, st, k, 1, yt, ldy); break;
                }
            }
            continue;
        }
        if (kind == IQ_Q6_K) {
            // Rows in chunks of Q6K_CHUNK elements (16 rows: 26 KiB), every token pass over a
            // chunk before the next, so passes after the first read it from L1, not L2 (a whole
            // group is 67 KiB at K = 5120, 360 KiB for ffn_down). Same float steps in the same
            // order: the result does not change.
            for (int64_t t = 0; t < tokens; t++) memset(y + (size_t)t * ldy + GROUP * g, 0, GROUP * sizeof(float));
            for (int64_t kc = 0; kc < k; kc += Q6K_CHUNK) {
                const int64_t kn = k - kc < Q6K_CHUNK ? k - kc : Q6K_CHUNK;
                const uint8_t *chunk = group + (size_t)(kc / 256) * GROUP * 210;
                for (int64_t t = 0; t < tokens; t += MAX_GROUP_TOKENS) {
                    const int nt = tokens - t < MAX_GROUP_TOKENS ? (int)(tokens - t) : MAX_GROUP_TOKENS;
                    const int16_t *pt = p + t * k + kc;
                    const float *dt = d + t * blocks + kc / 32;
                    const int32_t *ht = h16 + t * (k / 16) + kc / 16;
                    float *yt = y + (size_t)t * ldy + GROUP * g;
                    GROUP_CALL(group_q6_K(chunk, pt, dt, ht, k, kn, n, yt, ldy));
                }
            }
            continue;
        }
        for (int64_t t = 0; t < tokens; t += MAX_GROUP_TOKENS) {
            const int nt = tokens - t < MAX_GROUP_TOKENS ? (int)(tokens - t) : MAX_GROUP_TOKENS;
            const int16_t *pt = p + t * k;
            const float *dt = d + t * blocks, *st = s + t * blocks;
            float *yt = y + (size_t)t * ldy + GROUP * g;
            switch (kind) {
            case IQ_Q4_0: GROUP_CALL(group_q4(0, group, pt, dt, st, k, n, yt, ldy)); break;
            case IQ_Q4_1: GROUP_CALL(group_q4(1, group, pt, dt, st, k, n, yt, ldy)); break;
            case IQ_Q8_0: GROUP_CALL(group_q8_0(group, pt, dt, k, n, yt, ldy)); break;
            case IQ_Q4_K: GROUP_CALL(group_q4_K(group, pt, dt, st, k, n, yt, ldy)); break;
            default: break;   // q6_K: above
            }
        }
    }
}
#else
void iq_x16_groups_avx2(int kind, const uint8_t *w, size_t row_bytes, int64_t rows, const int16_t *p, const float *d,
                        const float *s, const int32_t *h16, int64_t k, int64_t tokens, float *y, size_t ldy) {
    (void)kind, (void)w, (void)row_bytes, (void)rows, (void)p, (void)d, (void)s, (void)h16, (void)k, (void)tokens, (void)y, (void)ldy;
}
#endif
