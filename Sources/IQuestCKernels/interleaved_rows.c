// q8_0, q4_0, q4_1, q4_K and q6_K weights with rows interleaved 16 at a time ("x16"), the layout the AVX-512
// decode kernels want: one vector lane per row, so a block of 16 rows costs a few vector µops
// instead of ~9 per row (the row-major kernels' widening, horizontal sums and per-row scales).
// Repacked at load (same bytes, same size); the layout is in iquest_ckernels.h.
//
// Decode (AVX-512 VNNI, int16 activations): a 64-byte vector holds the same 4 nibble bytes of
// 16 rows, one row per dword lane. Masking with 0x000F000F gives two int16 nibbles per lane
// (bytes 0 and 2, low halves); shifted by 4, 8 and 12 the other three pairs (bytes 0 and 2
// high; 1 and 3 low; 1 and 3 high). Each pair meets the matching pair of the activation's int16
// quants, broadcast as one dword from a permuted copy, in one vpdpwssd, which leaves the 16
// rows' exact integer sums Σ n·q per activation block of 32. Then per block, for 16 rows at once:
//   q4_0: acc += float(Σ n·q) · (d_w·d[b]),           off += d_w · (−8·s[b])
//   q4_1: acc += float(Σ n·q) · (d_w·d[b]),           off += m_w · s[b]
//   q4_K: acc += float(Σ n·q) · ((d·sc_j)·d[b]),      off += (dmin·m_j) · (−s[b])
// and y = acc + off. q8_0 widens its int8 quants by shifts (two int16 quants per lane) and
// keeps acc only. q6_K builds each 6-bit code c from a nibble and a 2-bit pair (one
// vpternlogd) and keeps two sums per block, one per 16-element scale, the codes' offset of 32
// taken off each sum with the activation's Σq over those 16 (h16):
//   q6_K: acc += float(Σ_16 c·q − 32·Σ_16 q) · ((d·sc_i)·d[b]) for both halves i of block b.
// Several tokens share each group's unpacking; a token's steps are the
// single-token ones in the same order, so its result is bitwise the same alone or batched.
//
// int8 activations have their own kernels (interleaved_int8_avx2.c, AVX2, run under both x86
// sets). Every other product on this layout (the scalar set, f32 activations, the f32 panels)
// restores a group's 16 rows to the row-major layout in a per-thread buffer and runs the
// row-major kernel on them, so its results are the row-major matrix's. The integer prompt
// GEMM (gemm_int8.c) restores each group as it packs its panel.
#include "iquest_ckernels.h"
#include "interleaved_internal.h"
#include <stdlib.h>
#include <string.h>

#define GROUP 16

// A row's block is cut into pieces of 2 or 4 bytes; the group stores piece i of all 16 rows
// together (row r at 2r or 4r), pieces in order. q4_0 (18 bytes): the f16 scale, then 4 × 4
// nibble bytes. q4_1 (20 bytes): d, m, 4 × 4 nibble bytes. q8_0 (34 bytes): d, 8 × 4 int8
// quants. q4_K (144 bytes): d, dmin, 3 × 4 bytes of packed scales, 32 × 4 nibble bytes.
// q6_K (210 bytes): 32 × 4 bytes of low nibbles, 16 × 4 of high bit pairs, 4 × 4 of int8
// scales, then d.
#define MAX_BLOCK_BYTES 210
static int block_elements(int kind) { return kind == IQ_Q4_K || kind == IQ_Q6_K ? 256 : 32; }
static int block_bytes(int kind) {
    switch (kind) {
    case IQ_Q4_0: return 18;
    case IQ_Q4_1: return 20;
    case IQ_Q8_0: return 34;
    case IQ_Q4_K: return 144;
    default: return 210;
    }
}
static int piece_width(int kind, int offset) {
    switch (kind) {
    case IQ_Q4_0: case IQ_Q8_0: return offset < 2 ? 2 : 4;
    case IQ_Q4_1: case IQ_Q4_K: return offset < 4 ? 2 : 4;
    default: return offset < 208 ? 4 : 2;
    }
}

int iq_x16_preferred(int kind, int set) {
    return (kind == IQ_Q4_0 || kind == IQ_Q4_1 || kind == IQ_Q8_0 || kind == IQ_Q4_K || kind == IQ_Q6_K) &&
           (set == IQ_SET_AVX512 || set == IQ_SET_AVX2) && iq_kernel_set_supported(set);
}

