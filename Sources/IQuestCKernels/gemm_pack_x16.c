// The prompt GEMM's panel (gemm_int8.c's layout) packed straight from one x16 group, for the
// matrices repacked at load (interleaved_rows.c's layout).
//
// Why: restoring the 16 rows, decoding each row's codes and scattering them 4 bytes at a time
// cost ~1.1 ns per weight, which a 7B-shape prompt paid once per forward whatever its length
// (3.2 s of a 16-token prompt's 4.5 s on a 2-core EPYC). Both layouts keep 4 bytes per row,
// row r at 4r of each 64-byte vector, and every x16 piece holds 4 consecutive bytes of the
// row's block, whose low (and high) nibbles are 4 consecutive elements: each piece vector
// becomes one or two code vectors of the panel by a mask or a shift, with no transposition.
// The codes, mul and add are the ones pack_panel writes for the restored rows, so the GEMM's
// results are bitwise the row-major matrix's.
#include "iquest_ckernels.h"
#include "gemm_internal.h"
#include "half_scalar.h"
#include "kquants.h"
#if defined(__F16C__)
#include <immintrin.h>
#endif

#define GROUP 16
#define VEC 64   // one piece of all 16 rows; one code vector (4 elements of 16 rows)

// Code vector `out` = ((piece >> shift) & mask) | (((bits >> bit_shift) & 3) << 4) per byte, the
// second term only with `bits` (q6_K's high bit pairs). Constant-size loop: it vectorizes.
static inline void codes_of(const uint8_t *piece, int shift, uint8_t mask, const uint8_t *bits, int bit_shift,
                            uint8_t *out) {
    for (int i = 0; i < VEC; i++) {
        uint8_t c = (uint8_t)((piece[i] >> shift) & mask);
        if (bits) c |= (uint8_t)(((bits[i] >> bit_shift) & 3) << 4);
        out[i] = c;
    }
}

// Row r's binary16 at piece vector `at` (2-byte pieces: row r at 2r).
static inline float half_of(const uint8_t *at, int r) { return iq_half_at(at + 2 * r); }

// The 16 rows' binary16 values at `at` as floats (F16C where the build has it; the same values).
static inline void halves16(const uint8_t *at, float *out) {
#if defined(__F16C__)
    _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)at)));
    _mm256_storeu_ps(out + 8, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(at + 16))));
#else
    for (int r = 0; r < GROUP; r++) out[r] = half_of(at, r);
#endif
}

static void pack_q4(int mins, const uint8_t *group, int64_t k, uint8_t *codes, float *mul, float *add) {
    const int bytes = mins ? 20 : 18, head = mins ? 64 : 32;
    for (int64_t b = 0; b < k / 32; b++) {
        const uint8_t *blk = group + (size_t)b * GROUP * bytes;
        uint8_t *c = codes + (size_t)b * 8 * VEC;
        // Piece v: block bytes 4v…4v+3 of each row; low nibbles are elements 4v…, high 16+4v….
        for (int v = 0; v < 4; v++) {
            codes_of(blk + head + VEC * v, 0, 15, NULL, 0, c + VEC * v);
            codes_of(blk + head + VEC * v, 4, 15, NULL, 0, c + VEC * (4 + v));
        }
        float *m = mul + 16 * b, *a = add + 16 * b;
        halves16(blk, m);
        if (mins) halves16(blk + 32, a);
        else for (int r = 0; r < GROUP; r++) a[r] = -8.0f * m[r];
    }
}

static void pack_q8_0(const uint8_t *group, int64_t k, uint8_t *codes, float *mul, float *add) {
    for (int64_t b = 0; b < k / 32; b++) {
        const uint8_t *blk = group + (size_t)b * GROUP * 34;
        uint8_t *c = codes + (size_t)b * 8 * VEC;
        for (int i = 0; i < 8 * VEC; i++) c[i] = (uint8_t)(blk[32 + i] ^ 0x80);   // piece v: quants 4v…4v+3
        float *m = mul + 16 * b, *a = add + 16 * b;
        halves16(blk, m);
        for (int r = 0; r < GROUP; r++) a[r] = -128.0f * m[r];
    }
}

