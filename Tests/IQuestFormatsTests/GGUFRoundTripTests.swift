import Foundation
import IQuestFormats
import Testing

/// GGUFWriter → GGUFFile round trips.
@Suite struct GGUFRoundTripTests {
    static let scalars: [(String, GGUFValue)] = [
        ("u8", .uint8(255)), ("i8", .int8(-128)), ("u16", .uint16(65535)), ("i16", .int16(-32768)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)),
        ("f32", .float32(-1.5e-7)), ("f32inf", .float32(.infinity)), ("f32sub", .float32(.leastNonzeroMagnitude)),
        ("bool.t", .bool(true)), ("bool.f", .bool(false)),
        ("str", .string("héllo ✓ 世界")), ("str.empty", .string("")),
        ("u64", .uint64(.max)), ("i64", .int64(.min)), ("f64", .float64(-0.0)), ("f64pi", .float64(.pi)),
    ]

    static let arrays: [(String, GGUFValue)] = [
        ("a.u8", .array(.uint8, [.uint8(0), .uint8(7)])),
        ("a.i32", .array(.int32, (-3...3).map { .int32(Int32($0)) })),
        ("a.f32", .array(.float32, [.float32(1), .float32(-2.25)])),
        ("a.f64", .array(.float64, [.float64(1e300)])),
        ("a.bool", .array(.bool, [.bool(true), .bool(false)])),
        ("a.str", .array(.string, [.string("a"), .string(""), .string("Ġ t")])),
        ("a.u64", .array(.uint64, [.uint64(1 << 63)])),
        ("a.empty", .array(.int64, [])),
        ("a.nested", .array(.array, [
            .array(.string, [.string("x"), .string("yz")]),
            .array(.string, []),
            .array(.string, [.string("w")]),
        ])),
        ("a.nested2", .array(.array, [.array(.array, [.array(.uint16, [.uint16(9)])])])),
    ]

    /// Deterministic filler bytes.
    static func bytes(_ n: Int, seed: UInt8) -> [UInt8] {
        (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 17) }
    }

    /// One tensor per GGMLType, 2-D, ne0 = two blocks (or 5 for unblocked types).
    static let tensorSpecs: [(name: String, shape: [Int], type: GGMLType)] = GGMLType.allCases.map { t in
        (name: "t.\(t.name)", shape: [t.blockSize == 1 ? 5 : 2 * t.blockSize, 3], type: t)
    }

    @Test(arguments: [UInt32(2), 3], [nil, 32, 64] as [UInt32?])
    func roundTrip(version: UInt32, alignment: UInt32?) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let w = try GGUFWriter(version: version)
        if let alignment { try w.addMetadata("general.alignment", .uint32(alignment)) }
        for (k, v) in Self.scalars + Self.arrays { try w.addMetadata(k, v) }
        var payloads: [String: [UInt8]] = [:]
        for (i, spec) in Self.tensorSpecs.enumerated() {
            let n = try #require(spec.type.byteCount(elements: spec.shape.reduce(1, *)))
            let data = Self.bytes(n, seed: UInt8(i))
            payloads[spec.name] = data
            try w.addTensor(name: spec.name, shape: spec.shape, type: spec.type, data: data)
        }
        let path = dir.path("rt.gguf")
        try w.write(to: path)
        #expect(!FileManager.default.fileExists(atPath: path + ".part"))

        let f = try GGUFFile(path: path)
        let a = Int(alignment ?? 32)
        #expect(f.version == version)
        #expect(f.alignment == a)
        #expect(f.dataOffset % a == 0)
        let expectedKeys = (alignment == nil ? [] : ["general.alignment"]) + (Self.scalars + Self.arrays).map(\.0)
        #expect(f.metadataKeys == expectedKeys)
        for (k, v) in Self.scalars + Self.arrays {
            #expect(f.metadata[k] == v, "key \(k)")
        }
        #expect(f.tensors == w.tensorInfos)
        #expect(f.tensors.map(\.name) == Self.tensorSpecs.map(\.name))
        for (spec, info) in zip(Self.tensorSpecs, f.tensors) {
            #expect(info.shape == spec.shape)
            #expect(info.type == spec.type)
            #expect(info.offset % a == 0)
            #expect(info.elementCount == spec.shape.reduce(1, *))
            #expect(Array(f.data(for: info)) == payloads[spec.name], "data of \(spec.name)")
            #expect(f.tensor(named: spec.name) == info)
        }
        #expect(f.tensor(named: "absent") == nil)
        let last = try #require(f.tensors.last)
        #expect(f.fileSize == f.dataOffset + (last.offset + last.byteCount + a - 1) / a * a)
    }

    @Test func streamingWriteIsAtomic() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let w = try GGUFWriter()
        try w.addMetadata("general.architecture", .string("llama"))
        try w.addTensor(name: "x", shape: [64], type: .q8_0)
        try w.addTensor(name: "y", shape: [3], type: .f16)
        let path = dir.path("s.gguf")
        try w.beginTensorData(path: path)
        #expect(FileManager.default.fileExists(atPath: path + ".part"))
        #expect(!FileManager.default.fileExists(atPath: path))
        try Self.bytes(68, seed: 1).withUnsafeBytes { try w.write(tensorData: $0) }
        #expect(throws: GGUFWriteError.missingTensorData("y")) { try w.finish() }
    }

    @Test func streamingWriteProducesReadableFile() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let w = try GGUFWriter()
        try w.addTensor(name: "x", shape: [64], type: .q8_0)
        try w.addTensor(name: "y", shape: [3], type: .f16)
        let path = dir.path("s.gguf")
        try w.beginTensorData(path: path)
        let x = Self.bytes(68, seed: 1), y = Self.bytes(6, seed: 2)
        try x.withUnsafeBytes { try w.write(tensorData: $0) }
        #expect(throws: GGUFWriteError.dataSizeMismatch(name: "y", expected: 6, actual: 7)) {
            try [UInt8](repeating: 0, count: 7).withUnsafeBytes { try w.write(tensorData: $0) }
        }
        try y.withUnsafeBytes { try w.write(tensorData: $0) }
        try w.finish()
        #expect(!FileManager.default.fileExists(atPath: path + ".part"))
        let f = try GGUFFile(path: path)
        #expect(f.metadataKeys.isEmpty)
        #expect(try Array(f.data(for: #require(f.tensor(named: "x")))) == x)
        #expect(try Array(f.data(for: #require(f.tensor(named: "y")))) == y)
        #expect(f.tensor(named: "y")?.offset == 96)
    }

    @Test func abandonedWriterRemovesPartFile() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("gone.gguf")
        do {
            let w = try GGUFWriter()
            try w.addTensor(name: "x", shape: [2], type: .f32)
            try w.beginTensorData(path: path)
            #expect(FileManager.default.fileExists(atPath: path + ".part"))
        }
        #expect(!FileManager.default.fileExists(atPath: path + ".part"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func writerRejectsMisuse() throws {
        #expect(throws: GGUFWriteError.unsupportedVersion(1)) { try GGUFWriter(version: 1) }
        let w = try GGUFWriter()
        try w.addMetadata("k", .uint8(1))
        #expect(throws: GGUFWriteError.duplicateKey("k")) { try w.addMetadata("k", .uint8(2)) }
        #expect(throws: GGUFWriteError.invalidValue(
            key: "mixed", reason: "array element 1 is int8, the array holds uint8")) {
            try w.addMetadata("mixed", .array(.uint8, [.uint8(1), .int8(1)]))
        }
        #expect(throws: GGUFWriteError.self) { try w.addMetadata("general.alignment", .uint32(48)) }
        #expect(throws: GGUFWriteError.self) { try w.addMetadata("general.alignment", .uint64(64)) }
        #expect(throws: GGUFWriteError.invalidShape(
            name: "q", reason: "ne0 = 33 is not a multiple of the q4_0 block size 32")) {
            try w.addTensor(name: "q", shape: [33], type: .q4_0)
        }
        #expect(throws: GGUFWriteError.self) { try w.addTensor(name: "five", shape: [1, 1, 1, 1, 1], type: .f32) }
        #expect(throws: GGUFWriteError.self) { try w.addTensor(name: "neg", shape: [-1], type: .f32) }
        #expect(throws: GGUFWriteError.dataSizeMismatch(name: "d", expected: 8, actual: 4)) {
            try w.addTensor(name: "d", shape: [2], type: .f32, data: [0, 0, 0, 0])
        }
        try w.addTensor(name: "t", shape: [2], type: .f32)
        #expect(throws: GGUFWriteError.duplicateTensor("t")) { try w.addTensor(name: "t", shape: [2], type: .f32) }
        #expect(throws: GGUFWriteError.missingTensorData("t")) { try w.write(to: "/nonexistent/x.gguf") }
        #expect(throws: GGUFWriteError.wrongState("finish() before beginTensorData")) { try w.finish() }
        #expect(throws: GGUFWriteError.self) { try w.beginTensorData(path: "/nonexistent-dir/x.gguf") }
    }
}
