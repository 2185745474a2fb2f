import Foundation
import IQuestFormats
import IQuestKernels
import IQuestModels

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum Fixtures {
    /// The repository root: the first directory above this source file holding Package.swift.
    static func repoRoot(filePath: String = #filePath) throws -> URL {
        var dir = URL(fileURLWithPath: filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        throw TestFailure("no Package.swift above \(filePath)")
    }

    static func path(_ relative: String) throws -> String {
        let url = try repoRoot().appendingPathComponent("Tests/Fixtures").appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else { throw TestFailure("fixture \(url.path) is missing") }
        return url.path
    }

    /// `$IQUEST_CACHE` (default ~/.cache/iquest)/relative, or an error saying how to fetch it.
    static func cached(_ relative: String) throws -> String {
        let env = ProcessInfo.processInfo.environment["IQUEST_CACHE"]
        let base = (env?.isEmpty == false) ? URL(fileURLWithPath: env!)
            : FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/iquest")
        let url = base.appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TestFailure("missing test asset \(url.path); run tools/fetch-assets.sh to download it")
        }
        return url.path
    }

    static var smolLM2Path: String { get throws { try cached("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") } }
}

/// tiny-llama/expected-<type>.json (transformers LlamaForCausalLM, fp32, dequantized weights).
struct TinyExpected: Decodable, Sendable {
    struct Config: Decodable, Sendable {
        let vocab_size, hidden_size, n_layer, n_head, n_head_kv, head_dim, ffn_size, context_length: Int
        let rope_base, rms_eps: Double
        let bos_id, eos_id: Int
    }
    struct Prompt: Decodable, Sendable {
        let name: String
        let ids: [Int]
        let logits_positions: [Int]
        let logits: [[Double]]
        let greedy_ids: [Int]
        let greedy_top2_ids: [[Int]]
        let greedy_top2_logits: [[Double]]
    }
    let gguf: String
    let tensor_type: String
    let tied_embeddings: Bool
    let config: Config
    let n_greedy: Int
    let prompts: [Prompt]

    static func load(_ type: String) throws -> TinyExpected {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tiny-llama/expected-\(type).json")))
        return try JSONDecoder().decode(TinyExpected.self, from: data)
    }

    var ggufPath: String { get throws { try Fixtures.path("tiny-llama/\(gguf)") } }
}

/// smollm2/parity.json (transformers fp32 on the dequantized Q4_1 GGUF).
struct SmolParity: Decodable, Sendable {
    struct Prompt: Decodable, Sendable {
        let name: String
        let text: String
        let ids: [Int]
        let top_ids: [[Int]]
        let top_logits: [[Double]]
        let probe_logits: [[Double]]
        let greedy_ids: [Int]
        let greedy_text: String
        let greedy_top_ids: [[Int]]
        let greedy_top_logits: [[Double]]
    }
    let vocab_size: Int
    let probe_ids: [Int]
    let n_greedy: Int
    let prompts: [Prompt]

    static func load() throws -> SmolParity {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("smollm2/parity.json")))
        return try JSONDecoder().decode(SmolParity.self, from: data)
    }
}

let tinyTypes = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1"]

/// Parity tests compare with transformers at 1e-4…1e-3, so they use the exact activation path.
func loadModel(_ path: String, threads: Int = 2, activations: ActivationPrecision = .exact) throws -> any LanguageModel {
    try ModelRegistry.load(gguf: GGUFFile(path: path), pool: ComputePool(threads: threads), activations: activations)
}

/// Row `r` of a logits block as Doubles.
func row(_ logits: Logits, _ r: Int) -> [Double] { logits.row(r).map(Double.init) }

func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "lengths differ: \(a.count) vs \(b.count)")
    var m = 0.0
    for (x, y) in zip(a, b) { m = max(m, abs(x - y)) }
    return m.isNaN ? .infinity : m
}

func argmax(_ values: [Double]) -> Int {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return best
}

func argmax(_ values: ArraySlice<Float>) -> Int {
    var best = values.startIndex
    for i in values.indices where values[i] > values[best] { best = i }
    return best - values.startIndex
}

/// A temporary directory removed on deinit.
final class TempDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-models-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// One tensor to write into a rewritten GGUF.
struct TensorCopy {
    var name: String
    var shape: [Int]
    var type: GGMLType
    var data: [UInt8]
}

/// Copies a GGUF's metadata and tensors into a new file, letting the caller edit both lists.
func rewriteGGUF(from source: String, to destination: String,
                 editMetadata: (inout [(key: String, value: GGUFValue)]) -> Void = { _ in },
                 editTensors: (inout [TensorCopy]) -> Void = { _ in }) throws {
    let file = try GGUFFile(path: source)
    var metadata = file.metadataKeys.map { (key: $0, value: file.metadata[$0]!) }
    var tensors = file.tensors.map { TensorCopy(name: $0.name, shape: $0.shape, type: $0.type, data: Array(file.data(for: $0))) }
    editMetadata(&metadata)
    editTensors(&tensors)
    let writer = try GGUFWriter()
    for (key, value) in metadata { try writer.addMetadata(key, value) }
    for t in tensors { try writer.addTensor(name: t.name, shape: t.shape, type: t.type, data: t.data) }
    try writer.write(to: destination)
}
