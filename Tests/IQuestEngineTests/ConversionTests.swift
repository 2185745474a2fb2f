import Foundation
import IQuestEngine
import IQuestFormats
import IQuestKernels
import IQuestModels
import Testing

/// Logits rows of a fixture's expected.json (tiny-iquest: `logits_positions` names the rows;
/// tiny-loop: every position).
private struct ExpectedLogits: Decodable {
    struct Prompt: Decodable {
        let name: String
        let ids: [Int]
        let logits_positions: [Int]?
        let logits: [[Double]]
    }
    let prompts: [Prompt]
}

private final class Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-convert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Max abs difference between a GGUF model's logits and the reference (transformers for dense,
/// the numpy Loop reference for Loop) over every recorded position of every prompt.
private func maxDifference(gguf path: String, expected: String) throws -> Double {
    let model = try ModelRegistry.load(gguf: GGUFFile(path: path), pool: ComputePool(threads: 2), activations: .exact)
    let reference = try JSONDecoder().decode(ExpectedLogits.self, from: Data(contentsOf: URL(fileURLWithPath: expected)))
    var worst = 0.0
    for prompt in reference.prompts {
        let logits = try model.forward(prompt.ids, cache: model.makeCache(capacity: 256), logits: .all)
        let positions = prompt.logits_positions ?? Array(0..<prompt.ids.count)
        for (k, position) in positions.enumerated() {
            for (j, value) in logits.row(position).enumerated() {
                worst = max(worst, abs(Double(value) - prompt.logits[k][j]))
            }
        }
    }
    return worst
}

@Suite("iquest quantize (GGUFExporter)")
struct ConversionTests {
    @Test("HF IQuest dense -> GGUF f32/bf16 keeps transformers' logits (Q/K permuted for adjacent-pair RoPE)",
          arguments: [WeightKind.f32, .bf16])
    func denseLossless(kind: WeightKind) throws {
        let scratch = try Scratch()
        let input = try EngineFixtures.path("tiny-iquest/dense")
        let output = scratch.url.appendingPathComponent("dense.gguf").path
        let summary = try GGUFExporter.convert(ConversionRequest(input: input, output: output, type: kind))
        #expect(summary.architecture == "llama")
        let file = try GGUFFile(path: output)
        #expect(file.tensor(named: "blk.0.attn_q.weight")?.type == GGMLType(kind))
        #expect(file.tensor(named: "blk.0.attn_norm.weight")?.type == .f32)
        #expect(file.tensor(named: "output.weight") != nil)
        let diff = try maxDifference(gguf: output, expected: input + "/expected.json")
        #expect(diff <= 1e-4, "max abs diff \(diff)")
    }

    @Test("HF Loop -> GGUF keeps the Loop reference logits; gates kept f32", arguments: [WeightKind.f32, .bf16])
    func loopLossless(kind: WeightKind) throws {
        let scratch = try Scratch()
        let input = try EngineFixtures.path("tiny-loop/hf")
        let output = scratch.url.appendingPathComponent("loop.gguf").path
        let summary = try GGUFExporter.convert(ConversionRequest(input: input, output: output, type: kind))
        #expect(summary.architecture == "iquestloopcoder")
        let file = try GGUFFile(path: output)
        #expect(try file.int("iquestloopcoder.loop_num") == 2)
        #expect(try file.int("iquestloopcoder.loop_window_size") == 4)
        for layer in 0..<3 {
            #expect(file.tensor(named: "blk.\(layer).loop_gate.weight")?.type == .f32)
            #expect(file.tensor(named: "blk.\(layer).loop_gate.bias")?.type == .f32)
        }
        let diff = try maxDifference(gguf: output, expected: EngineFixtures.path("tiny-loop/expected.json"))
        #expect(diff <= 1e-4, "max abs diff \(diff)")
    }

    /// tiny-llama's q4_0/q4_1 files hold gguf-py's encoding of the same weights as tiny-f32, so
    /// re-encoding tiny-f32 must reproduce transformers' logits for those files.
    @Test("GGUF f32 -> q4_0/q4_1 reproduces the reference logits of gguf-py's encoding", arguments: ["q4_0", "q4_1"])
    func requantizeMatchesReference(type: String) throws {
        let scratch = try Scratch()
        let kind: WeightKind = type == "q4_0" ? .q4_0 : .q4_1
        let output = scratch.url.appendingPathComponent("\(type).gguf").path
        _ = try GGUFExporter.convert(ConversionRequest(input: try EngineFixtures.tinyF32, output: output, type: kind))
        let file = try GGUFFile(path: output)
        #expect(file.tensor(named: "blk.0.ffn_up.weight")?.type == GGMLType(kind))
        #expect(try file.stringArray("tokenizer.ggml.tokens")?.count == 320, "tokenizer metadata carried over")
        let diff = try maxDifference(gguf: output, expected: EngineFixtures.path("tiny-llama/expected-\(type).json"))
        #expect(diff <= 1e-4, "max abs diff \(diff)")
    }

    @Test("GGUF f32 -> q8_0 writes the same block bytes as gguf-py")
    func requantizeQ8Bytes() throws {
        let scratch = try Scratch()
        let output = scratch.url.appendingPathComponent("q8.gguf").path
        _ = try GGUFExporter.convert(ConversionRequest(input: try EngineFixtures.tinyF32, output: output, type: .q8_0))
        let ours = try GGUFFile(path: output)
        let reference = try GGUFFile(path: try EngineFixtures.path("tiny-llama/tiny-q8_0.gguf"))
        var compared = 0
        for info in reference.tensors where info.name.hasPrefix("blk.") {
            let mine = try #require(ours.tensor(named: info.name))
            #expect(mine.type == info.type && mine.shape == info.shape, "\(info.name)")
            #expect(Array(ours.data(for: mine)) == Array(reference.data(for: info)), "\(info.name) bytes differ")
            compared += 1
        }
        #expect(compared == 18)
    }

    @Test("bad inputs are refused with a message naming the problem")
    func badInputs() throws {
        let scratch = try Scratch()
        let out = scratch.url.appendingPathComponent("x.gguf").path
        #expect(throws: (any Error).self) { try GGUFExporter.convert(ConversionRequest(input: "/nonexistent", output: out, type: .q8_0)) }
        do {
            _ = try GGUFExporter.convert(ConversionRequest(input: scratch.url.path, output: out, type: .q8_0))
            Issue.record("an empty directory must be refused")
        } catch {
            #expect(String(describing: error).contains("config.json"))
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
