import Foundation
import IQuestKernels
import Testing

// Batch invariance of the products (continuous batching): a token's result must not depend on
// which other tokens share the step. Every comparison here is of Float bit patterns.
// - ProductPath.decode over M tokens (plain, fused Q/K/V, gate/up + SwiGLU) against M separate
//   one-token calls, for every weight kind × activation precision;
// - ProductPath.prompt (GEMM): a row of a 13-row product against 1- and 3-row products holding
//   it, including K long enough to be split into passes;
// - the multi-token integer kernels against the double-precision reference.

/// A weight matrix's stored bytes, kept alive with the matrix that points into them.
final class StoredMatrix {
    let kind: WeightKind
    let rows: Int
    let columns: Int
    private let storage: UnsafeMutableRawBufferPointer
    let matrix: WeightMatrix

    init(_ kind: WeightKind, rows: Int, columns: Int, rng: inout TestRNG) {
        self.kind = kind
        self.rows = rows
        self.columns = columns
        let bytes = randomWeightBytes(kind, rows: rows, columns: columns, rng: &rng)
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 64)
        bytes.withUnsafeBytes { storage.copyMemory(from: $0) }
        self.storage = storage
        matrix = WeightMatrix(kind: kind, rows: rows, columns: columns, base: UnsafeRawPointer(storage.baseAddress!))
    }

    deinit { storage.deallocate() }
}

@Suite struct BatchInvarianceTests {
    static let tokenCounts = [1, 2, 3, 4, 5, 8, 9, 17]
    static let cases = WeightKind.allCases.flatMap { kind in ActivationPrecision.allCases.map { (kind, $0) } }
    static let threadCounts = [1, 2]

    /// K for a kind: a multiple of 256 for the k-quants.
    static func columns(_ kind: WeightKind, small: Bool) -> Int {
        kind.blockSize == 256 ? (small ? 256 : 768) : (small ? 96 : 608)
    }

    static func bits(_ y: [Float]) -> [UInt32] { y.map(\.bitPattern) }

