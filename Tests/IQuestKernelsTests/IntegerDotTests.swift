import Foundation
import IQuestKernels
import Testing

// The integer decode path of `linear` (ActivationPrecision.int16 / .int8): the activation
// quantizer against its rule written out here, and the integer block dots against
// double-precision products of the dequantized weights with the dequantized activation.

typealias QuantizedRow = (q: [Int], d: [Float], s: [Float])

extension ActivationPrecision {
    /// Largest quant: 127 or 32767.
    var qmax: Float { self == .int8 ? 127 : 32767 }
}

/// The activation rule, per block of 32, in f32 as numpy would evaluate it on float32 arrays,
/// with Q = 127 (int8) or 32767 (int16): amax = max|x|; inv = Q / amax; q = np.rint(x · inv)
/// (round half to even); d = amax / Q; s = d · Σq. A block with amax ≤ Q / Float.greatestFiniteMagnitude
/// (so inv would overflow) is zero: d = 0, q = 0.
func referenceQuantize(_ x: [Float], _ precision: ActivationPrecision) -> QuantizedRow {
    let qmax = precision.qmax
    var q: [Int] = [], d: [Float] = [], s: [Float] = []
    for b in 0..<(x.count / 32) {
        let block = x[(32 * b)..<(32 * b + 32)]
        let amax = block.map { abs($0) }.max()!
        let live = amax > qmax / Float.greatestFiniteMagnitude
        let inv: Float = live ? qmax / amax : 0
        let qb = block.map { Int(($0 * inv).rounded(.toNearestOrEven)) }
        let db: Float = live ? amax / qmax : 0
        q += qb
        d.append(db)
        s.append(db * Float(qb.reduce(0, +)))
    }
    return (q, d, s)
}

/// Σ_i w_i · d·q_i in Double over the reference-decoded row, and the scale of the terms the
/// kernel rounds: Σ (|w_i| + 2|m_i|)·|d·q_i|, where m_i is the block's offset (q4_1: m, q4_0:
/// −8·d_w, q8_0: 0). The q4 kernels compute d_w·Σn·x̂ and m·Σx̂ apart (|d_w·n| ≤ |w| + |m|), and
/// those cancel where w is near zero.
func referenceIntegerDot(_ w: [Double], offsets m: [Double], _ a: QuantizedRow, token: Int, k: Int)
    -> (value: Double, magnitude: Double) {
    var sum = 0.0, magnitude = 0.0
    for i in 0..<k {
        let x = Double(a.d[token * k / 32 + i / 32]) * Double(a.q[token * k + i])
        sum += w[i] * x
        magnitude += (abs(w[i]) + 2 * abs(m[i])) * abs(x)
    }
    return (sum, magnitude)
}

/// Each element's block offset m (see referenceIntegerDot) from a stored row.
func referenceOffsets(_ kind: WeightKind, _ bytes: [UInt8], count: Int) -> [Double] {
    (0..<count).map { i in
        let base = i / 32 * kind.bytesPerBlock
        switch kind {
        case .q4_0: return -8 * referenceHalf(readU16(bytes, base))
        case .q4_1: return referenceHalf(readU16(bytes, base + 2))
        case .q4_K:
            // The kernel forms d·sc·Σn·q and dmin·m·s apart: the offset is −dmin·m.
            let sb = i / 256 * 144
            return -referenceHalf(readU16(bytes, sb + 2)) * Double(referenceQ4KScaleMin(bytes, sb, i % 256 / 32).1)
        default: return 0
        }
    }
}

@Suite struct IntegerDotTests {
    static let integerKinds: [WeightKind] = [.q8_0, .q4_0, .q4_1, .q4_K, .q6_K]
    static let precisions: [ActivationPrecision] = [.int16, .int8]
    /// Every (weight kind, activation precision) pair with integer kernels.
    static let pairs = integerKinds.flatMap { k in precisions.map { (k, $0) } }

    static func quantize(_ x: [Float], rows: Int, columns: Int, _ precision: ActivationPrecision) -> QuantizedRow {
        let a = QuantizedActivations(precision)!
        x.withUnsafeBufferPointer { a.quantize($0.baseAddress!, rows: rows, columns: columns) }
        let n = rows * columns, blocks = n / 32
        let q: [Int] = precision == .int8
            ? UnsafeBufferPointer(start: a.quants.assumingMemoryBound(to: Int8.self), count: n).map(Int.init)
            : UnsafeBufferPointer(start: a.quants.assumingMemoryBound(to: Int16.self), count: n).map(Int.init)
        return (q, Array(UnsafeBufferPointer(start: a.scales, count: blocks)), Array(UnsafeBufferPointer(start: a.sums, count: blocks)))
    }

