// Shared between gemm_int8.c (the prompt GEMM) and gemm_pack_x16.c; not part of the public header.
#ifndef IQUEST_GEMM_INTERNAL_H
#define IQUEST_GEMM_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

// One x16 group of `kind` (16 rows, k a multiple of the block size) as the GEMM's panel: codes
// [k/4][16][4] (unsigned bytes), mul/add [k/G][16] (G = 16 for q6_K, else 32), the same bytes
// and floats gemm_int8.c's pack_panel writes for the group's restored rows.
void iq_x16_pack_gemm_panel(int kind, const uint8_t *group, int64_t k, uint8_t *codes, float *mul, float *add);
#endif