static void pack_q4_K(const uint8_t *group, int64_t k, uint8_t *codes, float *mul, float *add) {
    for (int64_t sb = 0; sb < k / 256; sb++) {
        const uint8_t *blk = group + (size_t)sb * GROUP * 144;
        uint8_t *c = codes + (size_t)sb * 64 * VEC;
        // Piece p: qs bytes 4p…4p+3 of chunk p/8, whose low nibbles are sub-block 2(p/8) and
        // high nibbles sub-block 2(p/8)+1, elements 4(p%8)… of each.
        for (int p = 0; p < 32; p++) {
            codes_of(blk + 256 + VEC * p, 0, 15, NULL, 0, c + VEC * (16 * (p / 8) + p % 8));
            codes_of(blk + 256 + VEC * p, 4, 15, NULL, 0, c + VEC * (16 * (p / 8) + 8 + p % 8));
        }
        float d[GROUP], dmin[GROUP];
        halves16(blk, d);
        halves16(blk + 32, dmin);
        for (int r = 0; r < GROUP; r++) {
            uint8_t s[12];   // the row's packed scales: three 4-byte pieces
            for (int q = 0; q < 3; q++)
                for (int i = 0; i < 4; i++) s[4 * q + i] = blk[64 + VEC * q + 4 * r + i];
            for (int j = 0; j < 8; j++) {
                int sc, m;
                iq_q4k_scale_min(s, j, &sc, &m);
                mul[16 * (8 * sb + j) + r] = d[r] * (float)sc;
                add[16 * (8 * sb + j) + r] = -dmin[r] * (float)m;
            }
        }
    }
}

static void pack_q6_K(const uint8_t *group, int64_t k, uint8_t *codes, float *mul, float *add) {
    for (int64_t sb = 0; sb < k / 256; sb++) {
        const uint8_t *blk = group + (size_t)sb * GROUP * 210;
        uint8_t *c = codes + (size_t)sb * 64 * VEC;
        // Elements 128h + 32c + 4m…+3: nibble c/2 of ql piece 16h + 8(c&1) + m, bit pair c of
        // qh piece 8h + m (ql pieces at 0, qh pieces at 2048).
        for (int h = 0; h < 2; h++)
            for (int cc = 0; cc < 4; cc++)
                for (int m = 0; m < 8; m++)
                    codes_of(blk + VEC * (16 * h + 8 * (cc & 1) + m), 4 * (cc >> 1), 15, blk + 2048 + VEC * (8 * h + m),
                             2 * cc, c + VEC * (32 * h + 8 * cc + m));
        float d[GROUP];
        halves16(blk + 3328, d);
        for (int r = 0; r < GROUP; r++) {
            for (int g = 0; g < 16; g++) {
                const float scale = d[r] * (float)(int8_t)blk[3072 + VEC * (g / 4) + 4 * r + g % 4];
                mul[16 * (16 * sb + g) + r] = scale;
                add[16 * (16 * sb + g) + r] = -32.0f * scale;
            }
        }
    }
}

void iq_x16_pack_gemm_panel(int kind, const uint8_t *group, int64_t k, uint8_t *codes, float *mul, float *add) {
    switch (kind) {
    case IQ_Q4_0: pack_q4(0, group, k, codes, mul, add); break;
    case IQ_Q4_1: pack_q4(1, group, k, codes, mul, add); break;
    case IQ_Q8_0: pack_q8_0(group, k, codes, mul, add); break;
    case IQ_Q4_K: pack_q4_K(group, k, codes, mul, add); break;
    default: pack_q6_K(group, k, codes, mul, add); break;
    }
}
