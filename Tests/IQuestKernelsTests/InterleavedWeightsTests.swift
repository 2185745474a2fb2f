import Foundation
import IQuestKernels
import Testing

// q8_0, q4_0, q4_1, q4_K and q6_K matrices repacked 16 rows at a time (WeightLayout.interleaved16): the layout against its
// definition written out here, and every product on it, in every kernel set the CPU has,
// against double-precision references (the AVX-512 and AVX2 int16 decode kernels, which are the
// layout's reason to exist, int16 and int8) or bitwise against the same product on the row-major
// matrix (every other path restores the rows and runs the row-major kernel).

/// A matrix as stored and its interleaved copy, kept alive together.
final class InterleavedPair {
    let kind: WeightKind
    let bytes: [UInt8]
    let copy: UnsafeMutableRawPointer
    let rows: Int, columns: Int

    init(_ kind: WeightKind, bytes: [UInt8], rows: Int, columns: Int, pool: ComputePool = ComputePool(threads: 1)) {
        self.kind = kind
        self.bytes = bytes
        self.rows = rows
        self.columns = columns
        copy = .allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { src in
            _ = WeightMatrix(kind: kind, rows: rows, columns: columns, base: src.baseAddress!).interleaving16(into: copy, pool: pool)
        }
    }

    deinit { copy.deallocate() }

    var interleaved: WeightMatrix {
        WeightMatrix(kind: kind, rows: rows, columns: columns, base: UnsafeRawPointer(copy), layout: .interleaved16)
    }

    /// `body` with the row-major matrix (valid only inside).
    func withRowMajor<T>(_ body: (WeightMatrix) -> T) -> T {
        bytes.withUnsafeBytes { body(WeightMatrix(kind: kind, rows: rows, columns: columns, base: $0.baseAddress!)) }
    }
}

/// y = x · Wᵀ for m tokens through `linear` on `w`, with `precision`'s scratch (nil: f32) and `path`.
func product(_ w: WeightMatrix, _ x: [Float], m: Int, _ precision: ActivationPrecision?, path: ProductPath,
             pool: ComputePool = ComputePool(threads: 1)) -> [Float] {
    var y = [Float](repeating: .nan, count: m * w.rows)
    let scratch = precision.flatMap { QuantizedActivations($0) }
    x.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            linear(xp.baseAddress!, rows: m, weights: w, into: yp.baseAddress!, pool: pool, quantized: scratch, path: path)
        }
    }
    return y
}

@Suite struct InterleavedWeightsTests {
    static let kinds: [WeightKind] = [.q8_0, .q4_0, .q4_1, .q4_K, .q6_K]

    /// Odd block counts, one group and several; K past 2048 (the int8 kernels' chunk of a row) with
    /// a remainder.
    static func shapes(_ kind: WeightKind) -> [(Int, Int)] {
        kind.blockSize == 256 ? [(32, 512), (16, 256), (48, 768), (16, 4864)] : [(32, 160), (48, 576), (16, 32), (64, 256), (16, 4160)]
    }