// Moves one block of 16 rows between the row-major rows (rows row_bytes apart, at block
// offset `at`) and its interleaved form (`group_block`), in the direction `restore` says.
static void move_block(int kind, uint8_t *rows, size_t row_bytes, size_t at, uint8_t *group_block, int restore) {
    const int bytes = block_bytes(kind);
    for (int offset = 0, out = 0; offset < bytes;) {
        const int width = piece_width(kind, offset);
        for (int r = 0; r < GROUP; r++) {
            uint8_t *row_piece = rows + (size_t)r * row_bytes + at + offset, *lane = group_block + out + width * r;
            // Constant sizes, so each copy is one move (a variable one calls memmove).
            if (restore) width == 2 ? memcpy(row_piece, lane, 2) : memcpy(row_piece, lane, 4);
            else width == 2 ? memcpy(lane, row_piece, 2) : memcpy(lane, row_piece, 4);
        }
        offset += width;
        out += GROUP * width;
    }
}

void iq_x16_interleave(int kind, const void *src, size_t row_bytes, int64_t rows, int64_t k, void *dst) {
    const int64_t blocks = k / block_elements(kind);
    const size_t gb = (size_t)GROUP * block_bytes(kind);
    for (int64_t g = 0; g < rows / GROUP; g++)
        for (int64_t b = 0; b < blocks; b++)
            move_block(kind, (uint8_t *)src + (size_t)g * GROUP * row_bytes, row_bytes, (size_t)b * block_bytes(kind),
                       (uint8_t *)dst + (size_t)g * GROUP * row_bytes + b * gb, 0);
}

void iq_x16_deinterleave(int kind, const void *group, size_t row_bytes, int64_t k, void *dst) {
    const int64_t blocks = k / block_elements(kind);
    const size_t gb = (size_t)GROUP * block_bytes(kind);
    for (int64_t b = 0; b < blocks; b++)
        move_block(kind, dst, row_bytes, (size_t)b * block_bytes(kind), (uint8_t *)group + b * gb, 1);
}

// ---- Row-major fallback: one group's rows restored into a per-thread buffer ----

static _Thread_local void *restored;
static _Thread_local size_t restored_capacity;

// A per-thread scratch `*buffer` of at least `bytes`, grown (never shrunk) on demand: the buffer,
// or NULL when no memory could be had (the old one is then kept).
static void *grow_scratch(void **buffer, size_t *capacity, size_t bytes) {
    if (bytes > *capacity) {
        void *grown = malloc(bytes);
        if (!grown) return NULL;
        free(*buffer);
        *buffer = grown;
        *capacity = bytes;
    }
    return *buffer;
}

// The group's 16 rows in row-major form (row_bytes apart), or NULL when no memory could be had.
static const uint8_t *restore_group(int kind, const uint8_t *group, size_t row_bytes, int64_t k) {
    uint8_t *rows = grow_scratch(&restored, &restored_capacity, GROUP * row_bytes);
    if (!rows) return NULL;
    iq_x16_deinterleave(kind, group, row_bytes, k, rows);
    return rows;
}

// Block b of row r restored into `out` (one block, no allocation): the fallback of the
// fallback, when restore_group found no memory. Products then go block by block.
static void restore_block(int kind, const uint8_t *group, int r, int64_t b, uint8_t *out) {
    const uint8_t *gblock = group + (size_t)b * GROUP * block_bytes(kind);
    for (int offset = 0, in = 0; offset < block_bytes(kind);) {
        const int width = piece_width(kind, offset);
        width == 2 ? memcpy(out + offset, gblock + in + width * r, 2) : memcpy(out + offset, gblock + in + width * r, 4);
        offset += width;
        in += GROUP * width;
    }
}

void iq_x16_dot_rows(int kind, const void *w, size_t row_bytes, int64_t rows, const float *x, int64_t k, float *y) {
    const int be = block_elements(kind);
    for (int64_t g = 0; g < rows / GROUP; g++) {
        const uint8_t *group = (const uint8_t *)w + (size_t)g * GROUP * row_bytes;
        const uint8_t *rm = restore_group(kind, group, row_bytes, k);
        if (rm) { iq_dot_rows(kind, rm, row_bytes, GROUP, x, k, y + GROUP * g); continue; }
        for (int r = 0; r < GROUP; r++) {
            float acc = 0, part;
            uint8_t blk[MAX_BLOCK_BYTES];
            for (int64_t b = 0; b < k / be; b++) {
                restore_block(kind, group, r, b, blk);
                iq_dot_rows(kind, blk, block_bytes(kind), 1, x + b * be, be, &part);
                acc += part;
            }
            y[GROUP * g + r] = acc;
        }
    }
}