    @Test func noScratchForTheExactPath() {
        #expect(QuantizedActivations(.exact) == nil)
        #expect(QuantizedActivations(.int8)?.precision == .int8)
        #expect(QuantizedActivations(.int16)?.precision == .int16)
    }

    /// Bit-for-bit equal to the rule, and every q within half a step of x/d.
    @Test(arguments: precisions)
    func quantizerFollowsTheRule(precision: ActivationPrecision) {
        var rng = TestRNG(seed: 0x1A78)
        var inputs: [[Float]] = []
        for k in [32, 64, 96, 576, 1536] {
            for scale: Float in [1e-6, 0.02, 1, 300] { inputs.append(rng.floats(k, -scale, scale)) }
        }
        // Extremes: all-zero blocks between live ones; the largest finite magnitude; a block too
        // small to scale (counts as zero); subnormals next to normal values; one spike among zeros.
        var mixed = [Float](repeating: 0, count: 128)
        for i in 32..<64 { mixed[i] = rng.float(-1, 1) }
        mixed[96] = -5
        inputs.append(mixed)
        inputs.append((0..<32).map { $0 % 2 == 0 ? Float.greatestFiniteMagnitude : -Float.greatestFiniteMagnitude / 3 })
        inputs.append([Float](repeating: 1e-38, count: 32) + (0..<32).map { Float($0) * 1e-38 + Float.leastNonzeroMagnitude })
        inputs.append((0..<32).map { Float($0 - 16) * Float.leastNonzeroMagnitude } + rng.floats(32, -1e-3, 1e-3))
        for x in inputs {
            let got = Self.quantize(x, rows: 1, columns: x.count, precision)
            let want = referenceQuantize(x, precision)
            #expect(got.q == want.q, "\(precision) k \(x.count), first |x| \(abs(x[0])): quants differ")
            #expect(got.q.allSatisfy { abs($0) <= Int(precision.qmax) })
            #expect(got.d.map(\.bitPattern) == want.d.map(\.bitPattern), "k \(x.count): scales differ \(got.d.prefix(4)) vs \(want.d.prefix(4))")
            #expect(got.s.map(\.bitPattern) == want.s.map(\.bitPattern), "k \(x.count): sums differ")
            // Half a step, plus the f32 rounding of inv, of x·inv and of d (each ≤ Q·2⁻²⁴ steps).
            let slack = 0.5 + 3 * Double(precision.qmax) * 0x1p-24
            for i in x.indices where got.d[i / 32] > 0 {
                let step = Double(got.d[i / 32])
                let err = abs(Double(x[i]) - step * Double(got.q[i]))
                #expect(err <= slack * step, "\(precision) x[\(i)] = \(x[i]): q \(got.q[i]) · d \(step) is off by \(err)")
            }
        }
    }

    /// Values that land exactly halfway between two steps round to the even one, and ±amax
    /// maps to ±Q.
    @Test(arguments: precisions)
    func quantizerRoundsHalfToEven(precision: ActivationPrecision) {
        // amax = Q → inv = 1 exactly, so x · inv = x.
        let top = precision.qmax
        var x: [Float] = [top, -top, 2.5, 3.5, -2.5, -3.5, 0.5, -0.5, 1.5, top - 0.5]
        x += [Float](repeating: 0, count: 22)
        let got = Self.quantize(x, rows: 1, columns: 32, precision)
        let q = Int(top)
        #expect(Array(got.q.prefix(10)) == [q, -q, 2, 4, -2, -4, 0, 0, 2, q - 1])  // Q − 0.5 → Q − 1, which is even
        #expect(got.d == [1])
        #expect(got.s == [Float(Array(got.q.prefix(10)).reduce(0, +))])
    }

    /// Several rows quantize independently, each row's blocks after the previous row's.
    @Test(arguments: precisions)
    func rowsAreQuantizedIndependently(precision: ActivationPrecision) {
        var rng = TestRNG(seed: 77)
        let k = 96, x = rng.floats(3 * k, -3, 3)
        let all = Self.quantize(x, rows: 3, columns: k, precision)
        for t in 0..<3 {
            let one = referenceQuantize(Array(x[(t * k)..<((t + 1) * k)]), precision)
            #expect(Array(all.q[(t * k)..<((t + 1) * k)]) == one.q)
            #expect(Array(all.d[(t * 3)..<(t * 3 + 3)]) == one.d)
            #expect(Array(all.s[(t * 3)..<(t * 3 + 3)]) == one.s)
        }
    }

