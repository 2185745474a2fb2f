import Foundation
import IQuestFormats
import IQuestKernels
import IQuestModels
import Testing

/// Checkpoints the engine must refuse (with a message naming the cause) and forward calls that
/// must throw without damaging the sequence.
@Suite struct ModelErrorTests {
    static func tinyF32() throws -> String { try Fixtures.path("tiny-llama/tiny-f32.gguf") }

    /// Loads `path` and returns the error's text; fails the test if loading succeeds.
    static func loadError(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            _ = try loadModel(path)
            Issue.record("loading \(path) succeeded but should have failed", sourceLocation: sourceLocation)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func unsupportedArchitectureIsNamed() throws {
        let dir = try TempDirectory()
        let path = dir.path("neox.gguf")
        try rewriteGGUF(from: Self.tinyF32(), to: path, editMetadata: { md in
            let i = md.firstIndex { $0.key == "general.architecture" }!
            md[i].value = .string("gpt-neox")
        })
        let message = Self.loadError(path)
        #expect(message.contains("gpt-neox"), "message: \(message)")
        #expect(message.contains("not supported") || message.contains("unsupported"), "message: \(message)")
        #expect(ModelRegistry.supportedGGUFArchitectures.contains("llama"))
        #expect(!ModelRegistry.supportedGGUFArchitectures.contains("gpt-neox"))
    }

    /// Architecture names are compared whole: "llama2" or "LLaMA" are not "llama".
    @Test(arguments: ["llama2", "LLaMA", "llam", ""])
    func architectureNamesAreComparedWhole(name: String) throws {
        let dir = try TempDirectory()
        let path = dir.path("arch.gguf")
        try rewriteGGUF(from: Self.tinyF32(), to: path, editMetadata: { md in
            let i = md.firstIndex { $0.key == "general.architecture" }!
            md[i].value = .string(name)
        })
        let message = Self.loadError(path)
        #expect(message.contains("'\(name)'"), "message: \(message)")
    }

    @Test func missingArchitectureKey() throws {
        let dir = try TempDirectory()
        let path = dir.path("noarch.gguf")
        try rewriteGGUF(from: Self.tinyF32(), to: path, editMetadata: { md in
            md.removeAll { $0.key == "general.architecture" }
        })
        let message = Self.loadError(path)
        #expect(message.contains("general.architecture"), "message: \(message)")
    }

    @Test(arguments: ["blk.1.ffn_up.weight", "blk.0.attn_q.weight", "output_norm.weight", "token_embd.weight"])
    func missingTensorIsNamed(tensor: String) throws {
        let dir = try TempDirectory()
        let path = dir.path("missing.gguf")
        try rewriteGGUF(from: Self.tinyF32(), to: path, editTensors: { ts in
            let before = ts.count
            ts.removeAll { $0.name == tensor }
            precondition(ts.count == before - 1, "fixture has no tensor \(tensor)")
        })
        let message = Self.loadError(path)
        #expect(message.contains("'\(tensor)'") || message.contains(tensor), "message: \(message)")
    }

    /// A tensor stored with the right byte count but transposed shape.
    @Test(arguments: ["blk.0.attn_k.weight", "blk.1.ffn_down.weight", "blk.0.ffn_norm.weight"])
    func wrongShapeIsNamed(tensor: String) throws {
        let dir = try TempDirectory()
        let path = dir.path("shape.gguf")
        try rewriteGGUF(from: Self.tinyF32(), to: path, editTensors: { ts in
            let i = ts.firstIndex { $0.name == tensor }!
            if ts[i].shape.count == 2 {
                ts[i].shape = [ts[i].shape[1], ts[i].shape[0]]
            } else {
                // A vector of half the length (and half the bytes).
                ts[i].shape = [ts[i].shape[0] / 2]
                ts[i].data = Array(ts[i].data.prefix(ts[i].data.count / 2))
            }
        })
        let message = Self.loadError(path)
        #expect(message.contains(tensor), "message: \(message)")
        #expect(message.contains("shape"), "message: \(message)")
    }

    @Test func ropeScalingIsRefused() throws {
        let dir = try TempDirectory()
        let path = dir.path("rope.gguf")
        try rewriteGGUF(from: Self.tinyF32(), to: path, editMetadata: { md in
            md.append((key: "llama.rope.scaling.type", value: .string("linear")))
        })
        let message = Self.loadError(path)
        #expect(message.contains("linear"), "message: \(message)")
    }

    @Test func headsThatDoNotGroupAreRefused() throws {
        let dir = try TempDirectory()
        let path = dir.path("heads.gguf")
        try rewriteGGUF(from: Self.tinyF32(), to: path, editMetadata: { md in
            let i = md.firstIndex { $0.key == "llama.attention.head_count_kv" }!
            md[i].value = .uint32(3)
        })
        let message = Self.loadError(path)
        #expect(message.contains("3"), "message: \(message)")
    }

    @Test func outOfVocabularyTokenThrowsAndLeavesTheCacheUsable() throws {
        let expected = try TinyExpected.load("f32")
        let model = try loadModel(expected.ggufPath)
        let prompt = expected.prompts[1]
        let cache = try model.makeCache(capacity: 64)
        for bad in [[expected.config.vocab_size], [-1], [prompt.ids[0], 100_000]] {
            do {
                _ = try model.forward(bad, cache: cache, logits: .all)
                Issue.record("forward(\(bad)) on an empty cache did not throw")
            } catch {
                #expect("\(error)".contains("\(bad.last!)"), "message should name the id: \(error)")
            }
            #expect(cache.count == 0, "a failed forward must not advance the cache")
        }
        // Part of the prompt, then a bad call mid-sequence, then the rest: logits still match.
        let first = try model.forward(Array(prompt.ids[0..<5]), cache: cache, logits: .all)
        #expect(throws: (any Error).self) { try model.forward([prompt.ids[5], 1_000_000], cache: cache, logits: .last) }
        #expect(cache.count == 5)
        let rest = try model.forward(Array(prompt.ids[5...]), cache: cache, logits: .all)
        for r in 0..<first.rows { #expect(maxAbsDiff(row(first, r), prompt.logits[r]) <= 1e-4) }
        for r in 0..<rest.rows {
            #expect(maxAbsDiff(row(rest, r), prompt.logits[5 + r]) <= 1e-4, "position \(5 + r) after a failed forward")
        }
    }

    @Test func forwardPastCapacityThrows() throws {
        let expected = try TinyExpected.load("f32")
        let model = try loadModel(expected.ggufPath)
        let prompt = expected.prompts[2]
        // All at once.
        let small = try model.makeCache(capacity: 4)
        #expect(throws: (any Error).self) { try model.forward(Array(prompt.ids[0..<5]), cache: small, logits: .last) }
        #expect(small.count == 0)
        // Filling up step by step: the call that would overflow throws, the cache stays valid.
        let cache = try model.makeCache(capacity: 6)
        _ = try model.forward(Array(prompt.ids[0..<4]), cache: cache, logits: .last)
        #expect(throws: (any Error).self) { try model.forward(Array(prompt.ids[4..<7]), cache: cache, logits: .last) }
        #expect(cache.count == 4)
        let more = try model.forward(Array(prompt.ids[4..<6]), cache: cache, logits: .all)
        #expect(cache.count == 6)
        #expect(maxAbsDiff(row(more, 1), prompt.logits[5]) <= 1e-4)
        #expect(throws: (any Error).self) { try model.forward([prompt.ids[6]], cache: cache, logits: .last) }
        // An empty token list is an error too.
        #expect(throws: (any Error).self) { try model.forward([], cache: model.makeCache(capacity: 4), logits: .last) }
    }

    @Test func foreignCacheIsRejected() throws {
        final class OtherCache: SequenceCache {
            var count = 0
            var capacity = 16
            func truncate(to length: Int) {}
        }
        let model = try loadModel(Self.tinyF32())
        #expect(throws: (any Error).self) { try model.forward([1, 2], cache: OtherCache(), logits: .last) }
    }
}
