// The int8 decode kernels on the x16 layout for AVX2 (interleaved_rows.c holds the layout and
// the dispatch; interleaved_avx2.c the int16 kernels this file parallels). Activations are
// llama.cpp-style int8 blocks of 32 (q in [−127, 127], natural order) and meet unsigned weight
// codes in vpmaddubsw: 32 products per µop, against 16 per vpmaddwd for int16 quants, and a
// piece vector's nibbles unpacked as bytes (32 codes per op, not 16). Each 8-row half of a
// 64-byte piece vector (rows 0–7, then 8–15: one dword lane per row) holds 4 consecutive
// elements of each row, so the activation needs no permutation: its 4 quants are broadcast as
// one dword.
//
// The int16 pair sums of vpmaddubsw are added in int16 only while they cannot overflow, then
// widened with vpmaddwd: 4-bit codes × |q| ≤ 127 give pairs ≤ 3810, eight of them fit; q6_K's
// 6-bit codes give pairs ≤ 16002, two fit; q8_0 takes |w| × sign(q, w) (llama.cpp's trick),
// pairs ≤ 32258, widened at once. Integer sums per block are exact; then per block, for 16 rows
// at once, into acc (the output rows themselves, carried across blocks and the dispatcher's chunks):
//   q4_0: acc += float(Σ n·q − 8·Σq) · (d_w·d[b])
//   q4_1: acc += float(Σ n·q) · (d_w·d[b]);  acc += m_w · s[b]
//   q8_0: acc += float(Σ w·q) · (d_w·d[b])
//   q4_K: acc += float(Σ n·q) · ((d·sc_j)·d[b]);  acc += (dmin·m_j) · (−s[b])   per sub-block j
//   q6_K: acc += float(sc_0·Σ_16 c·q + sc_1·Σ_16' c·q − 32·(sc_0·Σ_16 q + sc_1·Σ_16' q)) · (d·d[b])
// (q6_K's two 16-element scales applied in integer, so one float step per block.)
// Several tokens share each piece vector's unpacking; every token's steps are the ones it takes
// alone, in the same order, so its result is bitwise the same alone or batched.
#include "iquest_ckernels.h"
#include "interleaved_internal.h"
#include <string.h>

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>

#define GROUP 16
#define PREFETCH_AHEAD 8192

#define INLINE static inline __attribute__((always_inline))

INLINE void prefetch(const uint8_t *p) { _mm_prefetch((const char *)p + PREFETCH_AHEAD, _MM_HINT_T0); }

// The 4 int8 quants at `a` broadcast to every dword lane.
INLINE __m256i bcast4(const int8_t *a) {
    int32_t v;
    memcpy(&v, a, 4);
    return _mm256_set1_epi32(v);
}
// 8 f16 values (16 bytes) widened.
INLINE __m256 half8(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
INLINE __m256i widen(__m256i pairs) { return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)); }

