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

// ---- Kernel sets chosen at run time (cpu_dispatch.c) ----
// CPU features, as detected (CPUID and the OS's saved register state).
enum iq_feature {
    IQ_FEATURE_AVX2 = 1,          // AVX2 + FMA + F16C
    IQ_FEATURE_AVX512 = 2,        // AVX-512 F + BW + VL
    IQ_FEATURE_AVX512_VNNI = 4,
    IQ_FEATURE_AVX_VNNI = 8,      // VEX-encoded VNNI (reported; no kernel uses it yet)
    IQ_FEATURE_AVX512_BF16 = 16,  // (reported; no kernel uses it yet)
};
enum iq_kernel_set { IQ_SET_SCALAR = 0, IQ_SET_AVX2 = 1, IQ_SET_AVX512 = 2 };
unsigned iq_cpu_features(void);
int iq_kernel_set_supported(int set);
// The highest set the CPU supports.
int iq_kernel_set_best(void);
// Makes `set` the active one; returns 0 (and changes nothing) when the CPU lacks it.
int iq_kernel_set_select(int set);
const char *iq_kernel_set_name(int set);
// The set named by the environment variable IQUEST_KERNELS when the CPU supports it, else the
// best; what the process starts with.
int iq_kernel_set_initial(void);
// The active set; -1 until the first kernel call or iq_kernel_set_select picks one.
extern int iq_active_kernel_set;
// A per-thread override (−1: none), so kernel tests can run every set on their own thread while
// other threads keep the process's set.
extern _Thread_local int iq_thread_kernel_set;
// Sets this thread's override (−1 clears it); returns 0 when the CPU lacks the set.
int iq_kernel_set_override_thread(int set);
static inline int iq_kernel_set(void) {
    if (iq_thread_kernel_set >= 0) return iq_thread_kernel_set;
    int s = iq_active_kernel_set;
    if (s < 0) { s = iq_kernel_set_initial(); iq_active_kernel_set = s; }
    return s;
}

// ---- Integer prompt GEMM (gemm_int8.c) ----
// Whether iq_gemm_q8 has a kernel for `kind` in kernel set `set`.
int iq_gemm_q8_supported(int kind, int set);
// y[t·ldy + r] = row r of W · token t's activation, for rows [0, rows) and tokens [0, tokens):
// W of an IQ_Q8_0/Q4_0/Q4_1/Q4_K/Q6_K kind, rows row_bytes apart, k elements each; token t's
// activation quantized by iq_quantize_q8 (quants at q + t·k, block scales at d + t·k/32). A
// token's results do not depend on `tokens` nor on the kernel set. Returns 0 (writing nothing)
// when the active set has no kernel for `kind` or scratch memory could not be had.
int iq_gemm_q8(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, const int8_t *q, const float *d,
               int64_t tokens, float *y, size_t ldy);
// The same with int16-precision activations in two int8 planes (q = 256·qh + ql, quantized by
// iq_quantize_q16_planes: Q = 32639 per block of 32): twice the integer work of iq_gemm_q8, the
// accuracy of the int16 decode path.
void iq_quantize_q16_planes(const float *x, int64_t k, int8_t *qh, int8_t *ql, float *d);
int iq_gemm_q16(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, const int8_t *qh, const int8_t *ql,
                const float *d, int64_t tokens, float *y, size_t ldy);

// ---- q8_0 / q4_0 / q4_1 / q4_K / q6_K with rows interleaved 16 at a time (interleaved_rows.c) ----
// Layout ("x16"), for matrices whose row count is a multiple of 16: group g (rows 16g…16g+15)
// occupies the bytes rows 16g…16g+15 would (16·row_bytes from w + 16g·row_bytes). Inside it,
// block after block (32 elements for q8_0/q4_0/q4_1, 256 for q4_K/q6_K), each row's block is cut into pieces
// and piece i of the 16 rows is stored together, row r at width·r:
//   q4_0 (16 × 18 bytes): the f16 scales (2 bytes each), then 4 pieces of 4 nibble bytes;
//   q4_1 (16 × 20 bytes): d, m (2 bytes each), then 4 pieces of 4 nibble bytes;
//   q8_0 (16 × 34 bytes): d (2 bytes), then 8 pieces of 4 int8 quants;
//   q4_K (16 × 144 bytes): d, dmin (2 bytes each), 3 pieces of the packed 6-bit scales, then
//   32 pieces of 4 nibble bytes;
//   q6_K (16 × 210 bytes): 52 pieces of 4 bytes (low nibbles, high bit pairs, int8 scales),
//   then d (2 bytes).
// So a 64-byte vector holds the same 4 bytes of 16 rows, one row per dword lane.
// Whether `kind` is repacked into this layout when `set` is the active kernel set (only where a
// kernel exploits it: q8_0, q4_0, q4_1, q4_K and q6_K under AVX-512 VNNI and AVX2).
int iq_x16_preferred(int kind, int set);
void iq_x16_interleave(int kind, const void *src, size_t row_bytes, int64_t rows, int64_t k, void *dst);
// Restores one group's 16 rows (row-major, row_bytes apart) at dst.
void iq_x16_deinterleave(int kind, const void *group, size_t row_bytes, int64_t k, void *dst);
// The products above on an x16 matrix of `kind` (w at a group start, rows a multiple of 16;
// pack_panel16: one group). Same results as the row-major functions on the row-major matrix,
// except the int16 decode products under AVX-512 and AVX2, which have their own kernels (float rounding
// order only; bitwise the same for a token alone or batched).
void iq_x16_dot_rows(int kind, const void *w, size_t row_bytes, int64_t rows, const float *x, int64_t k, float *y);
void iq_x16_dot_rows_q8(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                        const float *s, int64_t k, float *y);
void iq_x16_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                         const float *s, int64_t k, float *y);
void iq_x16_dot_rows_q8_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                              const float *s, int64_t k, int64_t tokens, float *y, size_t ldy);
void iq_x16_dot_rows_q16_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q,
                               const float *d, const float *s, int64_t k, int64_t tokens, float *y, size_t ldy);
void iq_x16_pack_panel16(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, float *panel);
int iq_x16_gemm_q8(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, const int8_t *q, const float *d,
                   int64_t tokens, float *y, size_t ldy);
int iq_x16_gemm_q16(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, const int8_t *qh,
                    const int8_t *ql, const float *d, int64_t tokens, float *y, size_t ldy);

#endif
