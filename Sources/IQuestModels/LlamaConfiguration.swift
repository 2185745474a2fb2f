import Foundation
import IQuestFormats
import IQuestKernels

/// Hyper-parameters of a Llama decoder (IQuest-Coder-V1 dense models are Llama decoders).
public struct LlamaConfiguration: Sendable, Equatable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var ropeTheta: Float
    public var rmsNormEps: Float
    public var contextLength: Int
    public var ropeLayout: RopeLayout
    public var tiedEmbeddings: Bool

    public var attention: AttentionShape { AttentionShape(heads: heads, kvHeads: kvHeads, headDim: headDim) }

    /// Reads `{arch}.*` keys as llama.cpp's converter writes them. Refuses what the forward pass
    /// would silently get wrong (rope scaling, partial rotary, head counts that don't divide).
    public init(gguf file: GGUFFile, architecture arch: String) throws {
        let path = file.path
        func require(_ key: String) throws -> Int {
            do { return try file.requireInt("\(arch).\(key)") } catch { throw ModelError(error.description) }
        }
        hiddenSize = try require("embedding_length")
        layers = try require("block_count")
        intermediateSize = try require("feed_forward_length")
        heads = try require("attention.head_count")
        kvHeads = try file.int("\(arch).attention.head_count_kv") ?? heads
        contextLength = try require("context_length")
        rmsNormEps = Float(try file.double("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-5)
        ropeTheta = Float(try file.double("\(arch).rope.freq_base") ?? 10_000)
        guard heads > 0, kvHeads > 0, hiddenSize > 0, layers > 0, intermediateSize > 0, contextLength > 0 else {
            throw ModelError("\(path): model dimensions must be positive (heads \(heads), kv heads \(kvHeads), hidden \(hiddenSize), layers \(layers))")
        }
        headDim = try file.int("\(arch).attention.key_length") ?? hiddenSize / heads
        guard heads % kvHeads == 0 else {
            throw ModelError("\(path): \(heads) attention heads cannot be grouped over \(kvHeads) key/value heads")
        }
        guard headDim % 16 == 0 else {
            throw ModelError("\(path): head dimension \(headDim) is not supported (needs a multiple of 16)")
        }
        if let valueLength = try file.int("\(arch).attention.value_length"), valueLength != headDim {
            throw ModelError("\(path): value head size \(valueLength) differs from key head size \(headDim); not supported")
        }
        if let rotary = try file.int("\(arch).rope.dimension_count"), rotary != headDim {
            throw ModelError("\(path): partial rotary embedding (\(rotary) of \(headDim) dims) is not supported")
        }
        if let scaling = try file.string("\(arch).rope.scaling.type"), scaling != "none" {
            throw ModelError("\(path): rope scaling '\(scaling)' is not supported; refusing rather than computing wrong positions")
        }
        let embedding = file.tensor(named: "token_embd.weight")
        vocabularySize = try file.int("\(arch).vocab_size") ?? embedding?.shape.last ?? 0
        guard vocabularySize > 0 else {
            throw ModelError("\(path): cannot tell the vocabulary size (no \(arch).vocab_size and no token_embd.weight)")
        }
        tiedEmbeddings = file.tensor(named: "output.weight") == nil
        ropeLayout = .adjacentPairs
    }

    /// Reads a Hugging Face `config.json` (LlamaForCausalLM / IQuestCoderForCausalLM). Keys the
    /// forward pass cannot honour are refused before any weight is read, naming the key.
    /// `loops` is how many times the architecture runs its layers (`loop_num`): 1 for dense
    /// models (the key must then be absent or 1), 2 for IQuestLoopCoder.
    public init(hf c: HFConfig, loops: Int = 1) throws(ModelError) {
        let path = c.path
        hiddenSize = try c.requireInt("hidden_size")
        intermediateSize = try c.requireInt("intermediate_size")
        layers = try c.requireInt("num_hidden_layers")
        heads = try c.requireInt("num_attention_heads")
        kvHeads = try c.int("num_key_value_heads") ?? heads
        vocabularySize = try c.requireInt("vocab_size")
        contextLength = try c.int("max_position_embeddings") ?? 2048
        rmsNormEps = Float(try c.double("rms_norm_eps") ?? 1e-6)
        tiedEmbeddings = try c.bool("tie_word_embeddings") ?? false
        guard heads > 0, kvHeads > 0, hiddenSize > 0, layers > 0, intermediateSize > 0, vocabularySize > 0 else {
            throw ModelError("\(path): model dimensions must be positive")
        }
        headDim = try c.int("head_dim") ?? hiddenSize / heads
        guard heads % kvHeads == 0 else {
            throw ModelError("\(path): \(heads) attention heads cannot be grouped over \(kvHeads) key/value heads")
        }
        guard headDim % 16 == 0 else {
            throw ModelError("\(path): head_dim \(headDim) is not supported (needs a multiple of 16)")
        }
        // rope_theta at top level (IQuest configs) or inside rope_parameters (newer transformers).
        var theta = try c.double("rope_theta")
        if let parameters = c.raw("rope_parameters") {
            guard let p = parameters as? [String: Any] else {
                throw ModelError("\(path): 'rope_parameters' should be an object")
            }
            let type = (p["rope_type"] as? String) ?? (p["type"] as? String) ?? "default"
            guard type == "default" else {
                throw ModelError("\(path): rope_parameters.rope_type '\(type)' is not supported; refusing rather than computing wrong positions")
            }
            if let t = (p["rope_theta"] as? NSNumber)?.doubleValue { theta = t }
        }
        if let scaling = c.raw("rope_scaling") {
            let type = ((scaling as? [String: Any])?["rope_type"] as? String) ?? ((scaling as? [String: Any])?["type"] as? String)
            guard type == "default" else {
                throw ModelError("\(path): 'rope_scaling' (\(type ?? "\(scaling)")) is not supported; refusing rather than computing wrong positions")
            }
        }
        ropeTheta = Float(theta ?? 10_000)
        if c.raw("clip_qkv") != nil {
            throw ModelError("\(path): 'clip_qkv' is set; clipping query/key/value activations is not supported")
        }
        if try c.bool("use_sliding_window") == true {
            throw ModelError("\(path): 'use_sliding_window' is true; sliding-window attention is not supported for dense models")
        }
        let attentionBias = try c.bool("attention_bias"), mlpBias = try c.bool("mlp_bias")
        if attentionBias == true || mlpBias == true {
            throw ModelError("\(path): 'attention_bias'/'mlp_bias' is true; linear biases are not supported")
        }
        if let act = c.string("hidden_act"), act != "silu" {
            throw ModelError("\(path): 'hidden_act' is '\(act)'; only silu (SwiGLU) is supported")
        }
        let loopNum = try c.int("loop_num")
        if loops == 1, let loopNum, loopNum != 1 {
            throw ModelError("\(path): 'loop_num' is \(loopNum) but the architecture '\(c.architectures.first ?? "?")' runs its layers once")
        }
        if loops != 1, loopNum != loops {
            throw ModelError("\(path): 'loop_num' is \(loopNum.map(String.init) ?? "missing"); this architecture is only defined for loop_num \(loops)")
        }
        ropeLayout = .rotateHalf
    }
}
