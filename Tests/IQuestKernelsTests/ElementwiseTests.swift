import Foundation
import IQuestKernels
import Testing

/// exp8, softmax, RMSNorm and the SwiGLU gate against double-precision references.
@Suite struct ElementwiseTests {
    /// Applies exp8 to xs (padded to a multiple of 8).
    static func exp8All(_ xs: [Float]) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(xs.count + 8)
        var i = 0
        while i < xs.count {
            var v = SIMD8<Float>(repeating: 0)
            for l in 0..<8 where i + l < xs.count { v[l] = xs[i + l] }
            let e = exp8(v)
            for l in 0..<8 where i + l < xs.count { out.append(e[l]) }
            i += 8
        }
        return out
    }

    /// ln(Float.greatestFiniteMagnitude): above it e^x overflows f32.
    static let overflowThreshold = log(Double(Float.greatestFiniteMagnitude))

    @Test func exp8MatchesExpOverItsRange() {
        // Step 1/1024 over [-90, 88.25] (every input there has a finite f32 result or is below
        // the flush-to-zero threshold), plus the exact boundary values.
        var xs: [Float] = stride(from: -90.0, through: 88.25, by: 1.0 / 1024).map { Float($0) }
        xs += [-87.3, -87.29999, -87.30001, 0, -0, 1e-8, -1e-8, 88.0]
        let got = Self.exp8All(xs)
        var worst = 0.0, worstAt: Float = 0
        for (x, e) in zip(xs, got) {
            if x < Float(-87.3) {
                #expect(e == 0, "exp8(\(x)) = \(e), expected 0 below -87.3")
                continue
            }
            let reference = Foundation.exp(Double(x))
            let rel = abs(Double(e) - reference) / reference
            if rel > worst { worst = rel; worstAt = x }
        }
        print("exp8: worst relative error \(worst) at x = \(worstAt)")
        #expect(worst <= 1e-6, "exp8 worst relative error \(worst) at x = \(worstAt)")
    }

    /// Between ln(2^127.5) ≈ 88.376 and ln(FLT_MAX) ≈ 88.7228, e^x is a finite float; exp8 must
    /// not overflow there. Above ln(FLT_MAX) it must give +inf (or at least not a small number).
    @Test func exp8NearOverflow() {
        let xs: [Float] = stride(from: 88.25, through: 89.0, by: 1.0 / 4096).map { Float($0) }
        let got = Self.exp8All(xs)
        var failures: [String] = []
        for (x, e) in zip(xs, got) {
            let reference = Foundation.exp(Double(x))
            if Double(x) < Self.overflowThreshold - 1e-5 {
                let rel = abs(Double(e) - reference) / reference
                if !(e.isFinite && rel <= 1e-6), failures.count < 5 {
                    failures.append("exp8(\(x)) = \(e), expected \(Float(reference))")
                }
            } else if Double(x) > Self.overflowThreshold + 1e-5 {
                if !(e >= Float.greatestFiniteMagnitude), failures.count < 5 {
                    failures.append("exp8(\(x)) = \(e), expected +inf (e^x overflows f32)")
                }
            }
        }
        #expect(failures.isEmpty, "exp8 near the top of the f32 range: \(failures.joined(separator: "; "))")
    }

    static func softmaxReference(_ x: [Float]) -> [Double] {
        let m = Double(x.max()!)
        let e = x.map { Foundation.exp(Double($0) - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    @Test(arguments: [1, 2, 7, 8, 9, 16, 33, 100, 1000, 49152])
    func softmaxMatchesReference(count: Int) {
        var rng = TestRNG(seed: UInt64(count))
        for spread: Float in [1, 20, 200] {
            var x = rng.floats(count, -spread, spread)
            if count > 3 { x[count / 2] = spread * 1.5 }   // one dominant value
            let reference = Self.softmaxReference(x)
            x.withUnsafeMutableBufferPointer { softmaxInPlace($0.baseAddress!, count: count) }
            let sum = x.reduce(0.0) { $0 + Double($1) }
            #expect(abs(sum - 1) <= 1e-5, "count \(count) spread \(spread): sum \(sum)")
            var bad = 0
            var worst = 0.0
            for i in 0..<count {
                let err = abs(Double(x[i]) - reference[i])
                worst = max(worst, err)
                // fp32 accumulation of the normaliser over long rows costs ~√n·2⁻²⁴ relative.
                if !(err <= 1e-5 * reference[i] + 1e-8) || x[i] < 0 { bad += 1 }
            }
            #expect(bad == 0, "count \(count) spread \(spread): \(bad) values off, worst abs err \(worst)")
        }
    }

    @Test func softmaxHandlesLargeAndEqualInputs() {
        // Large magnitudes must not overflow (max subtraction); equal inputs give uniform output.
        var x: [Float] = [1000, 999, 998, -1000, 1000, 0, 0, 0, 0, 0, 0]
        let reference = Self.softmaxReference(x)
        x.withUnsafeMutableBufferPointer { softmaxInPlace($0.baseAddress!, count: $0.count) }
        #expect(x.allSatisfy { $0.isFinite })
        #expect(maxAbsDiff(x, reference) <= 1e-6)
        var u = [Float](repeating: 3.5, count: 24)
        u.withUnsafeMutableBufferPointer { softmaxInPlace($0.baseAddress!, count: 24) }
        #expect(u.allSatisfy { abs($0 - 1.0 / 24) <= 1e-7 })
    }

    @Test(arguments: [8, 16, 37, 64, 576, 2048])
    func rmsNormMatchesReference(count: Int) {
        var rng = TestRNG(seed: 0xA0 &+ UInt64(count))
        for (scale, eps): (Float, Float) in [(1, 1e-5), (0.001, 1e-6), (30, 1e-5), (0, 1e-5)] {
            let x = rng.floats(count, -1, 1).map { $0 * scale }
            let w = rng.floats(count, 0.5, 1.5)
            var out = [Float](repeating: .nan, count: count)
            x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    out.withUnsafeMutableBufferPointer {
                        rmsNorm(xp.baseAddress!, weight: wp.baseAddress!, eps: eps, into: $0.baseAddress!, count: count)
                    }
                }
            }
            let meanSquare = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(count)
            let inv = 1 / (meanSquare + Double(eps)).squareRoot()
            var worst = 0.0
            for i in 0..<count {
                let reference = Double(x[i]) * inv * Double(w[i])
                worst = max(worst, abs(Double(out[i]) - reference) / max(abs(reference), 1e-3))
            }
            #expect(worst <= 2e-6, "rmsNorm n=\(count) scale=\(scale) eps=\(eps): worst relative error \(worst)")
        }
    }

    @Test(arguments: [1, 7, 8, 13, 64, 1536])
    func siluMultiplyMatchesReference(count: Int) {
        var rng = TestRNG(seed: 0x5117 &+ UInt64(count))
        var a = rng.floats(count, -12, 12)
        if count > 2 { a[0] = -100; a[1] = 100 }
        let b = rng.floats(count, -2, 2)
        let reference = zip(a, b).map { g, u in Double(g) / (1 + Foundation.exp(-Double(g))) * Double(u) }
        a.withUnsafeMutableBufferPointer { ap in
            b.withUnsafeBufferPointer { siluMultiply(ap.baseAddress!, $0.baseAddress!, count: count) }
        }
        for i in 0..<count {
            #expect(abs(Double(a[i]) - reference[i]) <= 1e-6 * abs(reference[i]) + 1e-7,
                    "silu·u at \(i): \(a[i]) vs \(reference[i])")
        }
    }

    @Test func addInPlaceAdds() {
        var a: [Float] = (0..<19).map { Float($0) }
        let b: [Float] = (0..<19).map { Float($0) * 0.5 - 3 }
        a.withUnsafeMutableBufferPointer { ap in b.withUnsafeBufferPointer { addInPlace(ap.baseAddress!, $0.baseAddress!, count: 19) } }
        #expect(a == (0..<19).map { Float($0) * 1.5 - 3 })
    }

    @Test func dotMatchesReference() {
        var rng = TestRNG(seed: 8)
        for n in [8, 16, 24, 64, 72, 200] {
            let a = rng.floats(n), b = rng.floats(n)
            let reference = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let magnitude = zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            let got = a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { dot(ap.baseAddress!, $0.baseAddress!, n) } }
            #expect(abs(Double(got) - reference) <= 1e-6 * magnitude, "dot n=\(n)")
        }
    }
}
