import Foundation
import IQuestFormats
import IQuestKernels
import IQuestModels
import Testing

/// Hugging Face checkpoint directories (tiny-iquest/dense: bf16, sharded, IQuest config;
/// tiny-iquest/dense-rope-parameters: f16, one file, transformers-5 `rope_parameters`) against
/// transformers' float32 logits and greedy continuations, and every way such a directory can be
/// broken, each refused with a message naming the file and the key or tensor.
@Suite struct HFCheckpointTests {
    static let checkpoints = ["tiny-iquest/dense", "tiny-iquest/dense-rope-parameters"]
    static let tolerance = 1e-4

    static func load(_ directory: String, threads: Int = 2) throws -> any LanguageModel {
        try ModelRegistry.load(directory: directory, pool: ComputePool(threads: threads), activations: .exact)
    }

    // MARK: Parity with transformers

    @Test(arguments: checkpoints)
    func logitsMatchTransformersAtEveryRecordedPosition(checkpoint: String) throws {
        let dir = try Fixtures.path(checkpoint)
        let expected = try HFExpected.load(dir)
        let model = try Self.load(dir)
        #expect(model.vocabularySize == expected.config.vocab_size)
        #expect(model.contextLength == expected.config.max_position_embeddings)
        var worst = 0.0
        for p in expected.prompts {
            let cache = try model.makeCache(capacity: p.ids.count)
            let logits = try model.forward(p.ids, cache: cache, logits: .all)
            #expect(logits.rows == p.ids.count && logits.vocabularySize == expected.config.vocab_size)
            #expect(p.logits_positions.count == p.logits.count)
            for (k, position) in p.logits_positions.enumerated() {
                let diff = maxAbsDiff(row(logits, position), p.logits[k])
                worst = max(worst, diff)
                #expect(diff <= Self.tolerance, "\(checkpoint) \(p.name) position \(position): max |Δ| \(diff)")
            }
        }
        print("HFCheckpointTests: \(checkpoint) max |Δlogit| vs transformers = \(worst)")
    }

    /// One forward over the whole prompt gives the same rows as feeding it a token at a time.
    @Test(arguments: checkpoints)
    func prefillEqualsTokenByTokenDecode(checkpoint: String) throws {
        let dir = try Fixtures.path(checkpoint)
        let expected = try HFExpected.load(dir)
        let model = try Self.load(dir)
        var worst = 0.0
        for p in expected.prompts {
            let prefill = try model.forward(p.ids, cache: model.makeCache(capacity: p.ids.count), logits: .all)
            let cache = try model.makeCache(capacity: p.ids.count)
            for (i, id) in p.ids.enumerated() {
                let step = try model.forward([id], cache: cache, logits: .last)
                #expect(step.rows == 1)
                let diff = maxAbsDiff(row(step, 0), row(prefill, i))
                worst = max(worst, diff)
                #expect(diff <= Self.tolerance, "\(checkpoint) \(p.name) position \(i): prefill vs decode \(diff)")
            }
            #expect(cache.count == p.ids.count)
        }
        print("HFCheckpointTests: \(checkpoint) max |prefill − decode| = \(worst)")
    }

    /// 16 greedy steps with no stop on EOS (the "chat" continuation contains id 2, "long" id 979),
    /// and the top-2 logits at each step.
    @Test(arguments: checkpoints)
    func greedyContinuationMatches(checkpoint: String) throws {
        let dir = try Fixtures.path(checkpoint)
        let expected = try HFExpected.load(dir)
        let model = try Self.load(dir)
        var worst = 0.0
        for p in expected.prompts {
            #expect(p.greedy_ids.count == expected.n_greedy)
            let cache = try model.makeCache(capacity: p.ids.count + expected.n_greedy)
            var logits = try model.forward(p.ids, cache: cache, logits: .last)
            var ids: [Int] = []
            for step in 0..<expected.n_greedy {
                let values = logits.row(0)
                let next = argmax(values)
                ids.append(next)
                for (j, id) in p.greedy_top2_ids[step].enumerated() {
                    let diff = abs(Double(values[values.startIndex + id]) - p.greedy_top2_logits[step][j])
                    worst = max(worst, diff)
                    #expect(diff <= Self.tolerance, "\(checkpoint) \(p.name) step \(step) id \(id): \(diff)")
                }
                if step + 1 < expected.n_greedy { logits = try model.forward([next], cache: cache, logits: .last) }
            }
            #expect(ids == p.greedy_ids, "\(checkpoint) \(p.name)")
        }
        print("HFCheckpointTests: \(checkpoint) max |Δ top-2 logit| over greedy steps = \(worst)")
    }

