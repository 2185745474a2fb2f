// Row kernels over quantized / 16-bit weight encodings, in C with AVX2 intrinsics.
//
// Why C: Swift's SIMD integer→float and f16→f32 conversions (SIMD8<Float>(SIMD8<Int32>),
// init(truncatingIfNeeded:)) compile to per-lane generic code rather than vpmovsx/vcvtdq2ps;
// measured with perf on SmolLM2 Q4_1 they took >60% of decode time (7 tokens/s). Everything that
// is plain f32 arithmetic stays in Swift.
//
// Encodings (ggml block layouts), 32 elements per group:
//   IQ_Q8_0: f16 d, int8 q[32]                    x = d*q
//   IQ_Q4_0: f16 d, uint8 qs[16]                  x = d*(nibble-8); byte j = elems j (lo), j+16 (hi)
//   IQ_Q4_1: f16 d, f16 m, uint8 qs[16]           x = d*nibble + m
//   IQ_F16 / IQ_BF16: 32 consecutive 16-bit values.
#ifndef IQUEST_CKERNELS_H
#define IQUEST_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

// IQ_Q4_K / IQ_Q6_K are ggml's 256-element k-quant super-blocks (layouts in kquants.c); rows
// of those kinds are multiples of 256 elements.
enum iq_kind { IQ_F16 = 1, IQ_BF16 = 2, IQ_Q8_0 = 3, IQ_Q4_0 = 4, IQ_Q4_1 = 5, IQ_Q4_K = 6, IQ_Q6_K = 7 };

// Decodes n elements (a multiple of 32) of one row into f32.
void iq_decode_row(int kind, const void *src, float *dst, int64_t n);

// y[r] = dot(row r, x) for rows [0, rows): rows are row_bytes apart, each k elements (multiple of 32).
void iq_dot_rows(int kind, const void *w, size_t row_bytes, int64_t rows, const float *x, int64_t k, float *y);

// Quantizes k elements (a multiple of 32) of an activation vector for the integer dots (rule in
// integer_dots.c): per block b of 32, q[32·b …] (int8 or int16), scale d[b] = max|x|/Q and
// s[b] = d[b]·Σq, with Q = 127 or 32767.
void iq_quantize_q8(const float *x, int64_t k, int8_t *q, float *d, float *s);
void iq_quantize_q16(const float *x, int64_t k, int16_t *q, float *d, float *s);

// y[r] = Σ_i W[r][i] · d·q_i for rows [0, rows) of an IQ_Q8_0 / IQ_Q4_0 / IQ_Q4_1 / IQ_Q4_K / IQ_Q6_K matrix (rows
// row_bytes apart, k elements each) and an activation quantized by the matching iq_quantize_*.
void iq_dot_rows_q8(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                    const float *s, int64_t k, float *y);
void iq_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                     const float *s, int64_t k, float *y);

// The same for `tokens` activations at once (batch_dots.c): token t's quants at q + t·k, its
// d and s at d + t·k/32, s + t·k/32; y[t·ldy + r]. Each weight block is read once for all
// tokens, and token t's results are bitwise those of iq_dot_rows_q8/_q16 for t alone.
void iq_dot_rows_q8_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                          const float *s, int64_t k, int64_t tokens, float *y, size_t ldy);
void iq_dot_rows_q16_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q,
                           const float *d, const float *s, int64_t k, int64_t tokens, float *y, size_t ldy);

// Packs rows (≤ 16) rows of k elements (a multiple of 32; rows row_bytes apart) of a kind-0
// (f32) or IQ_* matrix as panel[i·16 + j] = W[j][i] (k·16 floats), zero for rows j ≥ rows.
void iq_pack_panel16(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, float *panel);

// A spin-wait hint (x86 `pause`) for the kernels' worker threads.
static inline void iq_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif
