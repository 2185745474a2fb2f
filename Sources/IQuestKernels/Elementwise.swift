import Foundation

/// out[i] = x[i] / sqrt(mean(x²) + eps) · weight[i], over one row of n values (fp32 throughout,
/// as the Llama reference computes it).
public func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float,
                    into out: UnsafeMutablePointer<Float>, count n: Int) {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        acc = acc.addingProduct(v, v)
        i += 8
    }
    var sum = acc.sum()
    while i < n { sum += x[i] * x[i]; i += 1 }
    let scale = 1 / (sum / Float(n) + eps).squareRoot()
    for j in 0..<n { out[j] = (x[j] * scale) * weight[j] }
}

/// a[i] = silu(a[i]) · b[i], the SwiGLU gate: silu(g) = g · sigmoid(g).
public func siluMultiply(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) {
    var i = 0
    let one = SIMD8<Float>(repeating: 1)
    while i + 8 <= n {
        let g = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
        let u = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        let s = g / (one + exp8(-g))
        UnsafeMutableRawPointer(a + i).storeBytes(of: s * u, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        let g = a[i]
        a[i] = g / (1 + Foundation.exp(-g)) * b[i]
        i += 1
    }
}

/// a[i] += b[i].
public func addInPlace(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) {
    for i in 0..<n { a[i] += b[i] }
}

/// In-place softmax over n values; returns nothing, leaves probabilities summing to 1.
public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    let sum = exponentiate(x, count: n, minus: rowMaximum(x, count: n))
    let inv = 1 / sum
    for j in 0..<n { x[j] *= inv }
}

/// The largest of n values (8 lanes at a time).
@inline(__always)
func rowMaximum(_ x: UnsafePointer<Float>, count n: Int) -> Float {
    var v8 = SIMD8<Float>(repeating: -.infinity)
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        v8 = v8.replacing(with: v, where: v .> v8)
        i += 8
    }
    var mx = v8.max()
    while i < n { mx = max(mx, x[i]); i += 1 }
    return mx
}

/// x[i] = e^(x[i] − shift) in place; returns Σ x[i]. −∞ entries become exactly 0.
@inline(__always)
func exponentiate(_ x: UnsafeMutablePointer<Float>, count n: Int, minus shift: Float) -> Float {
    let s8 = SIMD8<Float>(repeating: shift)
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        let e = exp8(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - s8)
        UnsafeMutableRawPointer(x + i).storeBytes(of: e, as: SIMD8<Float>.self)
        acc += e
        i += 8
    }
    var sum = acc.sum()
    while i < n { x[i] = Foundation.exp(x[i] - shift); sum += x[i]; i += 1 }
    return sum
}

/// e^x for 8 lanes: x = k·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 polynomial, 2^k through the
/// exponent bits. Relative error ≈ 2e-7; inputs below −87.3 give 0, above ln(FLT_MAX) inf.
@inline(__always)
public func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    // Written as replacing(with:where:) because pointwiseMin/Max are not inlined.
    let lo = SIMD8<Float>(repeating: -87.3), hi = SIMD8<Float>(repeating: 89)
    let clamped = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
    // Adding 1.5·2²³ rounds to an integer held in the low mantissa bits (no int↔float
    // conversion instructions: Swift's SIMD conversions compile to per-lane code).
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let shifted = magic.addingProduct(clamped, SIMD8(repeating: 1.44269504088896341))
    let k = shifted - magic
    // r = x − k·ln2 in two steps (Cody–Waite) to keep r exact.
    var r = clamped.addingProduct(k, SIMD8(repeating: -0.693359375))
    r = r.addingProduct(k, SIMD8(repeating: 2.12194440e-4))
    // Horner form of 1 + r + r²/2 + … + r⁶/720.
    var p = SIMD8<Float>(repeating: 1.0 / 120).addingProduct(SIMD8(repeating: 1.0 / 720), r)
    p = SIMD8<Float>(repeating: 1.0 / 24).addingProduct(p, r)
    p = SIMD8<Float>(repeating: 1.0 / 6).addingProduct(p, r)
    p = SIMD8<Float>(repeating: 0.5).addingProduct(p, r)
    p = SIMD8<Float>(repeating: 1).addingProduct(p, r)
    p = SIMD8<Float>(repeating: 1).addingProduct(p, r)
    let ki = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    // 2^k as 2^(k/2) · 2^(k − k/2): k reaches 128 near the top of the float range (the product
    // then overflows to inf as exp does) and −126 at the bottom, where one factor would not fit.
    let k1 = ki &>> 1, k2 = ki &- k1
    let scale1 = unsafeBitCast((k1 &+ 127) &<< 23, to: SIMD8<Float>.self)
    let scale2 = unsafeBitCast((k2 &+ 127) &<< 23, to: SIMD8<Float>.self)
    let result = (p * scale1) * scale2
    return result.replacing(with: 0, where: x .< -87.3)
}