// q4_0 / q4_1 (`mins`): one group of 16 rows against nt ≤ Q4_TOKENS tokens (quants q + t·k).
// Piece vector v of a block: low nibbles are elements 4v…4v+3, high nibbles 16+4v…16+4v+3.
// Both 8-row halves per activation broadcast; a token's int16 sums (one per half) and the four
// unpacked halves fit the 16 registers for up to 4 tokens (one half at a time, broadcasting
// twice, measured the same).
#define Q4_TOKENS 4
INLINE void group_q4(const int mins, const uint8_t *group, const int8_t *q, const float *d, const float *s,
                     const int16_t *h16, int64_t k, int64_t kn, const int nt, float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    const int stride = GROUP * (mins ? 20 : 18), head = mins ? 64 : 32;
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t b = 0; b < kn / 32; b++) {
        const uint8_t *blk = group + (size_t)b * stride;
        for (int line = 0; line < stride; line += 64) prefetch(blk + line);
        __m256i sum[Q4_TOKENS][2];
        for (int t = 0; t < nt; t++) sum[t][0] = sum[t][1] = _mm256_setzero_si256();
#pragma clang loop unroll(disable)
        for (int v = 0; v < 4; v++) {
            const __m256i b0 = _mm256_loadu_si256((const __m256i *)(blk + head + 64 * v));
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)(blk + head + 64 * v + 32));
            const __m256i lo0 = _mm256_and_si256(b0, m4), hi0 = _mm256_and_si256(_mm256_srli_epi16(b0, 4), m4);
            const __m256i lo1 = _mm256_and_si256(b1, m4), hi1 = _mm256_and_si256(_mm256_srli_epi16(b1, 4), m4);
            for (int t = 0; t < nt; t++) {
                const int8_t *a = q + t * k + 32 * b + 4 * v;
                const __m256i alo = bcast4(a), ahi = bcast4(a + 16);
                sum[t][0] = _mm256_add_epi16(sum[t][0], _mm256_add_epi16(_mm256_maddubs_epi16(lo0, alo), _mm256_maddubs_epi16(hi0, ahi)));
                sum[t][1] = _mm256_add_epi16(sum[t][1], _mm256_add_epi16(_mm256_maddubs_epi16(lo1, alo), _mm256_maddubs_epi16(hi1, ahi)));
            }
        }
        for (int t = 0; t < nt; t++) {
            const __m256 da = _mm256_set1_ps(d[t * blocks + b]);
            const __m256i offset = _mm256_set1_epi32(mins ? 0 : 8 * (h16[t * (k / 16) + 2 * b] + h16[t * (k / 16) + 2 * b + 1]));
#pragma clang loop unroll(full)
            for (int hf = 0; hf < 2; hf++) {
                float *out = y + (size_t)t * ldy + 8 * hf;
                const __m256i total = _mm256_sub_epi32(widen(sum[t][hf]), offset);
                __m256 acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_mul_ps(half8(blk + 16 * hf), da), _mm256_loadu_ps(out));
                if (mins) acc = _mm256_fmadd_ps(half8(blk + 32 + 16 * hf), _mm256_set1_ps(s[t * blocks + b]), acc);
                _mm256_storeu_ps(out, acc);
            }
        }
    }
}

#define Q8_TOKENS 4
// q8_0: piece vector v holds quants 4v…4v+3 of each row; |w| · sign(q, w) = w·q per byte.
INLINE void group_q8_0(const uint8_t *group, const int8_t *q, const float *d, int64_t k, int64_t kn, const int nt,
                       float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    for (int64_t b = 0; b < kn / 32; b++) {
        const uint8_t *blk = group + (size_t)b * GROUP * 34;
        for (int line = 0; line < GROUP * 34; line += 64) prefetch(blk + line);
        __m256i sum[Q8_TOKENS][2];
        for (int t = 0; t < nt; t++) sum[t][0] = sum[t][1] = _mm256_setzero_si256();
#pragma clang loop unroll(disable)
        for (int v = 0; v < 8; v++) {
            const __m256i w0 = _mm256_loadu_si256((const __m256i *)(blk + 32 + 64 * v));
            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(blk + 32 + 64 * v + 32));
            const __m256i u0 = _mm256_abs_epi8(w0), u1 = _mm256_abs_epi8(w1);
            for (int t = 0; t < nt; t++) {
                const __m256i a = bcast4(q + t * k + 32 * b + 4 * v);
                sum[t][0] = _mm256_add_epi32(sum[t][0], widen(_mm256_maddubs_epi16(u0, _mm256_sign_epi8(a, w0))));
                sum[t][1] = _mm256_add_epi32(sum[t][1], widen(_mm256_maddubs_epi16(u1, _mm256_sign_epi8(a, w1))));
            }
        }
        for (int t = 0; t < nt; t++) {
            const __m256 da = _mm256_set1_ps(d[t * blocks + b]);
            for (int hf = 0; hf < 2; hf++) {
                float *out = y + (size_t)t * ldy + 8 * hf;
                _mm256_storeu_ps(out, _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t][hf]), _mm256_mul_ps(half8(blk + 16 * hf), da),
                                                      _mm256_loadu_ps(out)));
            }
        }
    }
}

