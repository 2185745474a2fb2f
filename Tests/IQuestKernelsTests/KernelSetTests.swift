import Foundation
import IQuestKernels
import Testing

// Kernel sets chosen at run time (issue #13): every set this CPU supports runs the integer prompt
// GEMM and the int16 decode kernels against double-precision references; sets the CPU lacks are
// reported as skipped. Sets are compared inside this process through a per-thread override, on a
// one-thread pool, so the rest of the suite keeps the process's set.

/// Σ_i (|w_i| + 2|a_i|)·|x_i| with a_i the block offset the GEMM's panel form carries
/// (gemm_int8.c: q8_0 −128·d, q4_0 −8·d, q4_1 m, q4_K −dmin·m, q6_K −32·d·sc): the scale of the
/// terms the kernel rounds (its integer sums are exact).
func gemmMagnitude(_ kind: WeightKind, _ row: [UInt8], _ w: [Double], _ x: [Double]) -> Double {
    var total = 0.0
    for i in 0..<w.count {
        let offset: Double
        switch kind {
        case .q8_0: offset = 128 * abs(referenceHalf(readU16(row, i / 32 * 34)))
        case .q4_0: offset = 8 * abs(referenceHalf(readU16(row, i / 32 * 18)))
        case .q4_1: offset = abs(referenceHalf(readU16(row, i / 32 * 20 + 2)))
        case .q4_K:
            let sb = i / 256 * 144
            offset = abs(referenceHalf(readU16(row, sb + 2))) * Double(referenceQ4KScaleMin(row, sb, i % 256 / 32).1)
        case .q6_K:
            let sb = i / 256 * 210
            offset = 32 * abs(referenceHalf(readU16(row, sb + 208)) * Double(Int8(bitPattern: row[sb + 192 + i % 256 / 16])))
        default: offset = 0
        }
        total += (abs(w[i]) + 2 * offset) * abs(x[i])
    }
    return total
}

@Suite struct KernelSetTests {
    static let gemmKinds: [WeightKind] = [.q8_0, .q4_0, .q4_1, .q4_K, .q6_K]

    @Test func everySetIsRunOrReportedSkipped() throws {
        #expect(KernelSet.scalar.isSupported)
        #expect(KernelSet.best.isSupported)
        #expect(KernelSet.supported.contains(KernelSet.current))
        for set in KernelSet.allCases {
            if set.isSupported {
                print("kernel set \(set): runs on this CPU (\(KernelSet.cpuFeatures))")
            } else {
                print("kernel set \(set): SKIPPED, this CPU lacks it (\(KernelSet.cpuFeatures))")
                let before = KernelSet.current
                #expect(throws: KernelSetError.unsupported(set, best: KernelSet.best)) { try KernelSet.select(set) }
                #expect(KernelSet.current == before)
                #expect(KernelSet.withThreadOverride(set) { 1 } == nil)
            }
        }
        #expect(throws: KernelSetError.unknown("avx9000")) { try KernelSet.select(named: "avx9000") }
        #expect(KernelSet(name: "avx512-vnni") == .avx512)
    }