void iq_x16_pack_panel16(int kind, const void *w, size_t row_bytes, int64_t rows, int64_t k, float *panel) {
    const uint8_t *rm = restore_group(kind, w, row_bytes, k);
    if (rm) { iq_pack_panel16(kind, rm, row_bytes, rows, k, panel); return; }
    const int be = block_elements(kind);
    uint8_t blk[MAX_BLOCK_BYTES];
    float values[256];
    for (int j = 0; j < GROUP; j++)
        for (int64_t b = 0; b < k / be; b++) {
            restore_block(kind, w, j, b, blk);
            iq_decode_row(kind, blk, values, be);
            for (int i = 0; i < be; i++) panel[(b * be + i) * GROUP + j] = j < rows ? values[i] : 0;
        }
}

// Every token against one group through the row-major kernels (or block by block).
static void restored_group_dots(int kind, const uint8_t *group, size_t row_bytes, const int8_t *q8, const int16_t *q16,
                                const float *d, const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    const uint8_t *rm = restore_group(kind, group, row_bytes, k);
    if (rm && q8) { iq_dot_rows_q8_batch(kind, rm, row_bytes, GROUP, q8, d, s, k, tokens, y, ldy); return; }
    if (rm) { iq_dot_rows_q16_batch(kind, rm, row_bytes, GROUP, q16, d, s, k, tokens, y, ldy); return; }
    const int be = block_elements(kind);
    const int64_t blocks = k / 32;
    uint8_t blk[MAX_BLOCK_BYTES];
    for (int64_t t = 0; t < tokens; t++)
        for (int r = 0; r < GROUP; r++) {
            float acc = 0, part;
            for (int64_t b = 0; b < k / be; b++) {
                restore_block(kind, group, r, b, blk);
                const int64_t e = t * k + b * be, a = t * blocks + b * be / 32;
                if (q8) iq_dot_rows_q8(kind, blk, block_bytes(kind), 1, q8 + e, d + a, s + a, be, &part);
                else iq_dot_rows_q16(kind, blk, block_bytes(kind), 1, q16 + e, d + a, s + a, be, &part);
                acc += part;
            }
            y[(size_t)t * ldy + r] = acc;
        }
}

// Per-thread Σq per 16 quants of each token (tokens × k/16 int16), for the int8 kernels.
static _Thread_local void *sums16;
static _Thread_local size_t sums16_capacity;

// The int8 decode product on the layout's own kernels: AVX2 ones under both x86 sets (an
// AVX-512 CPU has AVX2). 0 when the set has none or no memory could be had.
static int fast_q8(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                   const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
#if defined(__x86_64__) && defined(__AVX2__)
    const int set = iq_kernel_set();
    if (set != IQ_SET_AVX512 && set != IQ_SET_AVX2) return 0;
    int16_t *h16 = grow_scratch(&sums16, &sums16_capacity, (size_t)(tokens * (k / 16)) * sizeof(int16_t));
    if (!h16) return 0;
    // Only q4_0 (its −8 offset) and q6_K (its −32) read the sums.
    for (int64_t i = 0; (kind == IQ_Q4_0 || kind == IQ_Q6_K) && i < tokens * (k / 16); i++) {
        int sum = 0;   // |Σ| ≤ 16 · 127: fits int16
        for (int e = 0; e < 16; e++) sum += q[16 * i + e];
        h16[i] = (int16_t)sum;
    }
    iq_x16_groups_q8_avx2(kind, w, row_bytes, rows, q, d, s, h16, k, tokens, y, ldy);
    return 1;
#else
    (void)kind, (void)w, (void)row_bytes, (void)rows, (void)q, (void)d, (void)s, (void)k, (void)tokens, (void)y, (void)ldy;
    return 0;
#endif
}

void iq_x16_dot_rows_q8_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                              const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    if (fast_q8(kind, w, row_bytes, rows, q, d, s, k, tokens, y, ldy)) return;
    for (int64_t g = 0; g < rows / GROUP; g++)
        restored_group_dots(kind, (const uint8_t *)w + (size_t)g * GROUP * row_bytes, row_bytes, q, NULL, d, s, k, tokens,
                            y + GROUP * g, ldy);
}