// Byte i of each dword lane, zero-extended to the lane (one vpshufb).
INLINE __m256i byte_of(const int i, __m256i a) {
    const __m256i pick = _mm256_setr_epi8(i, -1, -1, -1, 4 + i, -1, -1, -1, 8 + i, -1, -1, -1, 12 + i, -1, -1, -1,
                                          i, -1, -1, -1, 4 + i, -1, -1, -1, 8 + i, -1, -1, -1, 12 + i, -1, -1, -1);
    return _mm256_shuffle_epi8(a, pick);
}

// q4_K: per super-block, each row's 6-bit scales and mins (kquants.c's rule) turned into the
// float factors d·sc_j and dmin·m_j once, kept in memory; then per pair of sub-blocks 8 piece
// vectors: low nibbles are sub-block 2·pair's elements 4v…4v+3, high nibbles sub-block
// 2·pair+1's. Both halves per broadcast, as in group_q4; a token's four int16 sums and the four
// unpacked halves fill the registers at 2 tokens. The piece loop stays rolled: fully unrolled, it
// spilled and ran 4 tokens at 41 GMAC/s per thread against 66 now (in cache).
#define Q4K_TOKENS 2
INLINE void group_q4_K(const uint8_t *group, const int8_t *q, const float *d, const float *s, int64_t k, int64_t kn,
                       const int nt, float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    const __m256i m4 = _mm256_set1_epi8(15), m6 = _mm256_set1_epi8(63), top = _mm256_set1_epi8(0x30);
    for (int64_t sb = 0; sb < kn / 256; sb++) {
        const uint8_t *blk = group + (size_t)sb * GROUP * 144;
        __m256 dsc[8][2], dmm[8][2];
#pragma clang loop unroll(full)
        for (int hf = 0; hf < 2; hf++) {
            const __m256 dv = half8(blk + 16 * hf), dminv = half8(blk + 32 + 16 * hf);
            const __m256i s0 = _mm256_loadu_si256((const __m256i *)(blk + 64 + 32 * hf));
            const __m256i s1 = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * hf));
            const __m256i s2 = _mm256_loadu_si256((const __m256i *)(blk + 192 + 32 * hf));
            const __m256i sc_lo = _mm256_and_si256(s0, m6), mn_lo = _mm256_and_si256(s1, m6);
            const __m256i sc_hi = _mm256_or_si256(_mm256_and_si256(s2, m4), _mm256_and_si256(_mm256_srli_epi32(s0, 2), top));
            const __m256i mn_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(s2, 4), m4), _mm256_and_si256(_mm256_srli_epi32(s1, 2), top));
