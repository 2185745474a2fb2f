import Foundation
import IQuestKernels
import IQuestModels
import Testing

/// tiny-loop/expected.json: the float64 numpy reference written from the spec
/// (tools/loop_reference.py), over the bf16 weights of tiny-loop/hf.
struct LoopExpected: Decodable, Sendable {
    struct Prompt: Decodable, Sendable {
        let name: String
        let ids: [Int]
        let logits: [[Double]]
        let greedy_ids: [Int]
        let greedy_logits: [[Double]]
    }
    struct Variant: Decodable, Sendable {
        let name: String
        let logits: [Double]
    }
    struct WrongVariants: Decodable, Sendable {
        let prompt: String
        let position: Int
        let correct_logits: [Double]
        let variants: [Variant]
    }
    let prompts: [Prompt]
    let wrong_variants: WrongVariants

    static func load() throws -> LoopExpected {
        let data = try Data(contentsOf: URL(fileURLWithPath: try Fixtures.path("tiny-loop/expected.json")))
        return try JSONDecoder().decode(LoopExpected.self, from: data)
    }
}

private let tolerance = 1e-4

private func loopModel(_ dir: String = "tiny-loop/hf", threads: Int = 2) throws -> any LanguageModel {
    try ModelRegistry.load(directory: try Fixtures.path(dir), pool: ComputePool(threads: threads), activations: .exact)
}

@Suite("IQuestLoopCoder vs the spec reference")
struct LoopParityTests {
    @Test("prefill logits at every position, prompts shorter and longer than the window")
    func prefill() throws {
        let expected = try LoopExpected.load()
        for dir in ["tiny-loop/hf", "tiny-loop/hf-relabelled"] {
            let model = try loopModel(dir)
            #expect(model is LoopCoderModel, "\(dir) must run as Loop")
            for prompt in expected.prompts {
                let logits = try model.forward(prompt.ids, cache: model.makeCache(capacity: 64), logits: .all)
                for (r, reference) in prompt.logits.enumerated() {
                    let diff = maxAbsDiff(row(logits, r), reference)
                    #expect(diff <= tolerance, "\(dir) \(prompt.name) position \(r): max abs diff \(diff)")
                }
            }
        }
    }

    @Test("single-token decode and chunked prefill give the prefill logits", arguments: [1, 2, 3, 4, 5, 7, 9])
    func chunked(chunk: Int) throws {
        let expected = try LoopExpected.load()
        let model = try loopModel()
        for prompt in expected.prompts {
            let cache = try model.makeCache(capacity: 64)
            var start = 0
            while start < prompt.ids.count {
                let end = min(prompt.ids.count, start + chunk)
                let logits = try model.forward(Array(prompt.ids[start..<end]), cache: cache, logits: .all)
                for r in 0..<(end - start) {
                    let diff = maxAbsDiff(row(logits, r), prompt.logits[start + r])
                    #expect(diff <= tolerance, "\(prompt.name) chunk \(chunk) position \(start + r): \(diff)")
                }
                start = end
            }
        }
    }

    @Test("24-token greedy continuation: same ids and logits at every step")
    func greedy() throws {
        let expected = try LoopExpected.load()
        let model = try loopModel()
        for prompt in expected.prompts {
            let cache = try model.makeCache(capacity: 64)
            var logits = try model.forward(prompt.ids, cache: cache, logits: .last)
            for step in 0..<prompt.greedy_ids.count {
                let diff = maxAbsDiff(row(logits, 0), prompt.greedy_logits[step])
                #expect(diff <= tolerance, "\(prompt.name) greedy step \(step): \(diff)")
                let next = argmax(logits.row(0))
                #expect(next == prompt.greedy_ids[step], "\(prompt.name) greedy step \(step)")
                logits = try model.forward([prompt.greedy_ids[step]], cache: cache, logits: .last)
            }
        }
    }

    @Test("the output differs measurably from every wrong Loop variant")
    func wrongVariants() throws {
        let expected = try LoopExpected.load()
        let wrong = expected.wrong_variants
        let prompt = try #require(expected.prompts.first { $0.name == wrong.prompt })
        let model = try loopModel()
        let logits = try model.forward(Array(prompt.ids[0...wrong.position]), cache: model.makeCache(capacity: 64), logits: .last)
        let ours = row(logits, 0)
        #expect(maxAbsDiff(ours, wrong.correct_logits) <= tolerance)
        #expect(wrong.variants.count >= 5)
        for variant in wrong.variants {
            let distance = maxAbsDiff(ours, variant.logits)
            // Our error vs the right answer is ≤ 1e-4; every variant is ≥ 0.3 away from it.
            #expect(distance > 0.1, "\(variant.name) is only \(distance) from the engine's output")
        }
    }
}

