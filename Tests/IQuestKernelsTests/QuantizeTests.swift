import Foundation
import IQuestKernels
import Testing

/// Tests/Fixtures/quant/reference-quants.json, written by tools/gen_quant_fixtures.py with the
/// reference `gguf` library's quantizers.
private struct QuantReference: Decodable {
    let rows: Int
    let columns: Int
    let values: [[Float]]
    let encodings: [String: String]

    static func load(filePath: String = #filePath) throws -> QuantReference {
        var dir = URL(fileURLWithPath: filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            guard dir.path != "/" else { throw CocoaError(.fileNoSuchFile) }
            dir = dir.deletingLastPathComponent()
        }
        let url = dir.appendingPathComponent("Tests/Fixtures/quant/reference-quants.json")
        return try JSONDecoder().decode(QuantReference.self, from: Data(contentsOf: url))
    }
}

private func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        out.append(UInt8(hex[index..<next], radix: 16) ?? 0)
        index = next
    }
    return out
}

@Suite("quantizers vs gguf-py")
struct QuantizeTests {
    @Test("encodings are byte-identical to the reference library", arguments: [
        ("q8_0", WeightKind.q8_0), ("q4_0", .q4_0), ("q4_1", .q4_1), ("f16", .f16), ("bf16", .bf16),
    ])
    func byteIdentical(name: String, kind: WeightKind) throws {
        let reference = try QuantReference.load()
        let expected = hexBytes(try #require(reference.encodings[name]))
        let rowBytes = kind.rowBytes(columns: reference.columns)
        #expect(expected.count == rowBytes * reference.rows)
        var ours = [UInt8](repeating: 0, count: rowBytes * reference.rows)
        ours.withUnsafeMutableBytes { out in
            for (r, values) in reference.values.enumerated() {
                values.withUnsafeBufferPointer { quantizeRow(kind, $0.baseAddress!, count: reference.columns, into: out.baseAddress! + r * rowBytes) }
            }
        }
        let firstDifference = zip(ours, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil, "\(name): first differing byte at \(firstDifference ?? -1)")
    }

    @Test("decoding an encoding stays within half a quantization step", arguments: [WeightKind.q8_0, .q4_0, .q4_1])
    func roundTripError(kind: WeightKind) throws {
        let reference = try QuantReference.load()
        for values in reference.values {
            var encoded = [UInt8](repeating: 0, count: kind.rowBytes(columns: values.count))
            var decoded = [Float](repeating: 0, count: values.count)
            values.withUnsafeBufferPointer { v in
                encoded.withUnsafeMutableBytes { quantizeRow(kind, v.baseAddress!, count: values.count, into: $0.baseAddress!) }
            }
            encoded.withUnsafeBytes { e in
                decoded.withUnsafeMutableBufferPointer { dequantizeRow(kind, e.baseAddress!, into: $0.baseAddress!, count: values.count) }
            }
            for block in stride(from: 0, to: values.count, by: 32) {
                let slice = values[block..<(block + 32)]
                let lo = slice.min()!, hi = slice.max()!, amax = slice.map(abs).max()!
                // Half a step by each format's definition (q4_0 clamps the far side of its signed
                // range, up to a whole step), plus the scale (and q4_1's min) rounded to f16:
                // relative error ≤ 2⁻¹¹ times the largest code.
                let half: Float = 1.0 / 2048
                let bound: Float
                switch kind {
                case .q8_0: bound = (amax / 127) * (0.5 + 127 * half)
                case .q4_0: bound = (amax / 8) * (1 + 8 * half)
                default: bound = ((hi - lo) / 15) * (0.5 + 15 * half) + abs(lo) * half
                }
                for i in block..<(block + 32) {
                    #expect(abs(decoded[i] - values[i]) <= bound * 1.001 + 1e-7,
                            "\(kind) element \(i): \(values[i]) decoded as \(decoded[i])")
                }
            }
        }
    }

    @Test("non-finite inputs do not crash the quantizers")
    func nonFinite() {
        var values = [Float](repeating: 1, count: 256)
        values[3] = .nan
        values[7] = .infinity
        values[100] = -.infinity
        for kind in WeightKind.allCases {
            var out = [UInt8](repeating: 0, count: kind.rowBytes(columns: 256))
            values.withUnsafeBufferPointer { v in out.withUnsafeMutableBytes { quantizeRow(kind, v.baseAddress!, count: 256, into: $0.baseAddress!) } }
            #expect(out.count == kind.rowBytes(columns: 256))
        }
    }
}