#pragma clang loop unroll(full)
            for (int j = 0; j < 8; j++) {
                dsc[j][hf] = _mm256_mul_ps(dv, _mm256_cvtepi32_ps(byte_of(j & 3, j < 4 ? sc_lo : sc_hi)));
                dmm[j][hf] = _mm256_mul_ps(dminv, _mm256_cvtepi32_ps(byte_of(j & 3, j < 4 ? mn_lo : mn_hi)));
            }
        }
        for (int pair = 0; pair < 4; pair++) {
            const uint8_t *nib = blk + 256 + 512 * pair;
            for (int line = 0; line < 576; line += 64) prefetch(blk + 576 * pair + line);
            __m256i even[Q4K_TOKENS][2], odd[Q4K_TOKENS][2];
            for (int t = 0; t < nt; t++) even[t][0] = even[t][1] = odd[t][0] = odd[t][1] = _mm256_setzero_si256();
            const int64_t b0 = sb * 8 + 2 * pair;
#pragma clang loop unroll(disable)
            for (int v = 0; v < 8; v++) {
                const __m256i b0v = _mm256_loadu_si256((const __m256i *)(nib + 64 * v));
                const __m256i b1v = _mm256_loadu_si256((const __m256i *)(nib + 64 * v + 32));
                const __m256i lo0 = _mm256_and_si256(b0v, m4), hi0 = _mm256_and_si256(_mm256_srli_epi16(b0v, 4), m4);
                const __m256i lo1 = _mm256_and_si256(b1v, m4), hi1 = _mm256_and_si256(_mm256_srli_epi16(b1v, 4), m4);
                for (int t = 0; t < nt; t++) {
                    const int8_t *a = q + t * k + 32 * b0 + 4 * v;
                    const __m256i ae = bcast4(a), ao = bcast4(a + 32);
                    even[t][0] = _mm256_add_epi16(even[t][0], _mm256_maddubs_epi16(lo0, ae));
                    even[t][1] = _mm256_add_epi16(even[t][1], _mm256_maddubs_epi16(lo1, ae));
                    odd[t][0] = _mm256_add_epi16(odd[t][0], _mm256_maddubs_epi16(hi0, ao));
                    odd[t][1] = _mm256_add_epi16(odd[t][1], _mm256_maddubs_epi16(hi1, ao));
                }
            }
            for (int t = 0; t < nt; t++)
#pragma clang loop unroll(full)
                for (int hf = 0; hf < 2; hf++) {
                    float *out = y + (size_t)t * ldy + 8 * hf;
                    __m256 acc = _mm256_loadu_ps(out);
#pragma clang loop unroll(full)
                    for (int half = 0; half < 2; half++) {
                        const int j = 2 * pair + half;
                        const __m256 sums = _mm256_cvtepi32_ps(widen(half ? odd[t][hf] : even[t][hf]));
                        acc = _mm256_fmadd_ps(sums, _mm256_mul_ps(dsc[j][hf], _mm256_set1_ps(d[t * blocks + b0 + half])), acc);
                        acc = _mm256_fmadd_ps(dmm[j][hf], _mm256_set1_ps(-s[t * blocks + b0 + half]), acc);
                    }
                    _mm256_storeu_ps(out, acc);
                }
        }
    }
}

// Byte i of each dword lane, sign-extended, in int16 lane `at` (0 or 1) of the dword; with
// both: the same byte in both halves, or bytes i and i + 1 with `next`.
INLINE __m256i scale16(const int i, const int next, __m256i a) {
    const int lo = i, hi = next ? i + 1 : i;
    const __m256i pick = _mm256_setr_epi8(-1, lo, -1, hi, -1, 4 + lo, -1, 4 + hi, -1, 8 + lo, -1, 8 + hi, -1, 12 + lo, -1, 12 + hi,
                                          -1, lo, -1, hi, -1, 4 + lo, -1, 4 + hi, -1, 8 + lo, -1, 8 + hi, -1, 12 + lo, -1, 12 + hi);
    return _mm256_srai_epi16(_mm256_shuffle_epi8(a, pick), 8);
}

