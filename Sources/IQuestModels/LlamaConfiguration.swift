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
    init(gguf file: GGUFFile, architecture arch: String) throws {
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
}