void iq_x16_dot_rows_q8(int kind, const void *w, size_t row_bytes, int64_t rows, const int8_t *q, const float *d,
                        const float *s, int64_t k, float *y) {
    iq_x16_dot_rows_q8_batch(kind, w, row_bytes, rows, q, d, s, k, 1, y, 0);
}

// ---- The AVX-512 VNNI decode kernels ----

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
// Software prefetch 8 KiB ahead into L2: one stream per thread at DRAM latency needs more bytes in
// flight than the hardware prefetcher keeps (kbench, 7B-shape q4_0 rows from DRAM, 2 threads:
// 2 KiB into L1 26.6 GB/s, 4-16 KiB into L2 29.1-29.9, the probe's plain read 31.5).
#define PREFETCH_AHEAD 8192
#define PREFETCH_HINT _MM_HINT_T1
#define MAX_GROUP_TOKENS 4

// The activation's int16 quants in the order the nibble pairs come out, per block of 32, as
// dwords. q4_0 and q4_1 (byte j holds elements j and j + 16), per 4 bytes j = 4v…4v+3:
// (x[4v], x[4v+2]), (x[4v+16], x[4v+18]), (x[4v+1], x[4v+3]), (x[4v+17], x[4v+19]).
// q8_0, q4_K and q6_K (a block's 32 elements come from 32 consecutive bytes), per v = 0…7:
// (x[4v], x[4v+2]), (x[4v+1], x[4v+3]).
static void permute_quants(int kind, const int16_t *q, int64_t k, int16_t *p) {
    for (int64_t b = 0; b < k / 32; b++) {
        const int16_t *x = q + 32 * b;
        int16_t *o = p + 32 * b;
        const int nibble_pairs = kind == IQ_Q4_0 || kind == IQ_Q4_1;
        for (int v = 0; v < 4 && nibble_pairs; v++, o += 8) {
            o[0] = x[4 * v], o[1] = x[4 * v + 2], o[2] = x[4 * v + 16], o[3] = x[4 * v + 18];
            o[4] = x[4 * v + 1], o[5] = x[4 * v + 3], o[6] = x[4 * v + 17], o[7] = x[4 * v + 19];
        }
        for (int v = 0; v < 8 && !nibble_pairs; v++, o += 4)
            o[0] = x[4 * v], o[1] = x[4 * v + 2], o[2] = x[4 * v + 1], o[3] = x[4 * v + 3];
    }
}

#define NIBBLES(V, N0, N1, N2, N3)                                                                         \
    const __m512i N0 = _mm512_and_si512(V, low), N1 = _mm512_and_si512(_mm512_srli_epi32(V, 4), low);     \
    const __m512i N2 = _mm512_and_si512(_mm512_srli_epi32(V, 8), low), N3 = _mm512_and_si512(_mm512_srli_epi32(V, 12), low)

// One vpdpwssd against the activation pair at `pair`, broadcast.
static inline __attribute__((always_inline)) AVX512_TARGET __m512i dp(__m512i acc, __m512i n, const int16_t *pair) {
    int32_t a;
    memcpy(&a, pair, 4);
    return _mm512_dpwssd_epi32(acc, n, _mm512_set1_epi32(a));
}

// q4_0 / q4_1 (`mins`): one group of 16 rows against nt ≤ 4 tokens (permuted quants p + t·k):
// y[t·ldy + r].
static AVX512_TARGET __attribute__((always_inline)) inline void group_q4(
    const int mins, const uint8_t *group, const int16_t *p, const float *d, const float *s, int64_t k, const int nt,
    float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    const int stride = GROUP * (mins ? 20 : 18), head = mins ? 64 : 32;   // 32 bytes of scales (then of mins)
    const __m512i low = _mm512_set1_epi32(0x000F000F);
    __m512 acc[MAX_GROUP_TOKENS], off[MAX_GROUP_TOKENS];
    for (int t = 0; t < nt; t++) acc[t] = off[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *blk = group + (size_t)b * stride;   // scales, mins (q4_1), 4 nibble vectors
        for (int line = 0; line < stride; line += 64) _mm_prefetch((const char *)blk + PREFETCH_AHEAD + line, PREFETCH_HINT);
        __m512i even[MAX_GROUP_TOKENS], odd[MAX_GROUP_TOKENS];
        for (int t = 0; t < nt; t++) even[t] = odd[t] = _mm512_setzero_si512();
        for (int v = 0; v < 4; v++) {
            const __m512i bytes = _mm512_loadu_si512(blk + head + 64 * v);
            NIBBLES(bytes, n0, n1, n2, n3);
            for (int t = 0; t < nt; t++) {
                const int16_t *a = p + t * k + 32 * b + 8 * v;
                even[t] = dp(even[t], n0, a), odd[t] = dp(odd[t], n1, a + 2);
                even[t] = dp(even[t], n2, a + 4), odd[t] = dp(odd[t], n3, a + 6);
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)blk));
        for (int t = 0; t < nt; t++) {
            const __m512 sums = _mm512_cvtepi32_ps(_mm512_add_epi32(even[t], odd[t]));
            acc[t] = _mm512_fmadd_ps(sums, _mm512_mul_ps(dw, _mm512_set1_ps(d[t * blocks + b])), acc[t]);
            if (mins) off[t] = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + 32))),
                                               _mm512_set1_ps(s[t * blocks + b]), off[t]);
            else off[t] = _mm512_fmadd_ps(dw, _mm512_set1_ps(-8.0f * s[t * blocks + b]), off[t]);
        }
    }
    for (int t = 0; t < nt; t++) _mm512_storeu_ps(y + (size_t)t * ldy, _mm512_add_ps(acc[t], off[t]));
}

