import Foundation
import IQuestEngine
import IQuestFormats

struct EngineTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum EngineFixtures {
    /// The repository root: the first directory above this source file holding Package.swift.
    static func repoRoot(filePath: String = #filePath) throws -> URL {
        var dir = URL(fileURLWithPath: filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        throw EngineTestFailure("no Package.swift above \(filePath)")
    }

    static func path(_ relative: String) throws -> String {
        let url = try repoRoot().appendingPathComponent("Tests/Fixtures").appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else { throw EngineTestFailure("fixture \(url.path) is missing") }
        return url.path
    }

    static var tinyF32: String { get throws { try path("tiny-llama/tiny-f32.gguf") } }
}

/// The parts of tiny-llama/expected-f32.json these tests use.
struct TinyReference: Decodable {
    struct Config: Decodable {
        let vocab_size, context_length, bos_id, eos_id: Int
    }
    struct Prompt: Decodable {
        let name: String
        let ids: [Int]
        let logits: [[Double]]
        let greedy_ids: [Int]
    }
    let config: Config
    let n_greedy: Int
    let prompts: [Prompt]

    static func load(_ type: String = "f32") throws -> TinyReference {
        let data = try Data(contentsOf: URL(fileURLWithPath: EngineFixtures.path("tiny-llama/expected-\(type).json")))
        return try JSONDecoder().decode(TinyReference.self, from: data)
    }

    func prompt(_ name: String) throws -> Prompt {
        guard let p = prompts.first(where: { $0.name == name }) else { throw EngineTestFailure("no prompt '\(name)'") }
        return p
    }
}

/// log-softmax in Double, straight from the definition.
func referenceLogSoftmax(_ logits: [Double]) -> [Double] {
    let m = logits.max()!
    let z = logits.reduce(0) { $0 + exp($1 - m) }
    return logits.map { $0 - m - log(z) }
}

/// Everything one generation streamed, plus its stats.
struct Run {
    var tokens: [GeneratedToken] = []
    var stats: GenerationStats!
    var ids: [Int] { tokens.map(\.id) }
    var text: String { tokens.map(\.text).joined() }
}

func generate(_ generator: Generator, _ request: GenerationRequest, stopAfter limit: Int = .max) throws -> Run {
    var run = Run()
    run.stats = try generator.generate(request) { token in
        run.tokens.append(token)
        return run.tokens.count < limit
    }
    return run
}

/// A temporary directory removed on deinit.
final class EngineTempDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Copies a GGUF with some metadata values replaced (same keys, same order).
func copyGGUF(from source: String, to destination: String, replacing changes: [String: GGUFValue]) throws {
    let file = try GGUFFile(path: source)
    let writer = try GGUFWriter()
    for key in file.metadataKeys { try writer.addMetadata(key, changes[key] ?? file.metadata[key]!) }
    for t in file.tensors { try writer.addTensor(name: t.name, shape: t.shape, type: t.type, data: Array(file.data(for: t))) }
    try writer.write(to: destination)
}