    /// Group g, block b (32 elements for q8_0/q4_0/q4_1, 256 for q4_K/q6_K): piece after piece of
    /// the 16 rows' block, row r's piece at width·r. q8_0 / q4_0: the 2-byte scale, then 8 × 4
    /// int8 quants / 4 × 4 nibble bytes. q4_1: d and m (2 bytes each), 4 × 4 nibble bytes. q4_K:
    /// d and dmin (2 bytes each), 3 × 4 bytes of packed scales, 32 × 4 nibble bytes. q6_K: 52 × 4
    /// bytes (low nibbles, high bit pairs, int8 scales), then the 2-byte d.
    @Test(arguments: kinds)
    func layoutFollowsItsDefinition(kind: WeightKind) {
        var rng = TestRNG(seed: 0x16A)
        let twoByteHeads = [WeightKind.q4_K: 2, .q4_1: 2, .q4_0: 1, .q8_0: 1][kind] ?? 0
        var pieces: [(offset: Int, width: Int)] = (0..<twoByteHeads).map { (2 * $0, 2) }
        let head = 2 * twoByteHeads, tail = kind == .q6_K ? 208 : kind.bytesPerBlock
        for offset in stride(from: head, to: tail, by: 4) { pieces.append((offset, 4)) }
        if kind == .q6_K { pieces.append((208, 2)) }
        for (n, k) in Self.shapes(kind) {
            let bytes = randomWeightBytes(kind, rows: n, columns: k, rng: &rng)
            let pair = InterleavedPair(kind, bytes: bytes, rows: n, columns: k, pool: ComputePool(threads: 3))
            let got = Array(UnsafeRawBufferPointer(start: pair.copy, count: bytes.count))
            var want: [UInt8] = []
            let rowBytes = kind.rowBytes(columns: k)
            for g in 0..<(n / 16) {
                for b in 0..<(k / kind.blockSize) {
                    func block(_ r: Int) -> Int { (16 * g + r) * rowBytes + kind.bytesPerBlock * b }
                    for (offset, width) in pieces {
                        for r in 0..<16 { want += bytes[(block(r) + offset)..<(block(r) + offset + width)] }
                    }
                }
            }
            #expect(got == want, "\(kind) N=\(n) K=\(k)")
        }
    }

    /// Decode products for 1…9 tokens (the int8 kernels take 4 per pass: two full passes and a
    /// remainder), int16 / int8 / f32 activations, in every set.
    @Test(arguments: kinds, [ActivationPrecision.int16, .int8, .exact])
    func decodeProductsInEverySet(kind: WeightKind, precision: ActivationPrecision) {
        var rng = TestRNG(seed: 0x16B &+ UInt64(precision.hashValue & 0xFF))
        for (n, k) in Self.shapes(kind) {
            let pair = InterleavedPair(kind, bytes: randomWeightBytes(kind, rows: n, columns: k, rng: &rng), rows: n, columns: k)
            let m = 9
            let x = rng.floats(m * k, -2, 2)
            let scratch: ActivationPrecision? = precision == .exact ? nil : precision
            for set in KernelSet.allCases {
                guard let batch = KernelSet.withThreadOverride(set, { product(pair.interleaved, x, m: m, scratch, path: .decode) }) else {
                    print("interleaved \(kind) decode, set \(set): skipped (CPU lacks it)")
                    continue
                }
                let rowMajor = KernelSet.withThreadOverride(set) { pair.withRowMajor { product($0, x, m: m, scratch, path: .decode) } }!
                if (set == .avx512 || set == .avx2) && precision != .exact {
                    // The layout's own kernel: exact integer sums, its own float rounding order.
                    let bad = Self.referenceMismatches(pair, x, m: m, precision, batch)
                    #expect(bad.isEmpty, "\(kind) x16 \(precision) decode N=\(n) K=\(k): \(bad.joined(separator: "; "))")
                    print("interleaved \(kind) \(precision) decode, set \(set), N=\(n) K=\(k): own kernel, checked against the reference")
                } else {
                    #expect(batch == rowMajor, "\(kind) \(precision) set \(set) N=\(n) K=\(k): differs from the row-major matrix")
                }
                // Batch invariance: each token alone gives bitwise its row of the batch.
                for t in 0..<m {
                    let alone = KernelSet.withThreadOverride(set) {
                        product(pair.interleaved, Array(x[(t * k)..<((t + 1) * k)]), m: 1, scratch, path: .decode)
                    }
                    #expect(alone == Array(batch[(t * n)..<((t + 1) * n)]), "\(kind) \(precision) set \(set): token \(t) alone differs from the batch")
                }
            }
        }
    }

    /// Up to four entries of y [m, n] that differ from the double-precision integer product
    /// (activations quantized as `precision` says) by more than float rounding allows.
    static func referenceMismatches(_ pair: InterleavedPair, _ x: [Float], m: Int, _ precision: ActivationPrecision,
                                    _ y: [Float]) -> [String] {
        let kind = pair.kind, n = pair.rows, k = pair.columns, rowBytes = kind.rowBytes(columns: k)
        let a = referenceQuantize(x, precision)
        var bad: [String] = []
        for r in 0..<n {
            let row = Array(pair.bytes[(r * rowBytes)..<((r + 1) * rowBytes)])
            let w = referenceDecode(kind, row, count: k), offsets = referenceOffsets(kind, row, count: k)
            for t in 0..<m {
                let (want, magnitude) = referenceIntegerDot(w, offsets: offsets, a, token: t, k: k)
                let err = abs(Double(y[t * n + r]) - want)
                if !(err <= 2e-6 * magnitude + 1e-30), bad.count < 4 { bad.append("y[\(t)][\(r)] = \(y[t * n + r]), expected \(want)") }
            }
        }
        return bad
    }