    @Test func architecturesAreTheConfigsOwn() throws {
        #expect(try Self.load(Fixtures.path("tiny-iquest/dense"), threads: 1).architecture == "IQuestCoderForCausalLM")
        #expect(try Self.load(Fixtures.path("tiny-iquest/dense-rope-parameters"), threads: 1).architecture == "LlamaForCausalLM")
        #expect(ModelRegistry.supportedHFArchitectures.contains("IQuestCoderForCausalLM"))
        #expect(!ModelRegistry.supportedHFArchitectures.contains("GPT2LMHeadModel"))
    }

    // MARK: Refused configurations

    /// Each edit of config.json the engine must refuse before touching a weight, with the words the
    /// message must contain.
    struct ConfigCase: Sendable, CustomTestStringConvertible {
        let name: String
        var source = "tiny-iquest/dense"
        let edit: @Sendable (inout [String: Any]) -> Void
        let mentions: [String]
        var testDescription: String { name }
    }

    static let refusedConfigs: [ConfigCase] = [
        ConfigCase(name: "loop_num 2 on IQuestCoderForCausalLM", edit: { $0["loop_num"] = 2 },
                   mentions: ["'loop_num'", "IQuestCoderForCausalLM"]),
        ConfigCase(name: "clip_qkv set", edit: { $0["clip_qkv"] = 8.0 }, mentions: ["'clip_qkv'"]),
        ConfigCase(name: "use_sliding_window true", edit: { $0["use_sliding_window"] = true; $0["sliding_window"] = 64 },
                   mentions: ["'use_sliding_window'"]),
        ConfigCase(name: "rope_scaling yarn",
                   edit: { $0["rope_scaling"] = ["rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64] as [String: Any] },
                   mentions: ["'rope_scaling'", "yarn"]),
        ConfigCase(name: "rope_scaling linear (old 'type' key)",
                   edit: { $0["rope_scaling"] = ["type": "linear", "factor": 2.0] as [String: Any] },
                   mentions: ["'rope_scaling'", "linear"]),
        ConfigCase(name: "rope_parameters llama3", source: "tiny-iquest/dense-rope-parameters",
                   edit: { $0["rope_parameters"] = ["rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                                                    "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                    "original_max_position_embeddings": 64] as [String: Any] },
                   mentions: ["rope_parameters", "llama3"]),
        ConfigCase(name: "attention_bias true", edit: { $0["attention_bias"] = true }, mentions: ["'attention_bias'"]),
        ConfigCase(name: "mlp_bias true", edit: { $0["mlp_bias"] = true }, mentions: ["mlp_bias"]),
        ConfigCase(name: "hidden_act gelu", edit: { $0["hidden_act"] = "gelu" }, mentions: ["'hidden_act'", "gelu"]),
        ConfigCase(name: "unknown architecture", edit: { $0["architectures"] = ["GPT2LMHeadModel"] },
                   mentions: ["'GPT2LMHeadModel'", "not supported"]),
        ConfigCase(name: "architecture names compared whole", edit: { $0["architectures"] = ["IQuestCoderForCausalLMv2"] },
                   mentions: ["'IQuestCoderForCausalLMv2'", "not supported"]),
        ConfigCase(name: "architecture prefix", edit: { $0["architectures"] = ["IQuestCoder"] },
                   mentions: ["'IQuestCoder'", "not supported"]),
        ConfigCase(name: "architectures missing", edit: { $0["architectures"] = nil }, mentions: ["'architectures'"]),
        ConfigCase(name: "required key missing", edit: { $0["vocab_size"] = nil }, mentions: ["'vocab_size'"]),
        ConfigCase(name: "key of the wrong type", edit: { $0["num_hidden_layers"] = "three" }, mentions: ["'num_hidden_layers'"]),
        ConfigCase(name: "head_dim not a multiple of 16", edit: { $0["head_dim"] = 8 }, mentions: ["head_dim"]),
        ConfigCase(name: "heads not divisible by kv heads", edit: { $0["num_key_value_heads"] = 3 }, mentions: ["3 key/value heads"]),
    ]

    /// The refusal names config.json and the key, and comes before any weight is read: with every
    /// safetensors file deleted the error is still the same configuration error.
    @Test(arguments: refusedConfigs)
    func refusedConfigurationIsNamedBeforeAnyWeightIsRead(_ c: ConfigCase) throws {
        let tmp = try TempDirectory()
        try copyCheckpoint(c.source, to: tmp.url)
        try editJSON(tmp.path("config.json"), c.edit)
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains(tmp.path("config.json")), "message: \(message)")
        for word in c.mentions { #expect(message.contains(word), "expected '\(word)' in: \(message)") }
        for name in try FileManager.default.contentsOfDirectory(atPath: tmp.url.path) where name.hasSuffix(".safetensors") {
            try FileManager.default.removeItem(atPath: tmp.path(name))
        }
        let withoutWeights = Self.loadError(tmp.url.path)
        #expect(withoutWeights == message, "with the weights deleted the error became: \(withoutWeights)")
    }

    @Test func missingConfigIsNamed() throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense", to: tmp.url)
        try FileManager.default.removeItem(atPath: tmp.path("config.json"))
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains(tmp.path("config.json")) && message.contains("missing"), "message: \(message)")
    }

