import Foundation
import IQuestKernels
import Testing

// q4_K / q6_K: decoders against gguf-py's numpy dequantizer (committed fixture) and against the
// spec-written referenceDecode; quantizers by round-trip error; integer dots at extreme codes.

/// Tests/Fixtures/quant/reference-kquants.json, written by tools/gen_kquant_fixtures.py: random
/// super-blocks and gguf.quants.dequantize's values for them.
private struct KQuantReference: Decodable {
    struct Encoding: Decodable {
        let bytes: String
        let values: [Float]
    }
    let superBlocks: Int
    let encodings: [String: Encoding]

    static func load(filePath: String = #filePath) throws -> KQuantReference {
        var dir = URL(fileURLWithPath: filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Tests/Fixtures/quant").path) {
            guard dir.path != "/" else { throw CocoaError(.fileNoSuchFile) }
            dir = dir.deletingLastPathComponent()
        }
        let url = dir.appendingPathComponent("Tests/Fixtures/quant/reference-kquants.json")
        return try JSONDecoder().decode(KQuantReference.self, from: Data(contentsOf: url))
    }
}

private func bytesFromHex(_ hex: String) -> [UInt8] {
    var out: [UInt8] = [], index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        out.append(UInt8(hex[index..<next], radix: 16) ?? 0)
        index = next
    }
    return out
}

private func decode(_ kind: WeightKind, _ bytes: [UInt8], count: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: count)
    bytes.withUnsafeBytes { src in
        out.withUnsafeMutableBufferPointer { dequantizeRow(kind, src.baseAddress!, into: $0.baseAddress!, count: count) }
    }
    return out
}

private func encode(_ kind: WeightKind, _ values: [Float]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: kind.rowBytes(columns: values.count))
    values.withUnsafeBufferPointer { v in out.withUnsafeMutableBytes { quantizeRow(kind, v.baseAddress!, count: values.count, into: $0.baseAddress!) } }
    return out
}

/// Roughly Gaussian values (sum of four uniforms), with a few outliers (every 97th value ×8)
/// unless `outliers` is false: weight-like rows.
private func weightLike(_ rng: inout TestRNG, _ count: Int, scale: Float, outliers: Bool = true) -> [Float] {
    (0..<count).map { i in
        let g = (rng.float() + rng.float() + rng.float() + rng.float()) * 0.866 * scale
        return outliers && i % 97 == 13 ? g * 8 : g
    }
}

@Suite struct KQuantTests {
    @Test(arguments: [WeightKind.q4_K, .q6_K])
    func decodeMatchesGGUFPy(kind: WeightKind) throws {
        let reference = try KQuantReference.load()
        let encoding = try #require(reference.encodings[kind == .q4_K ? "q4_K" : "q6_K"])
        let bytes = bytesFromHex(encoding.bytes), count = 256 * reference.superBlocks
        #expect(bytes.count == kind.rowBytes(columns: count))
        let ours = decode(kind, bytes, count: count)
        let spec = referenceDecode(kind, bytes, count: count)
        // numpy rounds d·sc·n and dmin·m separately before subtracting (two roundings), the
        // kernels fuse them (one): they agree to an ulp or so of the larger term.
        let scale = encoding.values.map { abs(Double($0)) }.max() ?? 0
        #expect(scale > 0)
        for i in 0..<count {
            let want = Double(encoding.values[i])
            #expect(abs(Double(ours[i]) - want) <= 1e-6 * scale, "\(kind)[\(i)]: ours \(ours[i]), gguf-py \(want)")
            #expect(abs(spec[i] - want) <= 1e-6 * scale, "\(kind)[\(i)]: spec decoder \(spec[i]), gguf-py \(want)")
        }
        // The fixture's all-zero q4_K block (d = dmin = 0).
        if kind == .q4_K { #expect(ours[768..<1024].allSatisfy { $0 == 0 }) }
    }

    /// Round-trip relative RMS error ‖decode(encode(x)) − x‖ / ‖x‖ on weight-like rows (64 rows
    /// × 1024, every 8th row 20× smaller), next to q8_0 / q4_0 / q4_1 on the same rows. Measured:
    ///   with outliers:     q8_0 0.0088, q6_K 0.026, q4_K 0.089, q4_1 0.095, q4_0 0.140
    ///   without outliers:  q8_0 0.0051, q6_K 0.017, q4_K 0.069, q4_1 0.076, q4_0 0.082
    /// q6_K sits between q8_0 and the 4-bit types; q4_K beats q4_1 with fewer bits (4.5 vs 5).
    @Test(arguments: [true, false])
    func roundTripErrorIsBounded(outliers: Bool) {
        var rng = TestRNG(seed: 0x4B51)
        let rows = (0..<64).map { r in weightLike(&rng, 1024, scale: r % 8 == 0 ? 1e-3 : 0.02, outliers: outliers) }
        var errors: [WeightKind: Double] = [:]
        for kind in [WeightKind.q8_0, .q4_0, .q4_1, .q4_K, .q6_K] {
            var num = 0.0, den = 0.0
            for x in rows {
                let y = decode(kind, encode(kind, x), count: x.count)
                for i in x.indices {
                    num += Double(y[i] - x[i]) * Double(y[i] - x[i])
                    den += Double(x[i]) * Double(x[i])
                }
            }
            errors[kind] = (num / den).squareRoot()
        }
        print("round-trip relative RMS (outliers: \(outliers)):", errors.sorted { $0.value < $1.value }.map { "\($0.key) \($0.value)" })
        let q6 = errors[.q6_K]!, q4 = errors[.q4_K]!
        #expect(q6 < 0.03)
        #expect(q6 < errors[.q4_1]! / 3)
        #expect(q6 > errors[.q8_0]!)
        #expect(q4 < 0.095)
        #expect(q4 < errors[.q4_1]!)
    }

    /// Every element of an encoding decodes (by the spec decoder, which the fixture test pins to
    /// gguf-py) to what dequantizeRow gives, and within a step of the input; edge rows too.
    @Test(arguments: [WeightKind.q4_K, .q6_K])
    func encodingsDecodeConsistently(kind: WeightKind) {
        var rng = TestRNG(seed: 0x6B6B)
        var inputs = (0..<6).map { _ in weightLike(&rng, 512, scale: 0.05) }
        inputs.append([Float](repeating: 0, count: 256))                                    // all zero
        inputs.append((0..<256).map { Float($0) / 64 })                                     // all positive ramp
        inputs.append((0..<256).map { $0 < 128 ? 0 : -Float($0) })                         // half zero, negative
        inputs.append((0..<256).map { $0 == 77 ? 1000 : Float($0 % 5) * 1e-3 })            // one huge outlier
        inputs.append((0..<256).map { Float($0 % 32 - 16) * 1e-30 })                        // tiny values
        for x in inputs {
            let bytes = encode(kind, x)
            let ours = decode(kind, bytes, count: x.count)
            let spec = referenceDecode(kind, bytes, count: x.count)
            for i in x.indices { #expect(ours[i] == Float(spec[i]), "\(kind)[\(i)]") }
            // Within a sub-block's range, plus one step of the super-block's 6-bit scale/min grid
            // (a sub-block whose own scale rounds to 0 decodes to its quantized min).
            for s in stride(from: 0, to: x.count, by: 32) {
                let sb = x[(s / 256 * 256)..<(s / 256 * 256 + 256)].map(abs).max()!
                let slice = x[s..<(s + 32)], span = (slice.max()! - slice.min()!) + slice.map(abs).max()! * 1e-2 + sb / 63
                for i in s..<(s + 32) {
                    #expect(abs(ours[i] - x[i]) <= span + 1e-35, "\(kind)[\(i)]: \(x[i]) → \(ours[i])")
                }
            }
        }
    }

    /// Integer dots at extreme codes: q6_K codes 0 and 63 (−32, +31) with scales ±128/127,
    /// q4_K nibbles 15 with 6-bit scale/min 63, against activations at ±Q.
    @Test(arguments: [WeightKind.q4_K, .q6_K])
    func extremeIntegerBlocks(kind: WeightKind) {
        let k = 512, n = 3
        var bytes: [UInt8] = []
        for r in 0..<n {
            for s in 0..<2 {
                if kind == .q4_K {
                    bytes += [Float16(0.01).bitPattern, Float16(0.02).bitPattern].flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
                    bytes += [UInt8](repeating: 0xFF, count: 12)                              // sc = m = 63
                    bytes += (0..<128).map { r == 0 || s == 1 ? 0xFF : UInt8(($0 * 37) & 0xFF) }
                } else {
                    bytes += (0..<192).map { r == 0 ? (s == 0 ? 0xFF : 0x00) : UInt8(($0 * 53 + r) & 0xFF) }
                    bytes += (0..<16).map { UInt8(bitPattern: $0 % 2 == 0 ? -128 : 127) }
                    let d = Float16(s == 0 ? 0.001 : -0.002).bitPattern
                    bytes += [UInt8(d & 0xFF), UInt8(d >> 8)]
                }
            }
        }
        for precision in [ActivationPrecision.int16, .int8] {
            for m in 1...2 {
                var x: [Float] = []
                for t in 0..<m {
                    for i in 0..<k { x.append(i < 256 ? (t == 0 ? 3 : -3) : (i % 2 == 0 ? 1 : -1)) }
                }
                _ = IntegerDotTests.check(kind, precision, bytes: bytes, x: x, m: m, n: n, k: k, threads: 2,
                                          label: "\(kind)×\(precision) extremes M=\(m)")
            }
        }
    }
}
