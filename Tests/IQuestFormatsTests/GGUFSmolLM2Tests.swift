import Foundation
import IQuestFormats
import Testing

/// The real SmolLM2-135M Q4_1 file against a dump made by the reference Python `gguf` library
/// (tools/gen_gguf_fixture.py → Tests/Fixtures/gguf/smollm2-q4_1.json).
@Suite struct GGUFSmolLM2Tests {
    static var modelPath: String {
        let env = ProcessInfo.processInfo.environment["IQUEST_CACHE"]
        let cache = env.flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/iquest").path
        return cache + "/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    }

    /// Opens the model, or records a failure telling how to fetch it.
    static func open(sourceLocation: SourceLocation = #_sourceLocation) throws -> GGUFFile? {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            Issue.record("missing test asset \(modelPath): run tools/fetch-assets.sh", sourceLocation: sourceLocation)
            return nil
        }
        return try GGUFFile(path: modelPath)
    }

    struct Fixture: Decodable {
        let version: UInt32
        let alignment: Int
        let data_offset: Int
        let tensor_count: Int
        let metadata_keys: [String]
        let metadata: [String: Entry]
        let tensors: [Tensor]

        struct Entry: Decodable {
            let type: String
            let value: JSONScalar?
            let element_type: String?
            let length: Int?
            let first: [JSONScalar]?
            let last: [JSONScalar]?
        }

        struct Tensor: Decodable {
            let name: String
            let shape: [Int]
            let type: UInt32
            let offset: Int
            let n_bytes: Int
        }
    }

    enum JSONScalar: Decodable, Equatable {
        case bool(Bool), int(Int64), uint(UInt64), double(Double), string(String)

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let i = try? c.decode(Int64.self) { self = .int(i) }
            else if let u = try? c.decode(UInt64.self) { self = .uint(u) }
            else if let d = try? c.decode(Double.self) { self = .double(d) }
            else { self = .string(try c.decode(String.self)) }
        }
    }

    /// The fixture's view of a reader value.
    static func scalar(_ v: GGUFValue) -> JSONScalar? {
        switch v {
        case .bool(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .float32(let f): return .double(Double(f))
        case .float64(let d): return .double(d)
        case .uint64(let u) where u > UInt64(Int64.max): return .uint(u)
        default: return v.intValue.map { .int(Int64($0)) }
        }
    }

    /// Reader value equals fixture value; JSON does not keep 100000.0 apart from 100000.
    static func same(_ v: GGUFValue, _ j: JSONScalar?) -> Bool {
        guard let j else { return false }
        switch (v, j) {
        case (.float32, .int(let i)), (.float64, .int(let i)): return v.doubleValue == Double(i)
        default: return scalar(v) == j
        }
    }

    static func same(_ values: ArraySlice<GGUFValue>, _ js: [JSONScalar]?) -> Bool {
        guard let js, values.count == js.count else { return false }
        return zip(values, js).allSatisfy { same($0, $1) }
    }

    static func fixture() throws -> Fixture {
        let url = repoRoot.appendingPathComponent("Tests/Fixtures/gguf/smollm2-q4_1.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    @Test func matchesReferenceDump() throws {
        guard let f = try Self.open() else { return }
        let fx = try Self.fixture()
        #expect(f.version == fx.version)
        #expect(f.alignment == fx.alignment)
        #expect(f.dataOffset == fx.data_offset)
        #expect(f.tensors.count == fx.tensor_count)
        #expect(f.metadataKeys == fx.metadata_keys)

        for key in fx.metadata_keys {
            let entry = try #require(fx.metadata[key])
            let value = try #require(f.metadata[key], "key \(key)")
            if entry.type == "array" {
                guard case .array(let et, let items) = value else {
                    Issue.record("\(key) is \(value.typeDescription), expected an array")
                    continue
                }
                #expect("\(et)" == entry.element_type, "key \(key)")
                #expect(items.count == entry.length, "key \(key)")
                #expect(Self.same(items.prefix(3), entry.first), "key \(key): \(items.prefix(3))")
                #expect(Self.same(items.suffix(3), entry.last), "key \(key): \(items.suffix(3))")
            } else {
                #expect("\(value.type)" == entry.type, "key \(key)")
                #expect(Self.same(value, entry.value), "key \(key): \(value) vs \(String(describing: entry.value))")
            }
        }

        #expect(f.tensors.map(\.name) == fx.tensors.map(\.name))
        for (t, e) in zip(f.tensors, fx.tensors) {
            #expect(t.shape == e.shape, "\(t.name)")
            #expect(t.type.rawValue == e.type, "\(t.name)")
            #expect(t.offset == e.offset, "\(t.name)")
            #expect(t.byteCount == e.n_bytes, "\(t.name)")
        }
    }

    @Test func modelFacts() throws {
        guard let f = try Self.open() else { return }
        #expect(f.architecture == "llama")
        #expect(try f.requireInt("llama.block_count") == 30)
        #expect(try f.requireStringArray("tokenizer.ggml.tokens").count == 49152)
        #expect(try f.stringArray("tokenizer.ggml.merges")?.count == 48900)
        let emb = try #require(f.tensor(named: "token_embd.weight"))
        #expect(emb.shape == [576, 49152])
        #expect(emb.type == .q8_0)
        let data = f.data(for: emb)
        #expect(data.count == 49152 * 576 / 32 * 34)
        let last = try #require(f.tensors.max { $0.offset < $1.offset })
        #expect(f.dataOffset + last.offset + last.byteCount <= f.fileSize)
    }

    #if os(Linux)
    /// The file is mapped, not read: its mapping's resident set stays far below its size after
    /// opening. Measured per mapping (/proc/self/smaps), so other tests' allocations do not matter.
    @Test func openingDoesNotReadTheFile() throws {
        guard let f = try Self.open() else { return }
        // /proc files report size 0, so read to EOF rather than by the stat size.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        let smaps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        try handle.close()
        var sizesKB: [(size: Int, rss: Int)] = []
        var inMapping = false
        var size = 0
        for line in smaps.split(separator: "\n") {
            if line.first?.isHexDigit == true, line.contains("-"), line.split(separator: " ").count >= 5 {
                inMapping = line.hasSuffix(f.path)
            } else if inMapping, line.hasPrefix("Size:") {
                size = Int(line.split(separator: " ")[1]) ?? 0
            } else if inMapping, line.hasPrefix("Rss:") {
                sizesKB.append((size, Int(line.split(separator: " ")[1]) ?? -1))
            }
        }
        let whole = sizesKB.filter { $0.size * 1024 >= f.fileSize }
        #expect(!whole.isEmpty, "no mapping of the whole file in /proc/self/smaps")
        let leastResident = whole.map(\.rss).min() ?? .max
        #expect(leastResident < 16 * 1024, "resident \(leastResident) KB of a \(f.fileSize / 1024) KB file")
        withExtendedLifetime(f) {}
    }
    #endif
}
