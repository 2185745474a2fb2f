// Shared between interleaved_rows.c (layout, activation permutation, AVX-512 kernels) and
// interleaved_avx2.c (AVX2 kernels); not part of the public header.
#ifndef IQUEST_INTERLEAVED_INTERNAL_H
#define IQUEST_INTERLEAVED_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

// The int16 decode product of `tokens` tokens against an x16 matrix (rows a multiple of 16) on
// AVX2: p = the activations' quants permuted as interleaved_rows.c's permute_quants writes them
// (tokens × k), d/s = per-block scales and sums (tokens × k/32), h16 = Σq per 16 quants (q6_K
// only; tokens × k/16). y[t·ldy + row].
void iq_x16_groups_avx2(int kind, const uint8_t *w, size_t row_bytes, int64_t rows, const int16_t *p, const float *d,
                        const float *s, const int32_t *h16, int64_t k, int64_t tokens, float *y, size_t ldy);

// The int8 decode product on AVX2 (interleaved_int8_avx2.c): q = the activations' int8 quants in
// natural order (tokens × k), d/s = block scales and d·Σq (tokens × k/32), h16 = Σq per 16
// quants as int16 (tokens × k/16). y[t·ldy + row].
void iq_x16_groups_q8_avx2(int kind, const uint8_t *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                           const float *s, const int16_t *h16, int64_t k, int64_t tokens, float *y, size_t ldy);
#endif