    /// The int8 kernels add vpmaddubsw's 16-bit pair sums before widening them: weights at their
    /// largest codes (every nibble 15, q6_K code 63, q8_0 −128 and 127) against activations at
    /// ±127 of the same sign reach the largest sums the bounds allow (8 × 3810 for 4-bit codes,
    /// 2 × 16002 for q6_K, 32512 for q8_0), which must come out exact, alone and for 6 tokens.
    @Test(arguments: kinds)
    func int8KernelsAtTheExtremeCodes(kind: WeightKind) {
        var rng = TestRNG(seed: 0x16F)
        let n = 32, k = kind.blockSize == 256 ? 512 : 128, rowBytes = kind.rowBytes(columns: k)
        var bytes = randomWeightBytes(kind, rows: n, columns: k, rng: &rng)
        // The quant bytes of each block (scales left as generated).
        let quants: Range<Int> = [WeightKind.q4_0: 2..<18, .q4_1: 4..<20, .q8_0: 2..<34, .q4_K: 16..<144, .q6_K: 0..<192][kind]!
        for r in 0..<n {
            for b in 0..<(k / kind.blockSize) {
                for i in quants {
                    let at = r * rowBytes + b * kind.bytesPerBlock + i
                    bytes[at] = kind == .q8_0 ? UInt8(bitPattern: (r + b) % 2 == 0 ? -128 : 127) : 0xFF
                }
            }
        }
        let pair = InterleavedPair(kind, bytes: bytes, rows: n, columns: k)
        let m = 6
        // Tokens: all +Q, all −Q, alternating, a ramp, one dominant value per block, all zero.
        var x: [Float] = []
        for t in 0..<m {
            for i in 0..<k {
                switch t {
                case 0: x.append(1.5)
                case 1: x.append(-0.25)
                case 2: x.append(i % 2 == 0 ? 1 : -1)
                case 3: x.append(Float(i % 32 - 16) / 16)
                case 4: x.append(i % 32 == 5 ? 1e3 : 1)
                default: x.append(0)
                }
            }
        }
        for set in [KernelSet.avx512, .avx2] {
            guard let batch = KernelSet.withThreadOverride(set, { product(pair.interleaved, x, m: m, .int8, path: .decode) }) else {
                print("interleaved \(kind) int8 extremes, set \(set): skipped (CPU lacks it)")
                continue
            }
            let bad = Self.referenceMismatches(pair, x, m: m, .int8, batch)
            #expect(bad.isEmpty, "\(kind) int8 extremes set \(set): \(bad.joined(separator: "; "))")
            for t in 0..<m {
                let alone = KernelSet.withThreadOverride(set) { product(pair.interleaved, Array(x[(t * k)..<((t + 1) * k)]), m: 1, .int8, path: .decode) }
                #expect(alone == Array(batch[(t * n)..<((t + 1) * n)]), "\(kind) int8 extremes set \(set): token \(t) alone differs")
            }
        }
    }

