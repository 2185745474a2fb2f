// Which kernel set this process runs: the CPU's features, read once (CPUID plus XGETBV, so a
// feature whose registers the OS does not save counts as absent), and the set chosen from them.
//
// Sets, from lowest to highest (iq_kernel_set):
//   IQ_SET_SCALAR  portable C for the integer decode and prompt kernels (a reference path; the
//                  rest of the binary still needs AVX2, which it is compiled for)
//   IQ_SET_AVX2    AVX2 + FMA + F16C: vpmaddwd / vpmaddubsw integer products (the baseline)
//   IQ_SET_AVX512  AVX-512 F/BW/VL with VNNI: vpdpwssd decode, vpdpbusd prompt GEMM
// The chosen set is the highest the CPU has, or a lower one named by the IQUEST_KERNELS
// environment variable or asked for with iq_kernel_set_select (the CLI's --kernels). A set the
// CPU lacks can never be selected, so no instruction the CPU lacks is ever executed.
#include "iquest_ckernels.h"
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

int iq_active_kernel_set = -1;
_Thread_local int iq_thread_kernel_set = -1;

static unsigned detect_features(void) {
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    const int ymm_saved = (lo & 0x6) == 0x6;        // XMM and YMM state
    const int zmm_saved = (lo & 0xE6) == 0xE6;      // plus opmask, ZMM_Hi256, Hi16_ZMM
    if (!ymm_saved) return 0;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    if (avx2 && fma && f16c) f |= IQ_FEATURE_AVX2;
    if (zmm_saved && ((b >> 16) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1)) f |= IQ_FEATURE_AVX512;  // F, BW, VL
    if (zmm_saved && ((c >> 11) & 1)) f |= IQ_FEATURE_AVX512_VNNI;
    __cpuid_count(7, 1, a, b, c, d);
    if ((a >> 4) & 1) f |= IQ_FEATURE_AVX_VNNI;
    if (zmm_saved && ((a >> 5) & 1)) f |= IQ_FEATURE_AVX512_BF16;
#endif
    return f;
}

unsigned iq_cpu_features(void) {
    static unsigned cached = 0xFFFFFFFFu;
    if (cached == 0xFFFFFFFFu) cached = detect_features();
    return cached;
}

int iq_kernel_set_supported(int set) {
    const unsigned f = iq_cpu_features();
    switch (set) {
    case IQ_SET_SCALAR: return 1;
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
    case IQ_SET_AVX2: return (f & IQ_FEATURE_AVX2) != 0;
    case IQ_SET_AVX512:
        return (f & IQ_FEATURE_AVX2) && (f & IQ_FEATURE_AVX512) && (f & IQ_FEATURE_AVX512_VNNI);
#endif
    default: return 0;
    }
}

int iq_kernel_set_best(void) {
    for (int s = IQ_SET_AVX512; s > IQ_SET_SCALAR; s--)
        if (iq_kernel_set_supported(s)) return s;
    return IQ_SET_SCALAR;
}

int iq_kernel_set_initial(void) {
    const char *name = getenv("IQUEST_KERNELS");
    if (name && *name)
        for (int set = IQ_SET_SCALAR; set <= IQ_SET_AVX512; set++)
            if (strcmp(name, iq_kernel_set_name(set)) == 0 && iq_kernel_set_supported(set)) return set;
    return iq_kernel_set_best();
}

int iq_kernel_set_override_thread(int set) {
    if (set >= 0 && !iq_kernel_set_supported(set)) return 0;
    iq_thread_kernel_set = set;
    return 1;
}

int iq_kernel_set_select(int set) {
    if (!iq_kernel_set_supported(set)) return 0;
    iq_active_kernel_set = set;
    return 1;
}

const char *iq_kernel_set_name(int set) {
    switch (set) {
    case IQ_SET_SCALAR: return "scalar";
    case IQ_SET_AVX2: return "avx2";
    case IQ_SET_AVX512: return "avx512-vnni";
    default: return "unknown";
    }
}