    @Test(arguments: ["{\"architectures\": [\"IQuestCoderForCausalLM\"], ", "[1, 2, 3]", "", "not json at all"])
    func malformedConfigIsNamed(text: String) throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense", to: tmp.url)
        try Data(text.utf8).write(to: tmp.url.appendingPathComponent("config.json"))
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains(tmp.path("config.json")), "message: \(message)")
        #expect(message.contains("not a valid JSON object"), "message: \(message)")
        // Still refused before the weights: delete them and the error stays.
        try FileManager.default.removeItem(atPath: tmp.path(Self.shard1))
        try FileManager.default.removeItem(atPath: tmp.path(Self.shard2))
        #expect(Self.loadError(tmp.url.path) == message)
    }

    // MARK: Broken weights

    static let shard1 = "model-00001-of-00002.safetensors"
    static let shard2 = "model-00002-of-00002.safetensors"

    @Test func missingShardIsNamed() throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense", to: tmp.url)
        try FileManager.default.removeItem(atPath: tmp.path(Self.shard2))
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains("'\(Self.shard2)'") && message.contains("missing"), "message: \(message)")
        #expect(message.contains("model.safetensors.index.json"), "message: \(message)")
    }

    @Test func noWeightFilesAtAll() throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense-rope-parameters", to: tmp.url)
        try FileManager.default.removeItem(atPath: tmp.path("model.safetensors"))
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains("model.safetensors"), "message: \(message)")
    }

    /// The index sends a tensor to the shard that does not hold it.
    @Test(arguments: [("model.norm.weight", shard1), ("model.layers.0.mlp.up_proj.weight", shard2)])
    func indexNamingATensorTheShardLacks(tensor: String, wrongShard: String) throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense", to: tmp.url)
        try editJSON(tmp.path("model.safetensors.index.json")) { index in
            var map = index["weight_map"] as! [String: Any]
            precondition(map[tensor] != nil && map[tensor] as? String != wrongShard)
            map[tensor] = wrongShard
            index["weight_map"] = map
        }
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains("'\(tensor)'"), "message: \(message)")
        #expect(message.contains("'\(wrongShard)'"), "message: \(message)")
        #expect(message.contains("does not contain"), "message: \(message)")
    }

    @Test func indexWithoutWeightMap() throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense", to: tmp.url)
        try editJSON(tmp.path("model.safetensors.index.json")) { $0["weight_map"] = nil }
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains("model.safetensors.index.json") && message.contains("'weight_map'"), "message: \(message)")
    }

    /// A shard cut short (inside the length prefix, inside the header, inside the data, one byte
    /// short): refused with a message naming the shard, never a crash or an out-of-bounds read.
    @Test(arguments: [("length prefix", 4), ("header", 100), ("data", -100_000), ("last byte", -1)])
    func truncatedShardIsRefused(part: String, cut: Int) throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense", to: tmp.url)
        let path = tmp.path(Self.shard2)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let keep = cut > 0 ? cut : data.count + cut
        try data.prefix(keep).write(to: URL(fileURLWithPath: path))
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains(path), "message: \(message)")
        #expect(message.contains("truncated") || message.contains("too short"), "message: \(message)")
    }

    @Test func garbageHeaderJSONIsRefused() throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense", to: tmp.url)
        let path = tmp.path(Self.shard1)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        // Same length, bytes that are not JSON.
        data.replaceSubrange(8..<(8 + headerLength), with: Array(repeating: UInt8(ascii: "{"), count: headerLength))
        try data.write(to: URL(fileURLWithPath: path))
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains(path) && message.contains("not valid JSON"), "message: \(message)")
    }

    @Test(arguments: [UInt64(1) << 40, UInt64.max, 0])
    func headerLengthPastEndOfFileIsRefused(length: UInt64) throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense", to: tmp.url)
        let path = tmp.path(Self.shard1)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data.replaceSubrange(0..<8, with: withUnsafeBytes(of: length.littleEndian) { Array($0) })
        try data.write(to: URL(fileURLWithPath: path))
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains(path) && message.contains("header length \(length)"), "message: \(message)")
    }

    /// config.json says intermediate_size 128; the gate projection is stored [160, 64].
    @Test func tensorShapeNotMatchingConfigIsNamed() throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense", to: tmp.url)
        try editJSON(tmp.path("config.json")) { $0["intermediate_size"] = 128 }
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains("'model.layers.0.mlp.gate_proj.weight'"), "message: \(message)")
        #expect(message.contains("[160, 64]") && message.contains("[128, 64]"), "message: \(message)")
        #expect(message.contains(tmp.path(Self.shard1)), "message: \(message)")
    }

    /// Rewriting model.safetensors with this file's writer and no edit loads and runs (so the
    /// edits below are what the errors are about).
    @Test func rewrittenSingleFileStillLoads() throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense-rope-parameters", to: tmp.url)
        try rewriteSafetensors(tmp.path("model.safetensors")) { _ in }
        let expected = try HFExpected.load(Fixtures.path("tiny-iquest/dense-rope-parameters"))
        let model = try Self.load(tmp.url.path, threads: 1)
        let p = expected.prompts[0]
        let logits = try model.forward(p.ids, cache: model.makeCache(capacity: p.ids.count), logits: .last)
        #expect(maxAbsDiff(row(logits, 0), p.logits[p.logits.count - 1]) <= Self.tolerance)
    }

    @Test(arguments: ["model.layers.1.self_attn.v_proj.weight", "model.layers.2.post_attention_layernorm.weight"])
    func unsupportedDTypeIsNamed(tensor: String) throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense-rope-parameters", to: tmp.url)
        let path = tmp.path("model.safetensors")
        try rewriteSafetensors(path) { tensors in
            let i = tensors.firstIndex { $0.name == tensor }!
            let count = tensors[i].shape.reduce(1, *)
            tensors[i].dtype = "I8"
            tensors[i].bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0) }
        }
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains("'\(tensor)'") && message.contains("I8"), "message: \(message)")
        #expect(message.contains(path), "message: \(message)")
    }

    @Test func unknownDTypeInHeaderIsNamed() throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense-rope-parameters", to: tmp.url)
        let path = tmp.path("model.safetensors")
        try rewriteSafetensors(path) { tensors in
            let i = tensors.firstIndex { $0.name == "model.norm.weight" }!
            tensors[i].dtype = "F8_E4M3"
            tensors[i].bytes = Array(repeating: 0, count: tensors[i].shape.reduce(1, *))
        }
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains("'model.norm.weight'") && message.contains("F8_E4M3"), "message: \(message)")
    }

    @Test func missingTensorIsNamed() throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense-rope-parameters", to: tmp.url)
        try rewriteSafetensors(tmp.path("model.safetensors")) { tensors in
            tensors.removeAll { $0.name == "model.layers.2.mlp.down_proj.weight" }
        }
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains("'model.layers.2.mlp.down_proj.weight'") && message.contains("missing"), "message: \(message)")
    }

    /// A header whose byte range for a tensor does not match shape × dtype.
    @Test func dataOffsetsNotMatchingShapeAreRefused() throws {
        let tmp = try TempDirectory()
        try copyCheckpoint("tiny-iquest/dense-rope-parameters", to: tmp.url)
        let path = tmp.path("model.safetensors")
        try rewriteSafetensors(path) { tensors in
            let i = tensors.firstIndex { $0.name == "model.layers.0.input_layernorm.weight" }!
            tensors[i].shape = [65]
        }
        let message = Self.loadError(tmp.url.path)
        #expect(message.contains(path) && message.contains("'model.layers.0.input_layernorm.weight'"), "message: \(message)")
        #expect(message.contains("does not match"), "message: \(message)")
    }

    // MARK: Helpers

    /// Loads `directory` and returns the error's text; records an issue if loading succeeds.
    static func loadError(_ directory: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            _ = try load(directory, threads: 1)
            Issue.record("loading \(directory) succeeded but should have failed", sourceLocation: sourceLocation)
            return ""
        } catch {
            return "\(error)"
        }
    }
}

