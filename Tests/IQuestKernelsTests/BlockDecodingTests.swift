import Foundation
import IQuestKernels
import Testing

/// `dequantizeRow` for every weight kind against scalar decoders written from ggml's block layouts.
@Suite struct BlockDecodingTests {
    @Test(arguments: WeightKind.allCases)
    func dequantizeRowMatchesScalarDecoder(kind: WeightKind) {
        var rng = TestRNG(seed: 0xDEC0DE &+ UInt64(WeightKind.allCases.firstIndex(of: kind)!))
        for count in [32, 64, 224, 256, 1024] where count % kind.blockSize == 0 {
            for _ in 0..<8 {
                let bytes = randomWeightBytes(kind, rows: 1, columns: count, rng: &rng)
                #expect(bytes.count == kind.rowBytes(columns: count))
                let expected = referenceDecode(kind, bytes, count: count)
                // A guard value after the row catches writes past `count`.
                var out = [Float](repeating: .nan, count: count + 8)
                out[count...] = ArraySlice(repeating: 12345, count: 8)
                bytes.withUnsafeBytes { src in
                    out.withUnsafeMutableBufferPointer { dequantizeRow(kind, src.baseAddress!, into: $0.baseAddress!, count: count) }
                }
                var mismatches: [String] = []
                // k-quants: d·sc·n − dmin·m (q4_K) and d·sc·c (q6_K) need up to 25 significant
                // bits; the kernels compute them with one rounding (FMA of exact products).
                let rounded = kind.blockSize == 256
                for i in 0..<count where rounded ? out[i] != Float(expected[i]) : Double(out[i]) != expected[i] {
                    if mismatches.count < 5 { mismatches.append("[\(i)] got \(out[i]) expected \(expected[i])") }
                }
                // Every value above is exactly representable in f32 (f16/bf16 widen exactly; d·q
                // has at most 19 significant bits; d·n + m rounds once), so decoding is exact.
                #expect(mismatches.isEmpty, "\(kind) count \(count): \(mismatches.joined(separator: ", "))")
                #expect(out[count...].allSatisfy { $0 == 12345 }, "\(kind): wrote past the end of the row")
            }
        }
    }

    /// Hand-built blocks whose decoded values are known without any decoder.
    @Test func handBuiltBlocks() {
        // q8_0: d = 0.5 (f16 0x3800), q = -128, -1, 0, 1, 127, ...
        var q8: [UInt8] = [0x00, 0x38]
        let q8q: [Int8] = (0..<32).map { Int8(truncatingIfNeeded: $0 * 9 - 128) }
        q8 += q8q.map { UInt8(bitPattern: $0) }
        // q4_0: d = 2 (0x4000); byte j = (hi = 15 - j % 16, lo = j % 16)
        var q40: [UInt8] = [0x00, 0x40]
        q40 += (0..<16).map { UInt8(((15 - $0) << 4) | $0) }
        // q4_1: d = 0.25 (0x3400), m = -1 (0xBC00)
        var q41: [UInt8] = [0x00, 0x34, 0x00, 0xBC]
        q41 += (0..<16).map { UInt8(((15 - $0) << 4) | $0) }

        func decode(_ kind: WeightKind, _ bytes: [UInt8]) -> [Float] {
            var out = [Float](repeating: 0, count: 32)
            bytes.withUnsafeBytes { src in
                out.withUnsafeMutableBufferPointer { dequantizeRow(kind, src.baseAddress!, into: $0.baseAddress!, count: 32) }
            }
            return out
        }
        #expect(decode(.q8_0, q8) == q8q.map { Float($0) * 0.5 })
        let lowThenHigh = (0..<16).map { Float($0) } + (0..<16).map { Float(15 - $0) }
        #expect(decode(.q4_0, q40) == lowThenHigh.map { 2 * ($0 - 8) })
        #expect(decode(.q4_1, q41) == lowThenHigh.map { 0.25 * $0 - 1 })

        // f16 specials: 1, -2, 65504 (max), smallest subnormal 2^-24, -0.
        let halves: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000] + [UInt16](repeating: 0x3555, count: 27)
        let f16 = decode(.f16, halves.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        #expect(Array(f16[0..<4]) == [1, -2, 65504, Float(pow(2.0, -24.0))])
        #expect(f16[4] == 0 && f16[4].sign == .minus)
        #expect(abs(f16[5] - 0.333251953125) == 0)
        // bf16: 1.0 = 0x3F80, -3.5 = 0xC060, 2^-130 (denormal f32) = 0x0010.
        let bf: [UInt16] = [0x3F80, 0xC060, 0x0010] + [UInt16](repeating: 0x4049, count: 29)
        let bf16 = decode(.bf16, bf.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        #expect(Array(bf16[0..<3]) == [1, -3.5, Float(bitPattern: 0x0010_0000)])
        #expect(bf16[3] == 3.140625)
    }

    @Test func scalarHalfConversions() {
        var rng = TestRNG(seed: 99)
        for _ in 0..<20_000 {
            let bits = rng.u16()
            let exponent = (bits >> 10) & 0x1F
            if exponent == 31 { continue }
            #expect(Double(float16ToFloat(bits)) == referenceHalf(bits), "f16 bits \(String(bits, radix: 16))")
            #expect(Double(bfloat16ToFloat(bits)) == referenceBFloat(bits) || referenceBFloat(bits).isNaN)
        }
    }

    @Test func rowBytesFollowBlockLayouts() {
        let expected: [WeightKind: Int] = [.f32: 4 * 64, .f16: 2 * 64, .bf16: 2 * 64, .q8_0: 2 * 34, .q4_0: 2 * 18, .q4_1: 2 * 20]
        for kind in WeightKind.allCases where kind.blockSize <= 32 {
            #expect(kind.rowBytes(columns: 64) == expected[kind], "\(kind)")
        }
        #expect(WeightKind.q4_K.rowBytes(columns: 512) == 2 * 144)
        #expect(WeightKind.q6_K.rowBytes(columns: 512) == 2 * 210)
    }
}
