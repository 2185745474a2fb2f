import Foundation

// Encoding f32 rows into the stored kinds, following ggml's reference quantizers (the format's
// definition, so files written here decode identically in llama.cpp):
//   q8_0: d = max|x| / 127,                         q = round(x / d)
//   q4_0: m = the x with the largest |x| (signed),  d = m / −8,  q = min(15, trunc(x/d + 8.5))
//   q4_1: d = (max − min) / 15,                     q = min(15, trunc((x − min)/d + 0.5)), m = min
// Scales are stored as f16 and a zero scale encodes all zeros. bf16 rounds to nearest even.
// q4_K / q6_K: QuantizeKQuants.swift.

/// Encodes `count` f32 values (a multiple of the kind's block size) into `dst`, which must hold
/// `kind.rowBytes(columns: count)` bytes.
public func quantizeRow(_ kind: WeightKind, _ src: UnsafePointer<Float>, count: Int, into dst: UnsafeMutableRawPointer) {
    switch kind {
    case .f32:
        dst.copyMemory(from: src, byteCount: count * 4)
    case .f16:
        for i in 0..<count { dst.storeBytes(of: Float16(src[i]).bitPattern, toByteOffset: 2 * i, as: UInt16.self) }
    case .bf16:
        for i in 0..<count { dst.storeBytes(of: bfloat16Bits(src[i]), toByteOffset: 2 * i, as: UInt16.self) }
    case .q8_0:
        for b in 0..<(count / 32) { quantizeQ8_0(src + 32 * b, dst + 34 * b) }
    case .q4_0:
        for b in 0..<(count / 32) { quantizeQ4_0(src + 32 * b, dst + 18 * b) }
    case .q4_1:
        for b in 0..<(count / 32) { quantizeQ4_1(src + 32 * b, dst + 20 * b) }
    case .q4_K:
        for b in 0..<(count / 256) { quantizeQ4_K(src + 256 * b, dst + 144 * b) }
    case .q6_K:
        for b in 0..<(count / 256) { quantizeQ6_K(src + 256 * b, dst + 210 * b) }
    }
}

/// f32 → bf16 bits, round to nearest even; NaN stays a (quiet) NaN.
public func bfloat16Bits(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: rounded >> 16)
}

/// `Int(v)` (truncation) clamped to lo…hi; NaN gives lo. Plain `Int(_:)` would trap on NaN or
/// infinities, and a checkpoint may contain them.
@inline(__always) private func truncatedClamped(_ v: Float, _ lo: Int, _ hi: Int) -> Int {
    v.isNaN ? lo : Int(max(Float(lo), min(Float(hi), v)))
}

private func storeHalf(_ value: Float, _ p: UnsafeMutableRawPointer) {
    p.storeBytes(of: Float16(value).bitPattern, as: UInt16.self)
}

private func quantizeQ8_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
    var amax: Float = 0
    for i in 0..<32 { amax = max(amax, abs(x[i])) }
    let d = amax / 127
    let id: Float = d != 0 ? 1 / d : 0
    storeHalf(d, out)
    for i in 0..<32 {
        out.storeBytes(of: Int8(truncatedClamped((x[i] * id).rounded(.toNearestOrAwayFromZero), -127, 127)), toByteOffset: 2 + i, as: Int8.self)
    }
}

private func quantizeQ4_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
    var amax: Float = 0, signedMax: Float = 0
    for i in 0..<32 where abs(x[i]) > amax {
        amax = abs(x[i])
        signedMax = x[i]
    }
    let d = signedMax / -8
    let id: Float = d != 0 ? 1 / d : 0
    storeHalf(d, out)
    for j in 0..<16 {
        let lo = truncatedClamped(x[j] * id + 8.5, 0, 15)
        let hi = truncatedClamped(x[j + 16] * id + 8.5, 0, 15)
        out.storeBytes(of: UInt8(lo | (hi << 4)), toByteOffset: 2 + j, as: UInt8.self)
    }
}

private func quantizeQ4_1(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
    var lo = Float.infinity, hi = -Float.infinity
    for i in 0..<32 {
        lo = min(lo, x[i])
        hi = max(hi, x[i])
    }
    let d = (hi - lo) / 15
    let id: Float = d != 0 ? 1 / d : 0
    storeHalf(d, out)
    storeHalf(lo, out + 2)
    for j in 0..<16 {
        let a = truncatedClamped((x[j] - lo) * id + 0.5, 0, 15)
        let b = truncatedClamped((x[j + 16] - lo) * id + 0.5, 0, 15)
        out.storeBytes(of: UInt8(a | (b << 4)), toByteOffset: 4 + j, as: UInt8.self)
    }
}
