// One thread's speed of the x16 decode kernels (int16 or int8 activations) on random weights,
// for kernel work without the engine around it (docs/PERFORMANCE.md, "int8 decode rows").
//
// Build (after `swift build -c release`, against the package's own kernel objects):
//   clang -O2 -ISources/IQuestCKernels/include tools/x16_decode_bench.c \
//       .build/release/IQuestCKernels.build/*.o -lm -o x16_decode_bench
// Run: ./x16_decode_bench KIND ROWS TOKENS BITS [K]
//   KIND 0 = q4_0, k = q4_K, 6 = q6_K; BITS 16 or 8; K defaults to 5120 (the IQuest hidden size).
// Prints weight GB/s, GMAC/s (rows · K · tokens per second) and a checksum of the outputs (equal
// checksums: equal results, e.g. before and after a change that must not alter them).
#include "iquest_ckernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s 0|k|6 ROWS TOKENS 16|8 [K]\n", argv[0]);
        return 2;
    }
    const int kind = argv[1][0] == 'k' ? IQ_Q4_K : argv[1][0] == '0' ? IQ_Q4_0 : IQ_Q6_K;
    const int64_t rows = atol(argv[2]), tokens = atol(argv[3]), k = argc > 5 ? atol(argv[5]) : 5120;
    const int bits = atoi(argv[4]);
    if (rows <= 0 || rows % 16 || tokens <= 0 || k <= 0 || k % 256 || (bits != 8 && bits != 16)) {
        fprintf(stderr, "ROWS a multiple of 16, K of 256, TOKENS > 0, BITS 8 or 16\n");
        return 2;
    }
    const size_t row_bytes = kind == IQ_Q6_K ? k / 256 * 210 : kind == IQ_Q4_K ? k / 256 * 144 : k / 32 * 18;
    uint8_t *w = malloc(row_bytes * rows), *x16 = aligned_alloc(64, (row_bytes * rows + 63) / 64 * 64);
    float *x = malloc(sizeof(float) * k * tokens), *d = malloc(sizeof(float) * k * tokens / 32);
    float *s = malloc(sizeof(float) * k * tokens / 32), *y = malloc(sizeof(float) * rows * tokens);
    int16_t *q16 = aligned_alloc(64, 2 * k * tokens);
    int8_t *q8 = aligned_alloc(64, k * tokens);
    if (!w || !x16 || !x || !d || !s || !y || !q16 || !q8) return 1;
    srand(1);
    for (size_t i = 0; i < row_bytes * rows; i++) w[i] = (uint8_t)rand();
    // Sane f16 scales (0x1c00 ≈ 0.0039) over the random bytes.
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = w + r * row_bytes;
        if (kind == IQ_Q6_K) for (int64_t b = 0; b < k / 256; b++) row[b * 210 + 208] = 0, row[b * 210 + 209] = 0x1c;
        else if (kind == IQ_Q4_K) for (int64_t b = 0; b < k / 256; b++) row[b * 144] = row[b * 144 + 2] = 0, row[b * 144 + 1] = row[b * 144 + 3] = 0x1c;
        else for (int64_t b = 0; b < k / 32; b++) row[b * 18] = 0, row[b * 18 + 1] = 0x1c;
    }
    iq_x16_interleave(kind, w, row_bytes, rows, k, x16);
    for (int64_t i = 0; i < k * tokens; i++) x[i] = (float)(rand() % 2001 - 1000) / 1000.0f;
    if (bits == 8) iq_quantize_q8(x, k * tokens, q8, d, s);
    else iq_quantize_q16(x, k * tokens, q16, d, s);
    int passes = (int)(2e9 / ((double)row_bytes * rows * tokens));
    if (passes < 3) passes = 3;
    double best = 1e9;
    for (int rep = 0; rep < 7; rep++) {
        const double t0 = now();
        for (int n = 0; n < passes; n++) {
            if (bits == 8) iq_x16_dot_rows_q8_batch(kind, x16, row_bytes, rows, q8, d, s, k, tokens, y, rows);
            else iq_x16_dot_rows_q16_batch(kind, x16, row_bytes, rows, q16, d, s, k, tokens, y, rows);
        }
        const double t = (now() - t0) / passes;
        if (t < best) best = t;
    }
    double check = 0;
    for (int64_t i = 0; i < rows * tokens; i++) check += y[i] * (double)(i % 7 + 1);
    printf("%s int%d rows %ld tokens %ld K %ld: %.2f GB/s  %.1f GMAC/s (%.3f ms) check %.6e\n",
           kind == IQ_Q6_K ? "q6_K" : kind == IQ_Q4_K ? "q4_K" : "q4_0", bits, (long)rows, (long)tokens, (long)k,
           row_bytes * rows / best / 1e9, rows * k * tokens / best / 1e9, best * 1e3, check);
    return 0;
}
