import Foundation
import IQuestFormats
import Testing

/// Typed metadata accessors on GGUFFile and GGUFValue conversions.
@Suite struct GGUFMetadataAccessTests {
    static func file(_ dir: TempDir) throws -> GGUFFile {
        let w = try GGUFWriter()
        try w.addMetadata("general.architecture", .string("llama"))
        try w.addMetadata("n", .uint32(30))
        try w.addMetadata("big", .uint64(.max))
        try w.addMetadata("eps", .float32(1e-5))
        try w.addMetadata("flag", .bool(true))
        try w.addMetadata("toks", .array(.string, [.string("a"), .string("b")]))
        try w.addMetadata("ids", .array(.int32, [.int32(-1), .int32(2)]))
        try w.addMetadata("scores", .array(.float32, [.float32(0.5), .float32(-1)]))
        let path = dir.path("m.gguf")
        try w.write(to: path)
        return try GGUFFile(path: path)
    }

    @Test func requiredAccessors() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let f = try Self.file(dir)
        #expect(f.architecture == "llama")
        #expect(try f.requireString("general.architecture") == "llama")
        #expect(try f.requireInt("n") == 30)
        #expect(try f.requireDouble("n") == 30)
        #expect(try f.requireDouble("eps") == Double(Float(1e-5)))
        #expect(try f.requireStringArray("toks") == ["a", "b"])
        #expect(throws: GGUFError(path: f.path, defect: .missingMetadata("absent"))) { try f.requireInt("absent") }
        #expect(throws: GGUFError(path: f.path, defect: .wrongMetadataType(key: "n", expected: "string"))) {
            try f.requireString("n")
        }
        #expect(throws: GGUFError(path: f.path, defect: .wrongMetadataType(key: "big", expected: "integer"))) {
            try f.requireInt("big")
        }
        #expect(throws: GGUFError(path: f.path, defect: .wrongMetadataType(key: "ids", expected: "array of strings"))) {
            try f.requireStringArray("ids")
        }
    }

    @Test func optionalAccessors() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let f = try Self.file(dir)
        #expect(try f.string("absent") == nil)
        #expect(try f.int("absent") == nil)
        #expect(try f.bool("flag") == true)
        #expect(try f.int("n") == 30)
        #expect(try f.double("eps") == Double(Float(1e-5)))
        #expect(try f.stringArray("toks") == ["a", "b"])
        #expect(try f.intArray("ids") == [-1, 2])
        #expect(try f.floatArray("scores") == [0.5, -1])
        #expect(try f.floatArray("ids") == [-1, 2])
        #expect(throws: GGUFError(path: f.path, defect: .wrongMetadataType(key: "flag", expected: "integer"))) {
            try f.int("flag")
        }
        #expect(throws: GGUFError(path: f.path, defect: .wrongMetadataType(key: "toks", expected: "array of integers"))) {
            try f.intArray("toks")
        }
        #expect(throws: GGUFError.self) { try f.bool("n") }
    }

    @Test func valueConversions() {
        #expect(GGUFValue.int8(-3).intValue == -3)
        #expect(GGUFValue.uint64(.max).intValue == nil)
        #expect(GGUFValue.int64(.min).intValue == Int.min)
        #expect(GGUFValue.float32(2.5).intValue == nil)
        #expect(GGUFValue.uint16(7).doubleValue == 7)
        #expect(GGUFValue.float64(0.25).doubleValue == 0.25)
        #expect(GGUFValue.string("s").doubleValue == nil)
        #expect(GGUFValue.string("s").stringValue == "s")
        #expect(GGUFValue.bool(false).boolValue == false)
        #expect(GGUFValue.uint8(0).boolValue == nil)
        #expect(GGUFValue.array(.bool, [.bool(true)]).arrayValues == [.bool(true)])
        #expect(GGUFValue.string("s").arrayValues == nil)
    }

    @Test func typeSizes() {
        let expected: [GGMLType: (Int, Int)] = [
            .f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .q4_0: (32, 18), .q4_1: (32, 20),
            .q8_0: (32, 34), .q4_K: (256, 144), .q6_K: (256, 210),
        ]
        for t in GGMLType.allCases {
            #expect(t.blockSize == expected[t]?.0, "\(t)")
            #expect(t.bytesPerBlock == expected[t]?.1, "\(t)")
        }
        #expect(GGMLType.q4_K.byteCount(elements: 512) == 288)
        #expect(GGMLType.q4_K.byteCount(elements: 300) == nil)
        #expect(GGMLType.f16.byteCount(elements: 3) == 6)
        #expect(GGMLType.q8_0.byteCount(elements: -32) == nil)
        #expect(GGMLType.f32.byteCount(elements: Int.max) == nil)
    }
}