    /// y = x · Wᵀ on the prompt path (integer GEMM in `precision`) with a one-thread pool.
    static func promptProduct(_ kind: WeightKind, _ bytes: [UInt8], _ x: [Float], m: Int, n: Int, k: Int,
                              _ precision: ActivationPrecision) -> [Float] {
        var y = [Float](repeating: .nan, count: m * n)
        let scratch = QuantizedActivations(precision)
        bytes.withUnsafeBytes { w in
            let matrix = WeightMatrix(kind: kind, rows: n, columns: k, base: w.baseAddress!)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    linear(xp.baseAddress!, rows: m, weights: matrix, into: yp.baseAddress!, pool: ComputePool(threads: 1),
                           quantized: scratch, path: .prompt)
                }
            }
        }
        return y
    }

    /// The two-plane activation rule (int16 precision for the prompt GEMM), per block of 32:
    /// q = rint(x · 32639 / max|x|), d = max|x| / 32639 (a zero block stays zero).
    static func referencePlanes(_ x: [Float]) -> (q: [Int], d: [Float]) {
        var q: [Int] = [], d: [Float] = []
        for b in 0..<(x.count / 32) {
            let block = x[(32 * b)..<(32 * b + 32)]
            let amax = block.map { abs($0) }.max()!
            let live = amax > 32639 / Float.greatestFiniteMagnitude
            let inv: Float = live ? 32639 / amax : 0
            q += block.map { Int(($0 * inv).rounded(.toNearestOrEven)) }
            d.append(live ? amax / 32639 : 0)
        }
        return (q, d)
    }

    @Test(arguments: gemmKinds, [ActivationPrecision.int8, .int16])
    func promptGEMMMatchesTheReferenceInEverySet(kind: WeightKind, precision: ActivationPrecision) throws {
        #expect(PromptProducts.current == .integer)
        var rng = TestRNG(seed: 0x6E33 &+ UInt64(Self.gemmKinds.firstIndex(of: kind)!))
        let shapes = kind.blockSize == 256 ? [(37, 512), (16, 256), (5, 768)] : [(37, 160), (16, 64), (70, 96)]
        for (n, k) in shapes {
            let m = 13
            let bytes = randomWeightBytes(kind, rows: n, columns: k, rng: &rng)
            let x = rng.floats(m * k, -2, 2)
            let xq: [Double]
            if precision == .int8 {
                let a = referenceQuantize(x, .int8)
                xq = (0..<(m * k)).map { Double(a.d[$0 / 32]) * Double(a.q[$0]) }
            } else {
                let a = Self.referencePlanes(x)
                xq = (0..<(m * k)).map { Double(a.d[$0 / 32]) * Double(a.q[$0]) }
            }
            let rowBytes = kind.rowBytes(columns: k)
            var results: [KernelSet: [Float]] = [:]
            for set in KernelSet.allCases {
                guard let y = KernelSet.withThreadOverride(set, { Self.promptProduct(kind, bytes, x, m: m, n: n, k: k, precision) }) else {
                    print("\(kind) prompt GEMM, set \(set): skipped (CPU lacks it)")
                    continue
                }
                // A set without an integer form for the kind takes the f32 panels: exact activations.
                let integer = set.hasIntegerPromptGEMM(kind)
                if integer { results[set] = y } else { print("\(kind) prompt GEMM, set \(set): f32 panels (no integer form)") }
                let input = integer ? xq : x.map(Double.init)
                var worst = 0.0, bad: [String] = []
                for r in 0..<n {
                    let row = Array(bytes[(r * rowBytes)..<((r + 1) * rowBytes)])
                    let w = referenceDecode(kind, row, count: k)
                    for t in 0..<m {
                        let xt = Array(input[(t * k)..<((t + 1) * k)])
                        let want = zip(w, xt).reduce(0.0) { $0 + $1.0 * $1.1 }
                        let magnitude = gemmMagnitude(kind, row, w, xt)
                        let err = abs(Double(y[t * n + r]) - want)
                        worst = max(worst, err / max(magnitude, 1e-30))
                        if !(err <= 2e-6 * magnitude + 1e-30), bad.count < 4 { bad.append("y[\(t)][\(r)] = \(y[t * n + r]), expected \(want)") }
                    }
                }
                #expect(bad.isEmpty, "\(kind) \(precision) set \(set) N=\(n) K=\(k): \(bad.joined(separator: "; "))")
                print("\(kind) \(precision) prompt GEMM, set \(set), N=\(n) K=\(k): worst error / magnitude \(worst)")
                // A token's row does not depend on how many tokens share the call.
                let alone = KernelSet.withThreadOverride(set) { Self.promptProduct(kind, bytes, Array(x[(4 * k)..<(9 * k)]), m: 5, n: n, k: k, precision) }
                #expect(alone == Array(y[(4 * n)..<(9 * n)]), "\(kind) set \(set): tokens 4…8 alone differ from the batch of 13")
            }
            // The sets share the integer sums and the float steps: bitwise the same results.
            if let reference = results[.scalar] {
                for (set, y) in results { #expect(y == reference, "\(kind): set \(set) differs from scalar") }
            }
        }
    }

    /// Decode products (int16 activations) for M tokens on a one-thread pool.
    static func decodeProduct(_ kind: WeightKind, _ bytes: [UInt8], _ x: [Float], m: Int, n: Int, k: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: m * n)
        let scratch = QuantizedActivations(.int16)
        bytes.withUnsafeBytes { w in
            let matrix = WeightMatrix(kind: kind, rows: n, columns: k, base: w.baseAddress!)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    linear(xp.baseAddress!, rows: m, weights: matrix, into: yp.baseAddress!, pool: ComputePool(threads: 1),
                           quantized: scratch, path: .decode)
                }
            }
        }
        return y
    }

    @Test(arguments: [WeightKind.q8_0, .q4_0, .q4_1, .q4_K, .q6_K])
    func decodeKernelsMatchTheReferenceInEverySet(kind: WeightKind) throws {
        var rng = TestRNG(seed: 0xDEC0 &+ UInt64(Self.gemmKinds.firstIndex(of: kind)!))
        // Block counts that are and are not multiples of the AVX-512 kernel's eight-block step.
        let shapes = kind.blockSize == 256 ? [(19, 512), (5, 1280)] : [(19, 160), (5, 576), (33, 256), (3, 32)]
        for (n, k) in shapes {
            let m = 5
            let bytes = randomWeightBytes(kind, rows: n, columns: k, rng: &rng)
            let x = rng.floats(m * k, -2, 2)
            let a = referenceQuantize(x, .int16)
            let rowBytes = kind.rowBytes(columns: k)
            for set in KernelSet.allCases {
                guard let batch = KernelSet.withThreadOverride(set, { Self.decodeProduct(kind, bytes, x, m: m, n: n, k: k) }) else {
                    print("\(kind) decode, set \(set): skipped (CPU lacks it)")
                    continue
                }
                var bad: [String] = []
                for r in 0..<n {
                    let row = Array(bytes[(r * rowBytes)..<((r + 1) * rowBytes)])
                    let w = referenceDecode(kind, row, count: k), offsets = referenceOffsets(kind, row, count: k)
                    for t in 0..<m {
                        let (want, magnitude) = referenceIntegerDot(w, offsets: offsets, a, token: t, k: k)
                        let err = abs(Double(batch[t * n + r]) - want)
                        if !(err <= 2e-6 * magnitude + 1e-30), bad.count < 4 { bad.append("y[\(t)][\(r)] = \(batch[t * n + r]), expected \(want)") }
                    }
                }
                #expect(bad.isEmpty, "\(kind) decode set \(set) N=\(n) K=\(k): \(bad.joined(separator: "; "))")
                // Batch invariance per set: each token alone gives bitwise its row of the batch.
                for t in 0..<m {
                    let alone = KernelSet.withThreadOverride(set) { Self.decodeProduct(kind, bytes, Array(x[(t * k)..<((t + 1) * k)]), m: 1, n: n, k: k) }
                    #expect(alone == Array(batch[(t * n)..<((t + 1) * n)]), "\(kind) set \(set): token \(t) alone differs from the batch")
                }
            }
        }
    }
}