@Suite("IQuestLoopCoder window and cache")
struct LoopCacheTests {
    /// Prefills 10 tokens, edits the pass-2 entry of `position` in every layer, decodes token 10.
    private func lastLogits(perturbing position: Int?) throws -> [Double] {
        let expected = try LoopExpected.load()
        let prompt = try #require(expected.prompts.first { $0.name == "medium" })
        let model = try loopModel()
        let cache = try #require(model.makeCache(capacity: 64) as? PagedSequenceCache)
        _ = try model.forward(Array(prompt.ids[0..<10]), cache: cache, logits: .last)
        if let position {
            for layer in 0..<(model as! LoopCoderModel).config.layers {
                for head in 0..<cache.layout.kvHeads {
                    #expect(cache.shiftLocalRows(layer: layer, position: position, head: head, keyDelta: 0.5, valueDelta: -0.5))
                }
            }
        }
        return row(try model.forward([prompt.ids[10]], cache: cache, logits: .last), 0)
    }

    @Test("pass-2 entries older than the window do not matter; entries inside it do")
    func windowEdge() throws {
        let clean = try lastLogits(perturbing: nil)
        // Position 6 is still held (its block also holds 7…9) when position 10 is decoded, but it
        // is outside that query's window 7…10.
        #expect(maxAbsDiff(try lastLogits(perturbing: 6), clean) == 0)
        for inside in 7...9 {
            #expect(maxAbsDiff(try lastLogits(perturbing: inside), clean) > 0.01, "position \(inside)")
        }
    }

    @Test("pass-2 blocks stay bounded by the window after 1,000 decoded tokens")
    func ringStaysBounded() throws {
        let model = try loopModel()
        let loop = try #require(model as? LoopCoderModel)
        let cache = try #require(model.makeCache(capacity: 1_100) as? PagedSequenceCache)
        var token = 1
        var logits = try model.forward([token], cache: cache, logits: .last)
        for _ in 0..<1_000 {
            token = argmax(logits.row(0))
            logits = try model.forward([token], cache: cache, logits: .last)
        }
        #expect(cache.count == 1_001)
        #expect(cache.layout.localWindow == loop.window)
        // Blocks covering the window of the next query (positions 1,001 − W + 1 … 1,000).
        let b = cache.blockSize
        let window = (1_001 - loop.window + 1) / b...(1_000 / b)
        #expect(cache.heldLocalBlocks == window.count)
        #expect(window.allSatisfy { cache.localBlocks[$0] >= 0 })
        #expect(logits.values.allSatisfy { $0.isFinite })
    }
}

@Suite("IQuestLoopCoder configuration errors")
struct LoopConfigErrorTests {
    /// Copies tiny-loop/hf into a temporary directory and lets the caller edit config.json.
    private func variant(editConfig: (inout [String: Any]) -> Void = { _ in },
                         dropTensor: String? = nil) throws -> (TempDirectory, String) {
        let temp = try TempDirectory()
        let source = try Fixtures.path("tiny-loop/hf")
        for name in try FileManager.default.contentsOfDirectory(atPath: source) {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: temp.path(name))
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: temp.path("config.json")))) as! [String: Any]
        editConfig(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: temp.path("config.json")))
        if let dropTensor {
            // Remove the entry from the index so the checkpoint no longer has the tensor.
            let indexURL = URL(fileURLWithPath: temp.path("model.safetensors.index.json"))
            var index = try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as! [String: Any]
            var map = index["weight_map"] as! [String: Any]
            map.removeValue(forKey: dropTensor)
            index["weight_map"] = map
            try JSONSerialization.data(withJSONObject: index).write(to: indexURL)
        }
        return (temp, temp.url.path)
    }

    private func error(loading dir: String) -> String? {
        do {
            _ = try ModelRegistry.load(directory: dir, pool: ComputePool(threads: 1))
            return nil
        } catch {
            return String(describing: error)
        }
    }

    @Test("loop_num 3 is refused naming the key")
    func loopNum() throws {
        let (temp, dir) = try variant { $0["loop_num"] = 3 }
        let message = try #require(error(loading: dir))
        #expect(message.contains("loop_num"))
        _ = temp
    }

    @Test("a missing gate tensor is refused naming it")
    func missingGate() throws {
        let (temp, dir) = try variant(dropTensor: "model.gate_projections.2.bias")
        let message = try #require(error(loading: dir))
        #expect(message.contains("model.gate_projections.2.bias"))
        _ = temp
    }

    @Test("a window of 0 is refused")
    func badWindow() throws {
        let (temp, dir) = try variant { $0["loop_window_size"] = 0 }
        let message = try #require(error(loading: dir))
        #expect(message.contains("loop_window_size"))
        _ = temp
    }

    @Test("architecture names are compared whole")
    func wholeNames() throws {
        let (temp, dir) = try variant { $0["architectures"] = ["IQuestLoopCoderForCausalLMX"] }
        let message = try #require(error(loading: dir))
        #expect(message.contains("not supported"))
        _ = temp
    }
}
