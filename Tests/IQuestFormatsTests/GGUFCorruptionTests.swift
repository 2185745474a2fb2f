import Foundation
import IQuestFormats
import Testing

/// Every structural defect is rejected with its own `GGUFError.Defect`.
@Suite struct GGUFCorruptionTests {
    typealias D = GGUFError.Defect

    private func check(_ bytes: [UInt8], _ expected: D, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let got = try defect(of: bytes, in: dir)
        #expect(got == expected, sourceLocation: sourceLocation)
    }

    @Test func baseFileIsValid() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let g = smallGGUF()
        let f = try GGUFFile(path: try dir.write(g.bytes, "ok.gguf"))
        #expect(f.metadataKeys == ["general.architecture", "general.alignment", "tok"])
        #expect(f.tensors.map(\.name) == ["a", "b"])
        #expect(f.dataOffset == g.marks["data"])
        #expect(Array(f.data(for: f.tensors[1])) == (0..<68).map { UInt8(255 - $0) })
    }

    @Test func truncatedHeader() throws {
        try check(Array(smallGGUF().bytes.prefix(12)), .truncated("the header (tensor count)"))
        try check(Array(smallGGUF().bytes.prefix(3)), .truncated("the header (magic)"))
    }

    @Test func truncatedMetadata() throws {
        let g = smallGGUF()
        let cut = g.marks["type1"]! + 2  // inside the value type of general.alignment
        try check(Array(g.bytes.prefix(cut)), .truncated("value type of 'general.alignment'"))
    }

    @Test func truncatedTensorInfos() throws {
        let g = smallGGUF()
        let cut = g.marks["toffset1"]! + 5  // inside the data offset of tensor "b"
        try check(Array(g.bytes.prefix(cut)), .truncated("data offset of tensor 'b'"))
    }

    @Test func truncatedTensorData() throws {
        let g = smallGGUF()
        try check(Array(g.bytes.prefix(g.marks["end"]! - 40)), .tensorDataOutOfBounds("b"))
    }

    @Test func everyPrefixIsRejectedWithoutCrashing() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let g = smallGGUF()
        // The last tensor ends 28 bytes before the final padding; shorter prefixes must fail.
        let lastByte = g.marks["data"]! + 128 + 68
        for n in 1..<lastByte {
            let d = try defect(of: Array(g.bytes.prefix(n)), in: dir)
            #expect(d != nil, "prefix of \(n) bytes was accepted")
        }
        #expect(try defect(of: Array(g.bytes.prefix(lastByte)), in: dir) == nil)
    }

    @Test func randomByteFlipsNeverCrash() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let base = smallGGUF().bytes
        let headerEnd = smallGGUF().marks["data"]!
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {  // splitmix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var rejected = 0
        for _ in 0..<400 {
            var b = base
            for _ in 0..<3 { b[Int(next() % UInt64(headerEnd))] = UInt8(truncatingIfNeeded: next()) }
            if try defect(of: b, in: dir) != nil { rejected += 1 }
        }
        #expect(rejected > 0)
    }

    @Test func badMagic() throws {
        var g = smallGGUF()
        g.bytes[0] = UInt8(ascii: "X")
        try check(g.bytes, .badMagic)
    }

    @Test func unsupportedVersions() throws {
        for v: UInt32 in [1, 4, 0x0300_0000] {
            var g = smallGGUF()
            g.patch32("version", v)
            try check(g.bytes, .unsupportedVersion(v))
        }
    }

    @Test func hugeKVCount() throws {
        var g = smallGGUF()
        g.patch64("kvCount", 1 << 40)
        try check(g.bytes, .countTooLarge("metadata key/value count", 1 << 40))
    }

    @Test func hugeTensorCount() throws {
        var g = smallGGUF()
        g.patch64("tensorCount", UInt64.max)
        try check(g.bytes, .countTooLarge("tensor count", UInt64.max))
    }

    @Test func hugeStringLength() throws {
        var g = smallGGUF()
        g.patch64("value0", UInt64.max - 1)
        try check(g.bytes, .countTooLarge("length of string value of 'general.architecture'", UInt64.max - 1))
        var k = smallGGUF()
        k.patch64("key1", 1 << 50)
        try check(k.bytes, .countTooLarge("length of metadata key #1", 1 << 50))
    }

    @Test func hugeArrayLength() throws {
        var g = smallGGUF()
        g.patch64("value2", 1 << 45, plus: 4)  // after the u32 element type
        try check(g.bytes, .countTooLarge("array length of 'tok'", 1 << 45))
    }

    @Test func tooManyDimensions() throws {
        var g = smallGGUF()
        g.patch32("ndims0", 5)
        try check(g.bytes, .countTooLarge("dimension count of tensor 'a' (at most 4)", 5))
    }

    @Test func badValueType() throws {
        var g = smallGGUF()
        g.patch32("type0", 13)
        try check(g.bytes, .unknownValueType(13))
        var a = smallGGUF()
        a.patch32("value2", 99)  // array element type
        try check(a.bytes, .unknownValueType(99))
    }

    @Test func unknownTensorType() throws {
        var g = smallGGUF()
        g.patch32("ttype0", 6)  // q5_0: valid ggml, not supported here
        try check(g.bytes, .unknownTensorType(name: "a", type: 6))
    }

    @Test func ne0NotMultipleOfBlockSize() throws {
        var g = smallGGUF()
        g.patch64("dims1", 48)  // q8_0 blocks hold 32
        try check(g.bytes, .shapeTypeMismatch("tensor 'b' has ne0 = 48, not a multiple of the q8_0 block size 32"))
    }

    @Test func offsetPastEnd() throws {
        var g = smallGGUF()
        g.patch64("toffset1", 1 << 20)
        try check(g.bytes, .tensorDataOutOfBounds("b"))
        var h = smallGGUF()
        h.patch64("toffset1", UInt64.max - 31)  // aligned, beyond Int
        try check(h.bytes, .tensorDataOutOfBounds("b"))
    }

    @Test func misalignedOffset() throws {
        var g = smallGGUF()
        g.patch64("toffset1", 130)
        try check(g.bytes, .misalignedTensor("b"))
    }

    @Test func duplicateTensorName() throws {
        try check(smallGGUF(tensorNames: ["a", "a"]).bytes, .duplicateTensor("a"))
    }

    @Test func duplicateKey() throws {
        try check(smallGGUF(keys: ["general.architecture", "general.alignment", "general.architecture"]).bytes,
                  .duplicateKey("general.architecture"))
    }

    @Test func nonPowerOfTwoAlignment() throws {
        for a: UInt32 in [48, 0, 3] {
            var g = smallGGUF()
            g.patch32("value1", a)
            try check(g.bytes, .badAlignment(UInt64(a)))
        }
    }

    @Test func alignmentOfWrongType() throws {
        var g = smallGGUF()
        g.patch32("type1", 6)  // the same 4 bytes read as float32
        try check(g.bytes, .wrongMetadataType(key: "general.alignment", expected: "integer"))
    }

    @Test func invalidUTF8() throws {
        var v = smallGGUF()
        v.bytes[v.marks["value0"]! + 8 + 1] = 0xFF
        try check(v.bytes, .invalidUTF8("string value of 'general.architecture'"))
        var k = smallGGUF()
        k.bytes[k.marks["key0"]! + 8] = 0xC3  // lead byte followed by ASCII
        try check(k.bytes, .invalidUTF8("metadata key #0"))
        var t = smallGGUF()
        t.bytes[t.marks["tname1"]! + 8] = 0x80
        try check(t.bytes, .invalidUTF8("name of tensor #1"))
    }

    @Test func notAFileOrMissingOrEmpty() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        func open(_ p: String) -> GGUFError? {
            do { _ = try GGUFFile(path: p); return nil } catch { return error }
        }
        #expect(open(dir.url.path)?.defect == .notAFile)
        let missing = dir.path("missing.gguf")
        let e = open(missing)
        #expect(e?.defect == .ioError("cannot open the file: no such file."))
        #expect(e?.description == "\(missing): cannot open the file: no such file.")
        let empty = try dir.write([], "empty.gguf")
        #expect(open(empty)?.defect == .ioError("the file is empty (0 bytes)."))
    }

    @Test func descriptionNamesFileAndDefect() {
        let e = GGUFError(path: "/m/x.gguf", defect: .duplicateTensor("w"))
        #expect(e.description == "/m/x.gguf: tensor name 'w' appears more than once.")
        let v = GGUFError(path: "f", defect: .unsupportedVersion(0x0300_0000))
        #expect(v.description.contains("big-endian"))
    }
}