static AVX512_TARGET __attribute__((always_inline)) inline void group_q4_0(
    const uint8_t *group, const int16_t *p, const float *d, const float *s, const int32_t *h16, int64_t k, const int nt,
    float *y, size_t ldy) {
    (void)h16;
    group_q4(0, group, p, d, s, k, nt, y, ldy);
}

static AVX512_TARGET __attribute__((always_inline)) inline void group_q4_1(
    const uint8_t *group, const int16_t *p, const float *d, const float *s, const int32_t *h16, int64_t k, const int nt,
    float *y, size_t ldy) {
    (void)h16;
    group_q4(1, group, p, d, s, k, nt, y, ldy);
}

// q8_0: one group of 16 rows against nt ≤ 4 tokens. A lane's dword holds quants 4v…4v+3 of its
// row: shifted left then arithmetically right by 8 in int16 lanes, bytes 0 and 2 (x[4v],
// x[4v+2]); shifted right, bytes 1 and 3.
static AVX512_TARGET __attribute__((always_inline)) inline void group_q8_0(
    const uint8_t *group, const int16_t *p, const float *d, const float *s, const int32_t *h16, int64_t k, const int nt,
    float *y, size_t ldy) {
    (void)s, (void)h16;
    const int64_t blocks = k / 32;
    __m512 acc[MAX_GROUP_TOKENS];
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *blk = group + (size_t)b * GROUP * 34;   // 32 bytes of scales, 8 quant vectors
        for (int line = 0; line < GROUP * 34; line += 64) _mm_prefetch((const char *)blk + PREFETCH_AHEAD + line, PREFETCH_HINT);
        __m512i even[MAX_GROUP_TOKENS], odd[MAX_GROUP_TOKENS];
        for (int t = 0; t < nt; t++) even[t] = odd[t] = _mm512_setzero_si512();
        for (int v = 0; v < 8; v++) {
            const __m512i bytes = _mm512_loadu_si512(blk + 32 + 64 * v);
            const __m512i q02 = _mm512_srai_epi16(_mm512_slli_epi16(bytes, 8), 8), q13 = _mm512_srai_epi16(bytes, 8);
            for (int t = 0; t < nt; t++) {
                const int16_t *a = p + t * k + 32 * b + 4 * v;
                even[t] = dp(even[t], q02, a), odd[t] = dp(odd[t], q13, a + 2);
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)blk));
        for (int t = 0; t < nt; t++) {
            const __m512 sums = _mm512_cvtepi32_ps(_mm512_add_epi32(even[t], odd[t]));
            acc[t] = _mm512_fmadd_ps(sums, _mm512_mul_ps(dw, _mm512_set1_ps(d[t * blocks + b])), acc[t]);
        }
    }
    for (int t = 0; t < nt; t++) _mm512_storeu_ps(y + (size_t)t * ldy, acc[t]);
}