    /// y = linear(x [m, K]) as [m, N].
    static func product(_ x: [Float], m: Int, _ w: StoredMatrix, threads: Int, precision: ActivationPrecision,
                        path: ProductPath) -> [Float] {
        var y = [Float](repeating: .nan, count: m * w.rows)
        let scratch = QuantizedActivations(precision)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                linear(xp.baseAddress!, rows: m, weights: w.matrix, into: yp.baseAddress!,
                       pool: ComputePool(threads: threads), quantized: scratch, path: path)
            }
        }
        return y
    }

    /// Token t of x [m, K].
    static func token(_ x: [Float], _ t: Int, k: Int) -> [Float] { Array(x[(t * k)..<((t + 1) * k)]) }

    @Test(arguments: cases)
    func decodeMatchesOneTokenAtATime(kind: WeightKind, precision: ActivationPrecision) {
        var rng = TestRNG(seed: 0xBA7C4 &+ UInt64(WeightKind.allCases.firstIndex(of: kind)!) &* 31)
        // N = 37 and 70: not multiples of 4 or 16; 70 rows also span several row chunks.
        for (n, small) in [(37, true), (70, false)] {
            let k = Self.columns(kind, small: small)
            let w = StoredMatrix(kind, rows: n, columns: k, rng: &rng)
            for threads in Self.threadCounts {
                for m in Self.tokenCounts {
                    let x = rng.floats(m * k, -2, 2)
                    let batched = Self.product(x, m: m, w, threads: threads, precision: precision, path: .decode)
                    for t in 0..<m {
                        let alone = Self.product(Self.token(x, t, k: k), m: 1, w, threads: threads, precision: precision,
                                                 path: .automatic)
                        let got = Array(batched[(t * n)..<((t + 1) * n)])
                        #expect(Self.bits(got) == Self.bits(alone),
                                "\(kind) \(precision) N \(n) K \(k) M \(m) token \(t) threads \(threads)")
                    }
                    if m < 4 {
                        // .automatic takes the same kernels below 4 tokens.
                        let automatic = Self.product(x, m: m, w, threads: threads, precision: precision, path: .automatic)
                        #expect(Self.bits(automatic) == Self.bits(batched), "\(kind) \(precision) automatic M \(m)")
                    }
                }
            }
        }
    }

    /// Fused Q/K/V (three row counts, one input) and gate/up + SwiGLU over M tokens against the
    /// same calls for each token alone.
    @Test(arguments: cases)
    func fusedDecodeMatchesOneTokenAtATime(kind: WeightKind, precision: ActivationPrecision) {
        var rng = TestRNG(seed: 0xF05ED &+ UInt64(WeightKind.allCases.firstIndex(of: kind)!) &* 131)
        let k = Self.columns(kind, small: true)
        // Q/K/V of different kinds where possible: a float matrix next to an integer one exercises
        // the mixed pass (the input is quantized for one and not the other).
        let q = StoredMatrix(kind, rows: 70, columns: k, rng: &rng)
        let kv = StoredMatrix(kind, rows: 37, columns: k, rng: &rng)
        let v = StoredMatrix(kind.blockSize == 256 ? .f16 : .q8_0, rows: 21, columns: k, rng: &rng)
        let gate = StoredMatrix(kind, rows: 70, columns: k, rng: &rng)
        let up = StoredMatrix(kind, rows: 70, columns: k, rng: &rng)

        func qkv(_ x: [Float], _ m: Int, threads: Int, path: ProductPath) -> [[Float]] {
            var ya = [Float](repeating: .nan, count: m * q.rows), yb = [Float](repeating: .nan, count: m * kv.rows)
            var yc = [Float](repeating: .nan, count: m * v.rows)
            let scratch = QuantizedActivations(precision)
            x.withUnsafeBufferPointer { xp in
                ya.withUnsafeMutableBufferPointer { a in
                    yb.withUnsafeMutableBufferPointer { b in
                        yc.withUnsafeMutableBufferPointer { c in
                            linear(xp.baseAddress!, rows: m, DecodeProduct(q.matrix, into: a.baseAddress!),
                                   DecodeProduct(kv.matrix, into: b.baseAddress!), DecodeProduct(v.matrix, into: c.baseAddress!),
                                   pool: ComputePool(threads: threads), quantized: scratch, path: path)
                        }
                    }
                }
            }
            return [ya, yb, yc]
        }
        func mlp(_ x: [Float], _ m: Int, threads: Int, path: ProductPath) -> [Float] {
            var g = [Float](repeating: .nan, count: m * gate.rows), u = g
            let scratch = QuantizedActivations(precision)
            x.withUnsafeBufferPointer { xp in
                g.withUnsafeMutableBufferPointer { gp in
                    u.withUnsafeMutableBufferPointer { upp in
                        gatedLinear(xp.baseAddress!, rows: m, gate: DecodeProduct(gate.matrix, into: gp.baseAddress!),
                                    up: DecodeProduct(up.matrix, into: upp.baseAddress!), pool: ComputePool(threads: threads),
                                    quantized: scratch, path: path)
                    }
                }
            }
            return g
        }

        for threads in Self.threadCounts {
            for m in Self.tokenCounts {
                let x = rng.floats(m * k, -2, 2)
                let fused = qkv(x, m, threads: threads, path: .decode)
                let gated = mlp(x, m, threads: threads, path: .decode)
                for t in 0..<m {
                    let xt = Self.token(x, t, k: k)
                    let alone = qkv(xt, 1, threads: threads, path: .automatic)
                    for (i, matrix) in [q, kv, v].enumerated() {
                        let n = matrix.rows
                        #expect(Self.bits(Array(fused[i][(t * n)..<((t + 1) * n)])) == Self.bits(alone[i]),
                                "\(kind) \(precision) Q/K/V output \(i) M \(m) token \(t) threads \(threads)")
                        // And the fused pass equals a plain product of that matrix.
                        let plain = Self.product(xt, m: 1, matrix, threads: threads, precision: precision, path: .automatic)
                        #expect(Self.bits(alone[i]) == Self.bits(plain), "\(kind) \(precision) fused vs plain, output \(i)")
                    }
                    let n = gate.rows
                    #expect(Self.bits(Array(gated[(t * n)..<((t + 1) * n)])) == Self.bits(mlp(xt, 1, threads: threads, path: .automatic)),
                            "\(kind) \(precision) gate/up M \(m) token \(t) threads \(threads)")
                }
            }
        }
    }

    /// The GEMM path: row r of a 13-row product equals the 1-row and 3-row products holding it.
    /// K = 1280 is split into three passes (kBlock 576), K = 96/256 into one.
    @Test(arguments: WeightKind.allCases)
    func promptRowsDoNotDependOnTheBatch(kind: WeightKind) {
        var rng = TestRNG(seed: 0x9A7E &+ UInt64(WeightKind.allCases.firstIndex(of: kind)!) &* 7)
        for k in [Self.columns(kind, small: true), 1280] {
            let n = 37
            let w = StoredMatrix(kind, rows: n, columns: k, rng: &rng)
            let m = 13
            let x = rng.floats(m * k, -2, 2)
            // Exact activations take the f32 panels; a quantized-activation scratch sends quantized
            // kinds to the integer GEMM (PromptProducts.integer). Both must be batch-invariant.
            for threads in Self.threadCounts {
              for precision in [ActivationPrecision.exact, .int16] {
                let all = Self.product(x, m: m, w, threads: threads, precision: precision, path: .prompt)
                // .automatic keeps the GEMM from 4 rows on.
                let automatic = Self.product(x, m: m, w, threads: threads, precision: precision, path: .automatic)
                #expect(Self.bits(automatic) == Self.bits(all), "\(kind) \(precision) K \(k): automatic M 13 vs prompt")
                for r in 0..<m {
                    let row = Array(all[(r * n)..<((r + 1) * n)])
                    let one = Self.product(Self.token(x, r, k: k), m: 1, w, threads: threads, precision: precision, path: .prompt)
                    #expect(Self.bits(row) == Self.bits(one), "\(kind) \(precision) K \(k) row \(r) of 13 vs alone, threads \(threads)")
                    let first = min(max(0, r - 1), m - 3)
                    let three = Self.product(Array(x[(first * k)..<((first + 3) * k)]), m: 3, w, threads: threads,
                                             precision: precision, path: .prompt)
                    let inThree = Array(three[((r - first) * n)..<((r - first + 1) * n)])
                    #expect(Self.bits(row) == Self.bits(inThree), "\(kind) K \(k) row \(r) of 13 vs of 3, threads \(threads)")
                }
                // And the f32 GEMM still computes the product (against the decode path, loosely; the
                // integer GEMM is held to a double reference in KernelSetTests).
                if precision == .exact {
                    let decode = Self.product(x, m: m, w, threads: threads, precision: .exact, path: .decode)
                    let scale = decode.map { abs(Double($0)) }.max() ?? 1
                    #expect(maxAbsDiff(all, decode) <= 1e-4 * max(1, scale), "\(kind) K \(k): prompt vs decode path")
                }
              }
            }
        }
    }

    /// The multi-token integer kernels against the double-precision reference (the single-token
    /// kernels' check in IntegerDotTests, on the decode path with several tokens).
    @Test(arguments: IntegerDotTests.pairs)
    func multiTokenKernelsMatchReference(kind: WeightKind, precision: ActivationPrecision) {
        var rng = TestRNG(seed: 0xD0B1E &+ UInt64(WeightKind.allCases.firstIndex(of: kind)!))
        let n = 37, k = Self.columns(kind, small: true)
        let w = StoredMatrix(kind, rows: n, columns: k, rng: &rng)
        let rowBytes = kind.rowBytes(columns: k)
        let bytes = Array(UnsafeRawBufferPointer(start: w.matrix.base, count: n * rowBytes))
        for m in [2, 5, 9] {
            let x = rng.floats(m * k, -2, 2)
            let a = referenceQuantize(x, precision)
            for threads in Self.threadCounts {
                let y = Self.product(x, m: m, w, threads: threads, precision: precision, path: .decode)
                var bad: [String] = []
                for r in 0..<n {
                    let row = Array(bytes[(r * rowBytes)..<((r + 1) * rowBytes)])
                    let weights = referenceDecode(kind, row, count: k), offsets = referenceOffsets(kind, row, count: k)
                    for t in 0..<m {
                        let (want, magnitude) = referenceIntegerDot(weights, offsets: offsets, a, token: t, k: k)
                        let got = Double(y[t * n + r])
                        if !(abs(got - want) <= 2e-6 * magnitude + 1e-30), bad.count < 4 {
                            bad.append("y[\(t)][\(r)] = \(got), expected \(want)")
                        }
                    }
                }
                #expect(bad.isEmpty, "\(kind) \(precision) M \(m) threads \(threads): \(bad.joined(separator: "; "))")
            }
        }
    }
}
