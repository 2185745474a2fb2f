// IEEE binary16 → f32 in plain C, for the kernels' portable fallbacks (no F16C).
#ifndef IQUEST_HALF_SCALAR_H
#define IQUEST_HALF_SCALAR_H

#include <stdint.h>
#include <string.h>

static inline float iq_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    if (exp == 0) {
        if (mant == 0) bits = sign;
        else {
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) { mant <<= 1; exp--; }
            bits = sign | (exp << 23) | ((mant & 0x3FF) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7F800000 | (mant << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// The little-endian binary16 at p.
static inline float iq_half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return iq_half_to_float(h);
}

#endif