// q4_K sub-block j's 6-bit scale (or min, from the other dword pair) in every lane: lanes hold
// bytes 0–3 (lo), 4–7 (mid) and 8–11 (hi) of each row's packed scales (kquants.c's rule).
static inline AVX512_TARGET __m512i scale_of(int j, __m512i lo, __m512i hi, int shift_hi) {
    if (j < 4) return _mm512_and_si512(_mm512_srli_epi32(lo, 8 * j), _mm512_set1_epi32(63));
    const int i = j - 4;
    const __m512i low4 = _mm512_and_si512(_mm512_srli_epi32(hi, 8 * i + shift_hi), _mm512_set1_epi32(15));
    const __m512i top2 = _mm512_and_si512(_mm512_srli_epi32(lo, 8 * i + 6), _mm512_set1_epi32(3));
    return _mm512_or_si512(low4, _mm512_slli_epi32(top2, 4));
}

// q4_K: one group of 16 rows against nt ≤ 4 tokens.
static AVX512_TARGET __attribute__((always_inline)) inline void group_q4_K(
    const uint8_t *group, const int16_t *p, const float *d, const float *s, const int32_t *h16, int64_t k, const int nt,
    float *y, size_t ldy) {
    (void)h16;
    const int64_t blocks = k / 32;
    const __m512i low = _mm512_set1_epi32(0x000F000F);
    __m512 acc[MAX_GROUP_TOKENS], off[MAX_GROUP_TOKENS];
    for (int t = 0; t < nt; t++) acc[t] = off[t] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < k / 256; sb++) {
        // 32 bytes of d, 32 of dmin, 3 vectors of packed scales, 32 nibble vectors.
        const uint8_t *blk = group + (size_t)sb * GROUP * 144;
        const __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)blk));
        const __m512 dminv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + 32)));
        const __m512i s0 = _mm512_loadu_si512(blk + 64), s1 = _mm512_loadu_si512(blk + 128), s2 = _mm512_loadu_si512(blk + 192);
        // Unrolled so the scales' shift counts are immediates (no variable shifts, no branches).
#pragma clang loop unroll(full)
        for (int pair = 0; pair < 4; pair++) {
            const uint8_t *nib = blk + 256 + 512 * pair;
            // A quarter of the super-block's 2304 bytes ahead, headers included.
            for (int line = 0; line < 576; line += 64)
                _mm_prefetch((const char *)blk + PREFETCH_AHEAD + 576 * pair + line, PREFETCH_HINT);
            __m512i even[MAX_GROUP_TOKENS], odd[MAX_GROUP_TOKENS];
            for (int t = 0; t < nt; t++) even[t] = odd[t] = _mm512_setzero_si512();
            const int64_t b0 = sb * 8 + 2 * pair;   // activation blocks of sub-blocks 2·pair (low nibbles) and +1 (high)
            for (int v = 0; v < 8; v++) {
                const __m512i bytes = _mm512_loadu_si512(nib + 64 * v);
                NIBBLES(bytes, n0, n1, n2, n3);
                for (int t = 0; t < nt; t++) {
                    const int16_t *a = p + t * k + 32 * b0 + 4 * v;
                    even[t] = dp(even[t], n0, a), odd[t] = dp(odd[t], n1, a + 32);
                    even[t] = dp(even[t], n2, a + 2), odd[t] = dp(odd[t], n3, a + 34);
                }
            }
            for (int half = 0; half < 2; half++) {
                const int j = 2 * pair + half;
                const __m512 dsc = _mm512_mul_ps(dv, _mm512_cvtepi32_ps(scale_of(j, s0, s2, 0)));
                const __m512 dmm = _mm512_mul_ps(dminv, _mm512_cvtepi32_ps(scale_of(j, s1, s2, 4)));
                for (int t = 0; t < nt; t++) {
                    const __m512 sums = _mm512_cvtepi32_ps(half ? odd[t] : even[t]);
                    acc[t] = _mm512_fmadd_ps(sums, _mm512_mul_ps(dsc, _mm512_set1_ps(d[t * blocks + b0 + half])), acc[t]);
                    off[t] = _mm512_fmadd_ps(dmm, _mm512_set1_ps(-s[t * blocks + b0 + half]), off[t]);
                }
            }
        }
    }
    for (int t = 0; t < nt; t++) _mm512_storeu_ps(y + (size_t)t * ldy, _mm512_add_ps(acc[t], off[t]));
}