// q6_K: element e = 128h + 32c + l of a super-block (kquants.c): code = (ql[64h + l + 32(c&1)]
// >> 4(c>>1) & 15) | (qh[32h + l] >> 2c & 3) << 4, built as bytes; block b = 8sb + 4h + c, its
// pieces v < 4 under scale 8h + 2c, v ≥ 4 under the next. Both halves per broadcast; the scale
// vectors are read from memory (as vpmaddwd operands), which leaves the registers to the codes
// and a token's two int32 sums.
#ifndef Q6K_TOKENS
#define Q6K_TOKENS 4
#endif
INLINE void group_q6_K(const uint8_t *group, const int8_t *q, const float *d, const int16_t *h16, int64_t k,
                       int64_t kn, const int nt, float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    const __m256i m4 = _mm256_set1_epi8(15), pairs = _mm256_set1_epi8(0x30);
    for (int64_t sb = 0; sb < kn / 256; sb++) {
        const uint8_t *blk = group + (size_t)sb * GROUP * 210;
        for (int h = 0; h < 2; h++) {
#pragma clang loop unroll(full)
            for (int c = 0; c < 4; c++) {
                const int64_t b = sb * 8 + 4 * h + c;
                const int ns = 4 * (c >> 1), hs = 2 * c, j = 8 * h + 2 * c;
                for (int line = 0; line < 448; line += 64) prefetch(blk + 448 * (4 * h + c) + line);
                // Per half: scales j (pieces 0–3) and j + 1 (4–7), sign-extended int16 in both
                // halves of each lane; and the pair (sc_j, sc_j+1) times 32 for the offset term.
                __m256i scale[2][2], scale32[2];
                for (int hf = 0; hf < 2; hf++) {
                    const __m256i sv = _mm256_loadu_si256((const __m256i *)(blk + 32 * hf + 3072 + 64 * (j / 4)));
                    scale[hf][0] = scale16(j % 4, 0, sv), scale[hf][1] = scale16(j % 4 + 1, 0, sv);
                    scale32[hf] = _mm256_slli_epi16(scale16(j % 4, 1, sv), 5);
                }
                __m256i total[Q6K_TOKENS][2];
                for (int t = 0; t < nt; t++) total[t][0] = total[t][1] = _mm256_setzero_si256();
#pragma clang loop unroll(disable)
                for (int v2 = 0; v2 < 4; v2++) {
                    __m256i code[2][2];
                    for (int i = 0; i < 2; i++)
                        for (int hf = 0; hf < 2; hf++) {
                            const uint8_t *half = blk + 32 * hf;
                            const __m256i src = _mm256_loadu_si256((const __m256i *)(half + 64 * (16 * h + 8 * (c & 1) + 2 * v2 + i)));
                            const __m256i hb = _mm256_loadu_si256((const __m256i *)(half + 2048 + 64 * (8 * h + 2 * v2 + i)));
                            const __m256i nibble = _mm256_and_si256(ns ? _mm256_srli_epi16(src, 4) : src, m4);
                            const __m256i moved = hs < 4 ? _mm256_slli_epi16(hb, 4 - hs) : hs == 4 ? hb : _mm256_srli_epi16(hb, 2);
                            code[i][hf] = _mm256_or_si256(nibble, _mm256_and_si256(moved, pairs));
                        }
                    for (int t = 0; t < nt; t++) {
                        const int8_t *a = q + t * k + 32 * b + 8 * v2;
                        const __m256i a0 = bcast4(a), a1 = bcast4(a + 4);
                        for (int hf = 0; hf < 2; hf++) {
                            const __m256i two = _mm256_add_epi16(_mm256_maddubs_epi16(code[0][hf], a0), _mm256_maddubs_epi16(code[1][hf], a1));
                            total[t][hf] = _mm256_add_epi32(total[t][hf], _mm256_madd_epi16(two, scale[hf][v2 >> 1]));
                        }
                    }
                }
                for (int t = 0; t < nt; t++) {
                    int32_t pair16;
                    memcpy(&pair16, h16 + t * (k / 16) + 2 * b, 4);
                    const __m256i sums16 = _mm256_set1_epi32(pair16);
                    const __m256 da = _mm256_set1_ps(d[t * blocks + b]);
                    for (int hf = 0; hf < 2; hf++) {
                        float *out = y + (size_t)t * ldy + 8 * hf;
                        const __m256i exact = _mm256_sub_epi32(total[t][hf], _mm256_madd_epi16(scale32[hf], sums16));
                        _mm256_storeu_ps(out, _mm256_fmadd_ps(_mm256_cvtepi32_ps(exact), _mm256_mul_ps(half8(blk + 3328 + 16 * hf), da),
                                                              _mm256_loadu_ps(out)));
                    }
                }
            }
        }
    }
}