    /// The prompt path (integer GEMM in both precisions, f32 panels) gives bitwise the row-major
    /// matrix's results, in every set.
    @Test(arguments: kinds, [ActivationPrecision.int16, .int8, .exact])
    func promptProductsInEverySet(kind: WeightKind, precision: ActivationPrecision) {
        var rng = TestRNG(seed: 0x16C &+ UInt64(precision.hashValue & 0xFF))
        for (n, k) in Self.shapes(kind) {
            let pair = InterleavedPair(kind, bytes: randomWeightBytes(kind, rows: n, columns: k, rng: &rng), rows: n, columns: k)
            let m = 13
            let x = rng.floats(m * k, -2, 2)
            let scratch: ActivationPrecision? = precision == .exact ? nil : precision
            for set in KernelSet.allCases {
                guard let y = KernelSet.withThreadOverride(set, { product(pair.interleaved, x, m: m, scratch, path: .prompt) }) else {
                    print("interleaved \(kind) prompt, set \(set): skipped (CPU lacks it)")
                    continue
                }
                let rowMajor = KernelSet.withThreadOverride(set) { pair.withRowMajor { product($0, x, m: m, scratch, path: .prompt) } }!
                #expect(!y.contains { $0.isNaN })
                #expect(y == rowMajor, "\(kind) \(precision) prompt set \(set) N=\(n) K=\(k): differs from the row-major matrix")
            }
        }
    }

    /// A matrix large enough to be cut into several parts per thread (9.4 MB of q4_0, 4 parts on
    /// 2 threads) gives bitwise the one-thread results, alone and with 3 tokens in the step.
    @Test func decodePartsGiveTheOneThreadResults() {
        var rng = TestRNG(seed: 0x16E)
        let n = 4096, k = 4096
        let pair = InterleavedPair(.q4_0, bytes: randomWeightBytes(.q4_0, rows: n, columns: k, rng: &rng), rows: n, columns: k)
        let two = ComputePool(threads: 2)
        #expect(two.decodeParts(bytes: pair.interleaved.byteCount) == 4)
        for m in [1, 3] {
            let x = rng.floats(m * k, -2, 2)
            let one = product(pair.interleaved, x, m: m, .int16, path: .decode)
            let split = product(pair.interleaved, x, m: m, .int16, path: .decode, pool: two)
            #expect(!one.contains { $0.isNaN })
            #expect(one == split, "m = \(m): 4 parts on 2 threads differ from 1 thread")
        }
    }

    /// Several threads split an interleaved matrix in whole groups, and a SwiGLU pair whose gate
    /// is interleaved and whose up is not still multiplies each row by its own partner.
    @Test func threadsSplitWholeGroups() {
        var rng = TestRNG(seed: 0x16D)
        let n = 80, k = 96, m = 2
        let gate = InterleavedPair(.q4_0, bytes: randomWeightBytes(.q4_0, rows: n, columns: k, rng: &rng), rows: n, columns: k)
        let upBytes = randomWeightBytes(.q4_0, rows: n, columns: k, rng: &rng)
        let x = rng.floats(m * k, -2, 2)
        let pool = ComputePool(threads: 3)
        for precision in [ActivationPrecision.int16, .int8] {
            let one = product(gate.interleaved, x, m: m, precision, path: .decode)
            let three = product(gate.interleaved, x, m: m, precision, path: .decode, pool: pool)
            #expect(one == three, "\(precision): 3 threads differ from 1")
            let up = upBytes.withUnsafeBytes { u in
                product(WeightMatrix(kind: .q4_0, rows: n, columns: k, base: u.baseAddress!), x, m: m, precision, path: .decode, pool: pool)
            }
            var g = [Float](repeating: .nan, count: m * n), u = [Float](repeating: .nan, count: m * n)
            upBytes.withUnsafeBytes { ub in
                let upMatrix = WeightMatrix(kind: .q4_0, rows: n, columns: k, base: ub.baseAddress!)
                x.withUnsafeBufferPointer { xp in
                    g.withUnsafeMutableBufferPointer { gp in
                        u.withUnsafeMutableBufferPointer { up in
                            gatedLinear(xp.baseAddress!, rows: m, gate: DecodeProduct(gate.interleaved, into: gp.baseAddress!),
                                        up: DecodeProduct(upMatrix, into: up.baseAddress!), pool: pool,
                                        quantized: QuantizedActivations(precision), path: .decode)
                        }
                    }
                }
            }
            for i in 0..<(m * n) {
                let silu = three[i] / (1 + exp(-three[i]))
                #expect(abs(g[i] - silu * up[i]) <= 1e-5 * (abs(silu * up[i]) + 1e-3), "\(precision) element \(i): \(g[i]) vs \(silu * up[i])")
            }
        }
    }
}