// q6_K: one group of 16 rows against nt ≤ 4 tokens. Element e = 128h + 32c + l of a super-block
// (kquants.c): code = (ql[64h + l + 32(c&1)] >> 4(c>>1) & 15) | (qh[32h + l] >> 2c & 3) << 4.
static AVX512_TARGET __attribute__((always_inline)) inline void group_q6_K(
    const uint8_t *group, const int16_t *p, const float *d, const float *s, const int32_t *h16, int64_t k, const int nt,
    float *y, size_t ldy) {
    (void)s;
    const int64_t blocks = k / 32;
    const __m512i low = _mm512_set1_epi32(0x000F000F), pairs = _mm512_set1_epi32(0x00300030);
    __m512 acc[MAX_GROUP_TOKENS];
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < k / 256; sb++) {
        // 32 vectors of low nibbles, 16 of high bit pairs, 4 of scales (32·64 B, 16·64, 4·64), 32 bytes of d.
        const uint8_t *blk = group + (size_t)sb * GROUP * 210;
        const __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(blk + 3328)));
        for (int h = 0; h < 2; h++) {
            // Unrolled so every shift count is an immediate (no variable shifts, no branches).
#pragma clang loop unroll(full)
            for (int c = 0; c < 4; c++) {
                __m512i first[MAX_GROUP_TOKENS], second[MAX_GROUP_TOKENS];
                for (int t = 0; t < nt; t++) first[t] = second[t] = _mm512_setzero_si512();
                const int64_t b = sb * 8 + 4 * h + c;   // the activation block of these 32 elements
                // An eighth of the super-block's 3360 bytes ahead, spread over the block.
                for (int line = 0; line < 448; line += 64)
                    _mm_prefetch((const char *)blk + PREFETCH_AHEAD + 448 * (4 * h + c) + line, PREFETCH_HINT);
                for (int v = 0; v < 8; v++) {
                    const __m512i src = _mm512_loadu_si512(blk + 64 * (16 * h + 8 * (c & 1) + v));
                    const __m512i hb = _mm512_loadu_si512(blk + 2048 + 64 * (8 * h + v));
                    const int ns = 4 * (c >> 1), hs = 2 * c;
                    // Bit pairs moved to bits 4–5 of each int16 lane (bytes 0 and 2; then 1 and 3).
                    const __m512i he = _mm512_and_si512(hs >= 4 ? _mm512_srli_epi32(hb, hs - 4) : _mm512_slli_epi32(hb, 4 - hs), pairs);
                    const __m512i ho = _mm512_and_si512(_mm512_srli_epi32(hb, hs + 4), pairs);
                    // (nibble & 15) | pair: vpternlogd with table 0xEC = (a & c) | b.
                    // The codes' offset of 32 is taken off the sums below, not here.
                    const __m512i ce = _mm512_ternarylogic_epi32(_mm512_srli_epi32(src, ns), he, low, 0xEC);
                    const __m512i co = _mm512_ternarylogic_epi32(_mm512_srli_epi32(src, ns + 8), ho, low, 0xEC);
                    for (int t = 0; t < nt; t++) {
                        const int16_t *a = p + t * k + 32 * b + 4 * v;
                        if (v < 4) first[t] = dp(dp(first[t], ce, a), co, a + 2);
                        else second[t] = dp(dp(second[t], ce, a), co, a + 2);
                    }
                }
                // int8 scales 8h + 2c and 8h + 2c + 1: bytes of the scale vectors, sign-extended.
                const int j = 8 * h + 2 * c;
                const __m512i sv = _mm512_loadu_si512(blk + 3072 + 64 * (j / 4));
                const __m512 sc0 = _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(sv, 24 - 8 * (j % 4)), 24));
                const __m512 sc1 = _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(sv, 16 - 8 * (j % 4)), 24));
                const __m512 ds0 = _mm512_mul_ps(dv, sc0), ds1 = _mm512_mul_ps(dv, sc1);
                for (int t = 0; t < nt; t++) {
                    // Σ (c − 32)·q = Σ c·q − 32·Σ q, Σ q per 16 activation quants from h16.
                    const int32_t *sums = h16 + t * (k / 16) + 2 * b;
                    first[t] = _mm512_sub_epi32(first[t], _mm512_set1_epi32(32 * sums[0]));
                    second[t] = _mm512_sub_epi32(second[t], _mm512_set1_epi32(32 * sums[1]));
                    const __m512 da = _mm512_set1_ps(d[t * blocks + b]);
                    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(first[t]), _mm512_mul_ps(ds0, da), acc[t]);
                    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(second[t]), _mm512_mul_ps(ds1, da), acc[t]);
                }
            }
        }
    }
    for (int t = 0; t < nt; t++) _mm512_storeu_ps(y + (size_t)t * ldy, acc[t]);
}

