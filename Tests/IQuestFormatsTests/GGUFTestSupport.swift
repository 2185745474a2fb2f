import Foundation
import IQuestFormats

/// A fresh temporary directory, removed by `cleanup()`.
struct TempDir {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-gguf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let p = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// Repository root, found from this source file's (symlink-resolved) location.
let repoRoot: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Raw GGUF byte assembly, independent of `GGUFWriter`, that remembers where named fields start
/// so tests can patch them.
struct RawGGUF {
    var bytes: [UInt8] = []
    var marks: [String: Int] = [:]

    mutating func mark(_ name: String) { marks[name] = bytes.count }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func str(_ s: String, mark name: String? = nil) {
        if let name { mark(name) }
        u64(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }
    mutating func pad(_ alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    mutating func patch32(_ mark: String, _ v: UInt32, plus delta: Int = 0) {
        let at = marks[mark]! + delta
        withUnsafeBytes(of: v.littleEndian) { for (i, b) in $0.enumerated() { bytes[at + i] = b } }
    }
    mutating func patch64(_ mark: String, _ v: UInt64, plus delta: Int = 0) {
        let at = marks[mark]! + delta
        withUnsafeBytes(of: v.littleEndian) { for (i, b) in $0.enumerated() { bytes[at + i] = b } }
    }
}

/// A small valid GGUF v3 file:
///   kv: general.architecture = "llama", general.alignment = u32 32, tok = [string] ["a", "bc"]
///   tensors: "a" f32 [32] at 0 (128 bytes), "b" q8_0 [64] at 128 (68 bytes), data padded to 32.
/// Marks: version, tensorCount, kvCount, key<i>, type<i>, value<i>, tname<i>, ndims<i>, dims<i>,
/// ttype<i>, toffset<i>, data, end.
func smallGGUF(keys: [String] = ["general.architecture", "general.alignment", "tok"],
               tensorNames: [String] = ["a", "b"]) -> RawGGUF {
    var g = RawGGUF()
    g.bytes.append(contentsOf: Array("GGUF".utf8))
    g.mark("version"); g.u32(3)
    g.mark("tensorCount"); g.u64(UInt64(tensorNames.count))
    g.mark("kvCount"); g.u64(UInt64(keys.count))
    for (i, key) in keys.enumerated() {
        g.str(key, mark: "key\(i)")
        g.mark("type\(i)")
        g.mark("value\(i)")
        switch i {
        case 0: g.u32(8); g.marks["value\(i)"] = g.bytes.count; g.str("llama")
        case 1: g.u32(4); g.marks["value\(i)"] = g.bytes.count; g.u32(32)
        default:
            g.u32(9); g.marks["value\(i)"] = g.bytes.count
            g.u32(8); g.u64(2); g.str("a"); g.str("bc")
        }
    }
    let specs: [(dims: [UInt64], type: UInt32, offset: UInt64)] = [([32], 0, 0), ([64], 8, 128)]
    for (i, name) in tensorNames.enumerated() {
        let s = specs[i % specs.count]
        g.str(name, mark: "tname\(i)")
        g.mark("ndims\(i)"); g.u32(UInt32(s.dims.count))
        g.mark("dims\(i)"); for d in s.dims { g.u64(d) }
        g.mark("ttype\(i)"); g.u32(s.type)
        g.mark("toffset\(i)"); g.u64(s.offset)
    }
    g.pad(32)
    g.mark("data")
    for i in 0..<128 { g.u8(UInt8(i)) }
    for i in 0..<68 { g.u8(UInt8(255 - i)) }
    g.pad(32)
    g.mark("end")
    return g
}

/// Opens `bytes` as a GGUF file and returns the defect it is rejected with (nil if accepted).
func defect(of bytes: [UInt8], in dir: TempDir, name: String = "t.gguf") throws -> GGUFError.Defect? {
    let p = try dir.write(bytes, name)
    do {
        _ = try GGUFFile(path: p)
        return nil
    } catch {
        return error.defect
    }
}
