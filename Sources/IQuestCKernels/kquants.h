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

#endif