    static func runLinear(_ x: [Float], m: Int, bytes: [UInt8], kind: WeightKind, n: Int, k: Int, threads: Int,
                          precision: ActivationPrecision) -> (y: [Float], guardIntact: Bool) {
        let guardCount = 16
        var y = [Float](repeating: .nan, count: m * n + guardCount)
        for i in (m * n)..<(m * n + guardCount) { y[i] = -777 }
        let scratch = QuantizedActivations(precision)
        bytes.withUnsafeBytes { w in
            let matrix = WeightMatrix(kind: kind, rows: n, columns: k, base: w.baseAddress!)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    linear(xp.baseAddress!, rows: m, weights: matrix, into: yp.baseAddress!,
                           pool: ComputePool(threads: threads), quantized: scratch)
                }
            }
        }
        return (Array(y[0..<(m * n)]), y[(m * n)...].allSatisfy { $0 == -777 })
    }

    /// Checks `linear` on the integer path against the double-precision reference for every token
    /// and row; returns the worst error relative to the magnitude of the terms (referenceIntegerDot).
    static func check(_ kind: WeightKind, _ precision: ActivationPrecision, bytes: [UInt8], x: [Float], m: Int, n: Int, k: Int,
                      threads: Int, label: String) -> Double {
        let rowBytes = kind.rowBytes(columns: k)
        let a = referenceQuantize(x, precision)
        let result = runLinear(x, m: m, bytes: bytes, kind: kind, n: n, k: k, threads: threads, precision: precision)
        #expect(result.guardIntact, "\(label): wrote past y")
        var worst = 0.0, bad: [String] = []
        for r in 0..<n {
            let row = Array(bytes[(r * rowBytes)..<((r + 1) * rowBytes)])
            let w = referenceDecode(kind, row, count: k), offsets = referenceOffsets(kind, row, count: k)
            for t in 0..<m {
                let (want, magnitude) = referenceIntegerDot(w, offsets: offsets, a, token: t, k: k)
                let got = Double(result.y[t * n + r])
                let err = abs(got - want)
                worst = max(worst, magnitude > 0 ? err / magnitude : err)
                // f32 block products and accumulation: a few ulps of the terms.
                if !(err <= 2e-6 * magnitude + 1e-30), bad.count < 4 { bad.append("y[\(t)][\(r)] = \(got), expected \(want)") }
            }
        }
        #expect(bad.isEmpty, "\(label): \(bad.joined(separator: "; "))")
        return worst
    }

    @Test(arguments: pairs)
    func matchesReferenceOnRandomData(kind: WeightKind, precision: ActivationPrecision) {
        var rng = TestRNG(seed: 0x5EED &+ UInt64(Self.integerKinds.firstIndex(of: kind)!))
        var worst = 0.0
        // One block; several; a row count past any thread split; many rows of one block; a real width.
        let shapes = kind.blockSize == 256
            ? [(1, 256), (5, 512), (37, 768), (300, 256), (7, 1280), (3, 4096)]  // several super-blocks, odd row counts
            : [(1, 32), (5, 64), (37, 160), (300, 32), (7, 576), (3, 1536)]
        for (n, k) in shapes {
            let bytes = randomWeightBytes(kind, rows: n, columns: k, rng: &rng)
            for m in 1...3 {
                let x = rng.floats(m * k, -2, 2)
                for threads in [1, 2, 3] {
                    worst = max(worst, Self.check(kind, precision, bytes: bytes, x: x, m: m, n: n, k: k, threads: threads,
                                                  label: "\(kind)×\(precision) M=\(m) N=\(n) K=\(k) threads=\(threads)"))
                }
            }
        }
        print("\(kind)×\(precision): worst error / Σ(|w| + 2|m|)·|x̂| = \(worst)")
    }

    /// Blocks at the edges of the integer ranges: weights at their extreme codes (q8_0 −128 and
    /// 127, nibbles 0 and 15) against activations at ±Q, alternating and same-signed so the
    /// int8 path's 16-bit pair sums reach their largest magnitude; all-zero weight blocks and
    /// activation blocks; the largest f16 scales.
    @Test(arguments: pairs.filter { $0.0.blockSize == 32 })
    func extremeBlocks(kind: WeightKind, precision: ActivationPrecision) {
        let k = 32 * 6, n = 4
        var bytes: [UInt8] = []
        func put16(_ v: UInt16) { bytes.append(UInt8(v & 0xFF)); bytes.append(UInt8(v >> 8)) }
        for r in 0..<n {
            for b in 0..<(k / 32) {
                let zero = b == 2
                let scale: UInt16 = zero ? 0 : (b == 5 ? 0x7BFF : Float16(0.01 * Float(r + 1)).bitPattern)  // 0x7BFF = 65504
                put16(scale)
                switch kind {
                case .q8_0:
                    for i in 0..<32 { bytes.append(zero ? 0 : UInt8(bitPattern: b == 1 || (i + r) % 2 == 0 ? -128 : 127)) }
                case .q4_1:
                    put16(zero ? 0 : Float16(-0.3).bitPattern)
                    fallthrough
                default:
                    for j in 0..<16 { bytes.append(zero ? 0 : (b == 1 || (j + r) % 3 == 0 ? 0xFF : ((j + r) % 3 == 1 ? 0xF0 : 0x0F))) }
                }
            }
        }
        for m in 1...3 {
            var x: [Float] = []
            for t in 0..<m {
                for b in 0..<(k / 32) {
                    for i in 0..<32 {
                        switch b {
                        case 0: x.append(i % 2 == 0 ? -1 : 1)                  // ±Q alternating
                        case 1: x.append(t % 2 == 0 ? 3 : -3)                  // all +Q or all −Q
                        case 3: x.append(0)                                    // all-zero block
                        case 4: x.append(i == 7 ? 1e30 : Float(i) * 1e20)      // one dominant value
                        default: x.append(Float(i - 16) / 16)
                        }
                    }
                }
            }
            for threads in [1, 2] {
                _ = Self.check(kind, precision, bytes: bytes, x: x, m: m, n: n, k: k, threads: threads,
                               label: "\(kind)×\(precision) extremes M=\(m) threads=\(threads)")
            }
        }
    }

    /// The scratch only changes products with quantized weights: f32/f16/bf16 weights give
    /// bit-identical results with and without it, on the decode (M < 4) and prompt paths. (Quantized
    /// kinds on the prompt path go to the integer GEMM: KernelSetTests.)
    @Test(arguments: WeightKind.allCases.filter { !IntegerDotTests.integerKinds.contains($0) })
    func exactWhereIntegerDotsDoNotApply(kind: WeightKind) {
        var rng = TestRNG(seed: 0xE4AC7)
        let n = 19, k = kind.blockSize == 256 ? 512 : 96
        let bytes = randomWeightBytes(kind, rows: n, columns: k, rng: &rng)
        for m in [1, 3, 4, 7] {
            let x = rng.floats(m * k, -2, 2)
            let exact = Self.runLinear(x, m: m, bytes: bytes, kind: kind, n: n, k: k, threads: 2, precision: .exact)
            for precision in Self.precisions {
                let other = Self.runLinear(x, m: m, bytes: bytes, kind: kind, n: n, k: k, threads: 2, precision: precision)
                #expect(exact.y.map(\.bitPattern) == other.y.map(\.bitPattern), "\(kind) \(precision) M=\(m)")
            }
        }
    }

    /// One scratch serves products of different widths and token counts in turn (it grows, and a
    /// later smaller product must not read stale blocks).
    @Test(arguments: precisions)
    func scratchIsReusedAcrossShapes(precision: ActivationPrecision) {
        var rng = TestRNG(seed: 99)
        let scratch = QuantizedActivations(precision)!
        for (m, n, k) in [(1, 9, 64), (3, 5, 1536), (1, 9, 64), (2, 4, 576), (1, 3, 32)] {
            let bytes = randomWeightBytes(.q4_1, rows: n, columns: k, rng: &rng)
            let x = rng.floats(m * k, -1, 1)
            var y = [Float](repeating: 0, count: m * n)
            bytes.withUnsafeBytes { w in
                let matrix = WeightMatrix(kind: .q4_1, rows: n, columns: k, base: w.baseAddress!)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer {
                        linear(xp.baseAddress!, rows: m, weights: matrix, into: $0.baseAddress!, pool: ComputePool(threads: 2), quantized: scratch)
                    }
                }
            }
            let fresh = Self.runLinear(x, m: m, bytes: bytes, kind: .q4_1, n: n, k: k, threads: 2, precision: precision)
            #expect(y.map(\.bitPattern) == fresh.y.map(\.bitPattern), "M=\(m) N=\(n) K=\(k)")
        }
    }
}
