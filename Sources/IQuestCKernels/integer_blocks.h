// Block-of-32 integer sums for q8_0 / q4_0 / q4_1 weights against int8 or int16 activation
// blocks (rules in integer_dots.c), split in two steps so that a block's weights are unpacked
// once and then dotted with any number of tokens' activations:
//   prep_*: the block's quants → two vectors (the operands every token reuses);
//   dot_*:  those vectors · one token's 32 activation quants → eight int32 lanes.
// The single-token kernels (integer_dots.c) and the multi-token ones (batch_dots.c) both use
// these, so a token's lanes, and hence its float sums, are the same in either.
#ifndef IQUEST_INTEGER_BLOCKS_H
#define IQUEST_INTEGER_BLOCKS_H
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#include <stdint.h>

// The 16 bytes of a q4 block's nibbles: low nibbles are elements 0–15, high nibbles 16–31.
static inline __m128i iq_low_nibbles(__m128i bytes) { return _mm_and_si128(bytes, _mm_set1_epi8(0x0F)); }
static inline __m128i iq_high_nibbles(__m128i bytes) {
    return _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0F));
}

// q8_0 × int8: w[0] = |q_w| (the unsigned operand), w[1] = q_w (whose sign moves onto x).
static inline void prep_q8_0_q8(const uint8_t *quants, __m256i w[2]) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)quants);
    w[0] = _mm256_sign_epi8(v, v);
    w[1] = v;
}
static inline __m256i dot_q8_0_q8(const __m256i w[2], const int8_t *q) {
    const __m256i x = _mm256_loadu_si256((const __m256i *)q);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w[0], _mm256_sign_epi8(x, w[1])), _mm256_set1_epi16(1));
}

// q4 × int8: w[0] = the 32 nibbles in element order (w[1] unused).
static inline void prep_q4_q8(const uint8_t *quants, __m256i w[2]) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)quants);
    w[0] = _mm256_inserti128_si256(_mm256_castsi128_si256(iq_low_nibbles(bytes)), iq_high_nibbles(bytes), 1);
    w[1] = w[0];
}
static inline __m256i dot_q4_q8(const __m256i w[2], const int8_t *q) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w[0], _mm256_loadu_si256((const __m256i *)q)), _mm256_set1_epi16(1));
}

// q8_0 × int16: elements 0–15 and 16–31 widened to 16 bits.
static inline void prep_q8_0_q16(const uint8_t *quants, __m256i w[2]) {
    w[0] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)quants));
    w[1] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(quants + 16)));
}
// q4 × int16: low nibbles (elements 0–15) and high nibbles (16–31) widened to 16 bits.
static inline void prep_q4_q16(const uint8_t *quants, __m256i w[2]) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)quants);
    w[0] = _mm256_cvtepu8_epi16(iq_low_nibbles(bytes));
    w[1] = _mm256_cvtepu8_epi16(iq_high_nibbles(bytes));
}
// Either widened layout × int16 activations.
static inline __m256i dot_w16_q16(const __m256i w[2], const int16_t *q) {
    return _mm256_add_epi32(_mm256_madd_epi16(w[0], _mm256_loadu_si256((const __m256i *)q)),
                            _mm256_madd_epi16(w[1], _mm256_loadu_si256((const __m256i *)(q + 16))));
}
#define dot_q8_0_q16 dot_w16_q16
#define dot_q4_q16 dot_w16_q16

#endif
#endif
