// Internal: the k-quant kernels (kquants.c) that iq_decode_row / iq_dot_rows / iq_dot_rows_q8 /
// iq_dot_rows_q16 dispatch IQ_Q4_K and IQ_Q6_K to. Row lengths are multiples of 256.
#ifndef IQUEST_KQUANTS_H
#define IQUEST_KQUANTS_H

#include "iquest_ckernels.h"

void iq_kq_decode_row(int kind, const void *src, float *dst, int64_t n);
void iq_kq_dot_rows(int kind, const void *w, size_t row_bytes, int64_t rows, const float *x, int64_t k, float *y);
void iq_kq_dot_rows_q8(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                       const float *s, int64_t k, float *y);
void iq_kq_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                        const float *s, int64_t k, float *y);

// q4_K sub-block j's 6-bit scale and min from the 12 packed bytes `s` (ggml's get_scale_min_k4;
// layout in kquants.c). Shared by the k-quant kernels and the prompt GEMM's panel packing.
static inline void iq_q4k_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// AVX-512 VNNI decode kernels (decode_avx512.c) for the kinds iq_avx512_has_q16 accepts; called
// by iq_dot_rows_q16 / _batch when the active kernel set is IQ_SET_AVX512.
int iq_avx512_has_q16(int kind);
void iq_avx512_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                            const float *s, int64_t k, float *y);
void iq_avx512_dot_rows_q16_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q,
                                  const float *d, const float *s, int64_t k, int64_t tokens, float *y, size_t ldy);

#endif
