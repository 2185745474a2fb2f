import Foundation
import IQuestKernels
import Testing

/// `linear` (y = x·Wᵀ) for every weight kind against a naive double-precision product over the
/// scalar-decoded weights; covers the decode path (M < 4) and the panel path (M ≥ 4), row counts
/// that are not multiples of the panel height, and thread splits.
@Suite struct LinearTests {
    static let tokenCounts = [1, 2, 3, 4, 5, 9, 17, 40]
    /// (N output rows, K columns): N = 37 is not a multiple of the panel width or the decode
    /// granule; K = 1216 spans three K passes of the prompt path (408 + 408 + 400), and
    /// M = 40 several token tiles.
    static let shapes = [(n: 37, k: 160), (n: 1, k: 32), (n: 8, k: 96), (n: 13, k: 64), (n: 16, k: 288), (n: 21, k: 576),
                         (n: 19, k: 1216)]

    struct Result {
        var y: [Float]
        var guardIntact: Bool
    }

    /// Runs `linear` with a guard region after y to catch out-of-bounds writes.
    static func run(_ x: [Float], m: Int, bytes: [UInt8], kind: WeightKind, n: Int, k: Int, threads: Int) -> Result {
        let guardCount = 64
        var y = [Float](repeating: .nan, count: m * n + guardCount)
        for i in (m * n)..<(m * n + guardCount) { y[i] = -777 }
        bytes.withUnsafeBytes { w in
            let matrix = WeightMatrix(kind: kind, rows: n, columns: k, base: w.baseAddress!)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    linear(xp.baseAddress!, rows: m, weights: matrix, into: yp.baseAddress!, pool: ComputePool(threads: threads))
                }
            }
        }
        let intact = y[(m * n)...].allSatisfy { $0 == -777 }
        return Result(y: Array(y[0..<(m * n)]), guardIntact: intact)
    }

    @Test(arguments: WeightKind.allCases)
    func matchesNaiveProduct(kind: WeightKind) {
        var rng = TestRNG(seed: 0x11EA5 &+ UInt64(WeightKind.allCases.firstIndex(of: kind)!) &* 7919)
        var worst = 0.0
        for (n, k) in Self.shapes where k % kind.blockSize == 0 || kind.blockSize > 32 {
            let k = kind.blockSize > 32 ? (k + 255) / 256 * 256 : k  // k-quants: 160 → 256, 576 → 768
            let bytes = randomWeightBytes(kind, rows: n, columns: k, rng: &rng)
            let rowBytes = kind.rowBytes(columns: k)
            let w: [[Double]] = (0..<n).map { r in
                referenceDecode(kind, Array(bytes[(r * rowBytes)..<((r + 1) * rowBytes)]), count: k)
            }
            for m in Self.tokenCounts {
                let x = rng.floats(m * k, -2, 2)
                var reference = [Double](repeating: 0, count: m * n)
                var magnitude = [Double](repeating: 0, count: m * n)
                for t in 0..<m {
                    for r in 0..<n {
                        var s = 0.0, a = 0.0
                        for c in 0..<k {
                            let p = Double(x[t * k + c]) * w[r][c]
                            s += p
                            a += abs(p)
                        }
                        reference[t * n + r] = s
                        magnitude[t * n + r] = a
                    }
                }
                var byThreads: [[Float]] = []
                for threads in [1, 2, 3] {
                    let result = Self.run(x, m: m, bytes: bytes, kind: kind, n: n, k: k, threads: threads)
                    #expect(result.guardIntact, "\(kind) M=\(m) N=\(n) K=\(k) threads=\(threads): wrote past y")
                    var bad: [String] = []
                    for i in 0..<(m * n) {
                        let err = abs(Double(result.y[i]) - reference[i])
                        let bound = 1e-5 * magnitude[i] + 1e-30
                        worst = max(worst, err / max(magnitude[i], 1e-30))
                        if !(err <= bound), bad.count < 4 {
                            bad.append("y[\(i / n)][\(i % n)] = \(result.y[i]), expected \(reference[i])")
                        }
                    }
                    #expect(bad.isEmpty, "\(kind) M=\(m) N=\(n) K=\(k) threads=\(threads): \(bad.joined(separator: "; "))")
                    byThreads.append(result.y)
                }
                // Each output is one row's dot product, so the thread split must not change it
                // beyond accumulation-order rounding.
                for i in 1..<byThreads.count {
                    for j in 0..<(m * n) {
                        let d = abs(Double(byThreads[i][j]) - Double(byThreads[0][j]))
                        #expect(d <= 1e-6 * magnitude[j] + 1e-30,
                                "\(kind) M=\(m) N=\(n): threads \(i + 1) vs 1 differ at \(j): \(byThreads[i][j]) vs \(byThreads[0][j])")
                    }
                }
            }
        }
        print("linear \(kind): worst error / Σ|x·w| = \(worst)")
    }

    /// A weight matrix that is a sub-range of a larger buffer (the layout of a tensor inside a
    /// mapped file): rows must be read from `base`, `rowBytes` apart, nothing before or after.
    @Test(arguments: [WeightKind.q4_1, .q8_0, .f16, .f32])
    func readsOnlyItsOwnRows(kind: WeightKind) {
        var rng = TestRNG(seed: 4242)
        let n = 11, k = 64
        let rowBytes = kind.rowBytes(columns: k)
        let real = randomWeightBytes(kind, rows: n, columns: k, rng: &rng)
        // Garbage before and after: large-scaled blocks that would dominate any wrong read.
        let garbage = [UInt8](repeating: 0x7B, count: 3 * rowBytes)
        let buffer = garbage + real + garbage
        let x = rng.floats(5 * k)
        for m in [1, 5] {
            let y: [Float] = buffer.withUnsafeBytes { raw in
                let matrix = WeightMatrix(kind: kind, rows: n, columns: k, base: raw.baseAddress! + garbage.count)
                var y = [Float](repeating: 0, count: m * n)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer {
                        linear(xp.baseAddress!, rows: m, weights: matrix, into: $0.baseAddress!, pool: ComputePool(threads: 2))
                    }
                }
                return y
            }
            for t in 0..<m {
                for r in 0..<n {
                    let w = referenceDecode(kind, Array(real[(r * rowBytes)..<((r + 1) * rowBytes)]), count: k)
                    var s = 0.0, a = 0.0
                    for c in 0..<k { s += Double(x[t * k + c]) * w[c]; a += abs(Double(x[t * k + c]) * w[c]) }
                    #expect(abs(Double(y[t * n + r]) - s) <= 1e-5 * a + 1e-30, "\(kind) M=\(m) y[\(t)][\(r)]")
                }
            }
        }
    }
}