#define GROUP_CALL(FN)                                                                                     \
    switch (nt) { /* nt a constant in each call, so the per-token arrays stay in registers */              \
    case 4: FN(group, pt, dt, st, ht, k, 4, yt, ldy); break;                                                   \
    case 3: FN(group, pt, dt, st, ht, k, 3, yt, ldy); break;                                                   \
    case 2: FN(group, pt, dt, st, ht, k, 2, yt, ldy); break;                                                   \
    default: FN(group, pt, dt, st, ht, k, 1, yt, ldy); break;                                                  \
    }

static AVX512_TARGET void groups512(int kind, const uint8_t *w, size_t row_bytes, int64_t rows, const int16_t *p,
                                    const float *d, const float *s, const int32_t *h16, int64_t k, int64_t tokens,
                                    float *y, size_t ldy) {
    const int64_t blocks = k / 32;
    for (int64_t g = 0; g < rows / GROUP; g++) {
        const uint8_t *group = w + (size_t)g * GROUP * row_bytes;
        // Token groups of up to 4 on one row group: its 16 rows stay in L1/L2 for the next.
        for (int64_t t = 0; t < tokens; t += MAX_GROUP_TOKENS) {
            const int64_t nt = tokens - t < MAX_GROUP_TOKENS ? tokens - t : MAX_GROUP_TOKENS;
            const int16_t *pt = p + t * k;
            const float *dt = d + t * blocks, *st = s + t * blocks;
            const int32_t *ht = h16 + t * (k / 16);
            float *yt = y + (size_t)t * ldy + GROUP * g;
            switch (kind) {
            case IQ_Q4_0: GROUP_CALL(group_q4_0) break;
            case IQ_Q4_1: GROUP_CALL(group_q4_1) break;
            case IQ_Q8_0: GROUP_CALL(group_q8_0) break;
            case IQ_Q4_K: GROUP_CALL(group_q4_K) break;
            default: GROUP_CALL(group_q6_K) break;
            }
        }
    }
}

// Per-thread copy of the permuted quants (tokens × k), then for q6_K each token's sums of its
// quants per 16 (tokens × k/16 int32).
static _Thread_local void *permuted;
static _Thread_local size_t permuted_capacity;

static int fast_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                    const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    const int set = iq_kernel_set();
    if (set != IQ_SET_AVX512 && set != IQ_SET_AVX2) return 0;
    int16_t *quants = grow_scratch(&permuted, &permuted_capacity, ((size_t)(tokens * k) + (size_t)(tokens * k) / 8) * sizeof(int16_t));
    if (!quants) return 0;
    int32_t *h16 = (int32_t *)(quants + tokens * k);
    for (int64_t t = 0; t < tokens; t++) {
        permute_quants(kind, q + t * k, k, quants + t * k);
        for (int64_t i = 0; kind == IQ_Q6_K && i < k / 16; i++) {
            int32_t sum = 0;
            for (int e = 0; e < 16; e++) sum += q[t * k + 16 * i + e];
            h16[t * (k / 16) + i] = sum;
        }
    }
    if (set == IQ_SET_AVX512) groups512(kind, w, row_bytes, rows, quants, d, s, h16, k, tokens, y, ldy);
    else iq_x16_groups_avx2(kind, w, row_bytes, rows, quants, d, s, h16, k, tokens, y, ldy);
    return 1;
}
#else
static int fast_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                    const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    (void)kind, (void)w, (void)row_bytes, (void)rows, (void)q, (void)d, (void)s, (void)k, (void)tokens, (void)y, (void)ldy;
    return 0;
}
#endif

void iq_x16_dot_rows_q16_batch(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q,
                               const float *d, const float *s, int64_t k, int64_t tokens, float *y, size_t ldy) {
    if (fast_q16(kind, w, row_bytes, rows, q, d, s, k, tokens, y, ldy)) return;
    for (int64_t g = 0; g < rows / GROUP; g++)
        restored_group_dots(kind, (const uint8_t *)w + (size_t)g * GROUP * row_bytes, row_bytes, NULL, q, d, s, k, tokens,
                            y + GROUP * g, ldy);
}

void iq_x16_dot_rows_q16(int kind, const void *w, size_t row_bytes, int64_t rows, const int16_t *q, const float *d,
                         const float *s, int64_t k, float *y) {
    iq_x16_dot_rows_q16_batch(kind, w, row_bytes, rows, q, d, s, k, 1, y, 0);
}