/// tiny-iquest/<checkpoint>/expected.json (transformers float32 on the stored weights).
struct HFExpected: Decodable, Sendable {
    struct Config: Decodable, Sendable {
        let vocab_size, hidden_size, max_position_embeddings: Int
        let eos_token_ids: [Int]
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
    let checkpoint: String
    let config: Config
    let n_greedy: Int
    let prompts: [Prompt]

    static func load(_ directory: String) throws -> HFExpected {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent("expected.json"))
        return try JSONDecoder().decode(HFExpected.self, from: data)
    }
}

/// Copies the model files of a fixture checkpoint (not the reference JSON) into `destination`.
private func copyCheckpoint(_ fixture: String, to destination: URL) throws {
    let source = try Fixtures.path(fixture)
    let skip: Set<String> = ["expected.json", "tokenizer-expected.json", "template-expected.json"]
    for name in try FileManager.default.contentsOfDirectory(atPath: source) where !skip.contains(name) {
        try FileManager.default.copyItem(atPath: (source as NSString).appendingPathComponent(name),
                                         toPath: destination.appendingPathComponent(name).path)
    }
}

/// Rewrites a JSON object file after `edit` (key order is not kept; nothing here depends on it).
private func editJSON(_ path: String, _ edit: (inout [String: Any]) -> Void) throws {
    var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    edit(&object)
    try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
}

/// One tensor of a safetensors file being rewritten.
private struct RawTensor {
    var name: String
    var dtype: String
    var shape: [Int]
    var bytes: [UInt8]
}

/// Reads a safetensors file, lets `edit` change its tensors, and writes it back in the format's
/// own layout: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, data.
/// Offsets are computed from each tensor's shape and dtype unless the edit left them inconsistent.
private func rewriteSafetensors(_ path: String, _ edit: (inout [RawTensor]) -> Void) throws {
    let file = try SafetensorsFile(path: path)
    var tensors = file.tensors.values.sorted { $0.begin < $1.begin }.map {
        RawTensor(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, bytes: Array(file.data(for: $0)))
    }
    edit(&tensors)
    var header: [String: Any] = ["__metadata__": ["format": "pt"]]
    var data: [UInt8] = []
    for t in tensors {
        header[t.name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": [data.count, data.count + t.bytes.count]] as [String: Any]
        data += t.bytes
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
    var out = Data(withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) })
    out.append(json)
    out.append(contentsOf: data)
    try out.write(to: URL(fileURLWithPath: path))
}
