// Small AVX2/F16C helpers shared by the C kernels (row_kernels.c, integer_dots.c, kquants.c).
#ifndef IQUEST_AVX2_COMMON_H
#define IQUEST_AVX2_COMMON_H
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

// The IEEE binary16 value stored (possibly unaligned) at p, as f32.
static inline float iq_load_half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// The binary16 value at p in all eight lanes. Unlike iq_load_half's scalar conversion, which
// clang lowers to a vpinsrw merging into a stale register (a false dependency that chained
// successive blocks in the multi-token kernels, ~2× slower), this has no input but memory.
static inline __m256 iq_load_half8(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _mm256_cvtph_ps(_mm_set1_epi16((short)h));
}

// Sum of the eight lanes.
static inline float iq_hsum8(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}
#endif
#endif