// nt a constant in each call (≤ the kernel's tokens per pass), so the per-token arrays stay in registers.
#define CALL_UP_TO_4(CALL)                                                                                 \
    switch (nt) {                                                                                          \
    case 4: { const int n = 4; CALL; } break;                                                              \
    case 3: { const int n = 3; CALL; } break;                                                              \
    case 2: { const int n = 2; CALL; } break;                                                              \
    default: { const int n = 1; CALL; } break;                                                             \
    }
#define CALL_UP_TO_2(CALL)                                                                                 \
    if (nt == 2) { const int n = 2; CALL; } else { const int n = 1; CALL; }

// Tokens per pass over a group (what each kernel's registers hold).
static int tokens_per_pass(int kind) {
    switch (kind) {
    case IQ_Q4_0: case IQ_Q4_1: return Q4_TOKENS;
    case IQ_Q4_K: return Q4K_TOKENS;
    case IQ_Q6_K: return Q6K_TOKENS;
    default: return Q8_TOKENS;
    }
}

// Elements of a row per chunk: a group's chunk (16 rows: 18–26 KiB of q4_0, q4_K, q6_K) stays
// in L1/L2 while every token pass reads it, where a whole group of a long row (ffn_down at the
// 7B shape: 250–360 KiB) would not. Every kernel adds its blocks into y in order, so the chunking
// changes no result.
#define CHUNK 2048

void iq_x16_groups_q8_avx2(int kind, const uint8_t *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                           const float *s, const int16_t *h16, int64_t k, int64_t tokens, float *y, size_t ldy) {
    const int per = tokens_per_pass(kind);
    const int64_t be = kind == IQ_Q4_K || kind == IQ_Q6_K ? 256 : 32;
    const size_t group_block = (size_t)GROUP * (row_bytes / (size_t)(k / be));   // 16 rows' bytes per weight block
    for (int64_t g = 0; g < rows / GROUP; g++) {
        for (int64_t t = 0; t < tokens; t++) memset(y + (size_t)t * ldy + GROUP * g, 0, GROUP * sizeof(float));
        for (int64_t kc = 0; kc < k; kc += CHUNK) {
            const int64_t kn = k - kc < CHUNK ? k - kc : CHUNK;
            const uint8_t *group = w + (size_t)g * GROUP * row_bytes + (size_t)(kc / be) * group_block;
            for (int64_t t = 0; t < tokens; t += per) {
                const int nt = tokens - t < per ? (int)(tokens - t) : per;
                const int8_t *qt = q + t * k + kc;
                const float *dt = d + t * (k / 32) + kc / 32, *st = s + t * (k / 32) + kc / 32;
                const int16_t *ht = h16 + t * (k / 16) + kc / 16;
                float *yt = y + (size_t)t * ldy + GROUP * g;
                switch (kind) {
                case IQ_Q4_0: CALL_UP_TO_4(group_q4(0, group, qt, dt, st, ht, k, kn, n, yt, ldy)); break;
                case IQ_Q4_1: CALL_UP_TO_4(group_q4(1, group, qt, dt, st, ht, k, kn, n, yt, ldy)); break;
                case IQ_Q8_0: CALL_UP_TO_4(group_q8_0(group, qt, dt, k, kn, n, yt, ldy)); break;
                case IQ_Q4_K: CALL_UP_TO_2(group_q4_K(group, qt, dt, st, k, kn, n, yt, ldy)); break;
                default: CALL_UP_TO_4(group_q6_K(group, qt, dt, ht, k, kn, n, yt, ldy)); break;
                }
            }
        }
    }
}
#else
void iq_x16_groups_q8_avx2(int kind, const uint8_t *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                           const float *s, const int16_t *h16, int64_t k, int64_t tokens, float *y, size_t ldy) {
    (void)kind, (void)w, (void)row_bytes, (void)rows, (void)q, (void)d, (void)s, (void)h16, (void)k, (void)tokens, (void)y, (void)ldy;
}
#endif
