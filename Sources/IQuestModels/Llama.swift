import IQuestFormats
import IQuestKernels

// Llama decoder (general.architecture = "llama"; IQuest-Coder-V1 dense = the same block).
// Semantics follow Hugging Face transformers' LlamaForCausalLM in fp32:
//   x = embed[ids]
//   per layer: h = RMSNorm(x)·w_attn_norm; q,k,v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ; RoPE(q, k);
//              x += Wo · softmax(q·kᵀ/√d + causal)·v   (GQA: head h reads kv head h / group)
//              h = RMSNorm(x)·w_ffn_norm;  x += W_down · (silu(h·W_gateᵀ) ⊙ h·W_upᵀ)
//   logits = RMSNorm(x)·w_out_norm · W_outᵀ   (W_out = embed when tied)

/// One decoder layer's weights (pointers into the mapped file; norms as f32 copies).
struct LlamaLayerWeights {
    var attentionNorm: [Float]
    var wq: WeightMatrix, wk: WeightMatrix, wv: WeightMatrix, wo: WeightMatrix
    var ffnNorm: [Float]
    var wGate: WeightMatrix, wUp: WeightMatrix, wDown: WeightMatrix
}

/// Tensor names of one checkpoint convention.
struct LlamaTensorNames: Sendable {
    var embedding: String
    var outputNorm: String
    var output: String
    var layer: @Sendable (Int, LayerTensor) -> String

    enum LayerTensor { case attentionNorm, q, k, v, o, ffnNorm, gate, up, down }

    /// llama.cpp's GGUF names; Q/K rows there are in adjacent-pair RoPE order.
    static let gguf = LlamaTensorNames(embedding: "token_embd.weight", outputNorm: "output_norm.weight",
                                       output: "output.weight") { i, t in
        let name: String
        switch t {
        case .attentionNorm: name = "attn_norm"
        case .q: name = "attn_q"
        case .k: name = "attn_k"
        case .v: name = "attn_v"
        case .o: name = "attn_output"
        case .ffnNorm: name = "ffn_norm"
        case .gate: name = "ffn_gate"
        case .up: name = "ffn_up"
        case .down: name = "ffn_down"
        }
        return "blk.\(i).\(name).weight"
    }

    /// Hugging Face names (rotate-half RoPE layout).
    static let huggingFace = LlamaTensorNames(embedding: "model.embed_tokens.weight", outputNorm: "model.norm.weight",
                                              output: "lm_head.weight") { i, t in
        let name: String
        switch t {
        case .attentionNorm: name = "input_layernorm"
        case .q: name = "self_attn.q_proj"
        case .k: name = "self_attn.k_proj"
        case .v: name = "self_attn.v_proj"
        case .o: name = "self_attn.o_proj"
        case .ffnNorm: name = "post_attention_layernorm"
        case .gate: name = "mlp.gate_proj"
        case .up: name = "mlp.up_proj"
        case .down: name = "mlp.down_proj"
        }
        return "model.layers.\(i).\(name).weight"
    }
}

struct LlamaWeights {
    var embedding: WeightMatrix          // [vocab, hidden]
    var layers: [LlamaLayerWeights]
    var outputNorm: [Float]
    var output: WeightMatrix             // [vocab, hidden]; the embedding when tied

    init(source t: some WeightSource, names n: LlamaTensorNames, config c: LlamaConfiguration) throws {
        let q = c.heads * c.headDim, kv = c.kvHeads * c.headDim, h = c.hiddenSize
        embedding = try t.matrix(n.embedding, rows: c.vocabularySize, columns: h)
        layers = try (0..<c.layers).map { i in
            LlamaLayerWeights(
                attentionNorm: try t.vector(n.layer(i, .attentionNorm), count: h),
                wq: try t.matrix(n.layer(i, .q), rows: q, columns: h),
                wk: try t.matrix(n.layer(i, .k), rows: kv, columns: h),
                wv: try t.matrix(n.layer(i, .v), rows: kv, columns: h),
                wo: try t.matrix(n.layer(i, .o), rows: h, columns: q),
                ffnNorm: try t.vector(n.layer(i, .ffnNorm), count: h),
                wGate: try t.matrix(n.layer(i, .gate), rows: c.intermediateSize, columns: h),
                wUp: try t.matrix(n.layer(i, .up), rows: c.intermediateSize, columns: h),
                wDown: try t.matrix(n.layer(i, .down), rows: h, columns: c.intermediateSize))
        }
        outputNorm = try t.vector(n.outputNorm, count: h)
        output = c.tiedEmbeddings ? embedding : try t.matrix(n.output, rows: c.vocabularySize, columns: h)
    }
}

/// Activation buffers for up to `tokens` positions per forward call; grown on demand and
/// reused, so decode steps allocate nothing here.
final class LlamaWorkspace {
    private(set) var tokens = 0
    private(set) var scoreCapacity = 0
    var x = UnsafeMutablePointer<Float>.allocate(capacity: 1)       // [T, hidden] residual stream
    var h = UnsafeMutablePointer<Float>.allocate(capacity: 1)       // [T, hidden] normed input
    var q = UnsafeMutablePointer<Float>.allocate(capacity: 1)       // [T, heads·headDim]
    var attn = UnsafeMutablePointer<Float>.allocate(capacity: 1)    // [T, heads·headDim]
    var gate = UnsafeMutablePointer<Float>.allocate(capacity: 1)    // [T, intermediate]
    var up = UnsafeMutablePointer<Float>.allocate(capacity: 1)      // [T, intermediate]
    var scores = UnsafeMutablePointer<Float>.allocate(capacity: 1)  // [threads, visible keys]
    var cos = UnsafeMutablePointer<Float>.allocate(capacity: 1)     // [headDim/2]
    var sin = UnsafeMutablePointer<Float>.allocate(capacity: 1)     // [headDim/2]

    func reserve(tokens t: Int, config c: LlamaConfiguration) {
        guard t > tokens else { return }
        for p in [x, h, q, attn, gate, up, cos, sin] { p.deallocate() }
        x = .allocate(capacity: t * c.hiddenSize)
        h = .allocate(capacity: t * c.hiddenSize)
        q = .allocate(capacity: t * c.heads * c.headDim)
        attn = .allocate(capacity: t * c.heads * c.headDim)
        gate = .allocate(capacity: t * c.intermediateSize)
        up = .allocate(capacity: t * c.intermediateSize)
        cos = .allocate(capacity: c.headDim / 2)
        sin = .allocate(capacity: c.headDim / 2)
        tokens = t
    }

    func reserveScores(_ n: Int) {
        guard n > scoreCapacity else { return }
        scores.deallocate()
        scoreCapacity = max(n, scoreCapacity * 2)
        scores = .allocate(capacity: scoreCapacity)
    }

    deinit {
        for p in [x, h, q, attn, gate, up, scores, cos, sin] { p.deallocate() }
    }
}

/// The steps of a Llama decoder that other architectures reuse (the Loop model runs the same
/// layers twice). Holds the weights, RoPE tables and activation buffers; not thread-safe.
final class LlamaLayers {
    let config: LlamaConfiguration
    let weights: LlamaWeights
    let rope: RotaryEmbedding
    let workspace = LlamaWorkspace()
    var pool: ComputePool
    let activationPrecision: ActivationPrecision
    /// Scratch for the integer decode products; nil on the exact path.
    private let quantized: QuantizedActivations?

    init(config: LlamaConfiguration, weights: LlamaWeights, pool: ComputePool, activations: ActivationPrecision) {
        self.config = config
        self.weights = weights
        self.pool = pool
        activationPrecision = activations
        quantized = QuantizedActivations(activations)
        rope = RotaryEmbedding(headDim: config.headDim, theta: config.ropeTheta, layout: config.ropeLayout)
    }

    /// Checks ids and sizes buffers for a chunk of `tokens.count` tokens whose attention spans
    /// `visible` key rows.
    func prepare(_ tokens: [Int], visibleKeys visible: Int) throws {
        guard !tokens.isEmpty else { throw ModelError("forward called with no tokens") }
        for id in tokens where id < 0 || id >= config.vocabularySize {
            throw ModelError("token id \(id) is outside the vocabulary (0..<\(config.vocabularySize))")
        }
        workspace.reserve(tokens: tokens.count, config: config)
        workspace.reserveScores(attentionScratchCount(firstPosition: visible - tokens.count, tokens: tokens.count,
                                                      shape: config.attention, threads: pool.threads))
    }

    /// x[T, hidden] = embedding rows of `tokens`.
    func embed(_ tokens: [Int]) {
        let e = weights.embedding, n = config.hiddenSize
        for (i, id) in tokens.enumerated() { dequantizeRow(e.kind, e.row(id), into: workspace.x + i * n, count: n) }
    }

    /// h = RMSNorm(x); q = h·Wqᵀ → workspace.q, k → `keys`, v → `values` (each [T, ·] rows);
    /// RoPE on q and k at positions p0 … p0+T−1.
    func projectAttentionInputs(_ w: LlamaLayerWeights, tokens t: Int, firstPosition p0: Int,
                                keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>) {
        let ws = workspace, c = config
        let qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
        normRows(ws.x, w.attentionNorm, into: ws.h, rows: t)
        linear(ws.h, rows: t, DecodeProduct(w.wq, into: ws.q), DecodeProduct(w.wk, into: keys),
               DecodeProduct(w.wv, into: values), pool: pool, quantized: quantized)
        for i in 0..<t {
            rope.angles(position: p0 + i, cos: ws.cos, sin: ws.sin)
            rope.apply(ws.q + i * qWidth, heads: c.heads, cos: ws.cos, sin: ws.sin)
            rope.apply(keys + i * kvWidth, heads: c.kvHeads, cos: ws.cos, sin: ws.sin)
        }
    }

    /// x += attn·Woᵀ; x += W_down·(silu(h·W_gateᵀ) ⊙ h·W_upᵀ) with h = RMSNorm(x). Reads workspace.attn.
    func finishLayer(_ w: LlamaLayerWeights, tokens t: Int) {
        let ws = workspace, c = config
        product(ws.attn, t, w.wo, ws.h)
        addInPlace(ws.x, ws.h, count: t * c.hiddenSize)
        normRows(ws.x, w.ffnNorm, into: ws.h, rows: t)
        gatedLinear(ws.h, rows: t, gate: DecodeProduct(w.wGate, into: ws.gate), up: DecodeProduct(w.wUp, into: ws.up),
                    pool: pool, quantized: quantized)
        product(ws.gate, t, w.wDown, ws.h)
        addInPlace(ws.x, ws.h, count: t * c.hiddenSize)
    }

    /// Final norm and output matrix for the selected rows of x.
    func logits(tokens t: Int, selection: LogitsSelection) -> Logits {
        let c = config, ws = workspace
        let first = selection == .all ? 0 : t - 1
        let rows = t - first
        normRows(ws.x + first * c.hiddenSize, weights.outputNorm, into: ws.h, rows: rows)
        var out = [Float](repeating: 0, count: rows * c.vocabularySize)
        out.withUnsafeMutableBufferPointer { buffer in
            product(ws.h, rows, weights.output, buffer.baseAddress!)
        }
        return Logits(rows: rows, vocabularySize: c.vocabularySize, values: out)
    }

    /// y[T, N] = x[T, K] · Wᵀ at this model's activation precision.
    @inline(__always)
    private func product(_ x: UnsafePointer<Float>, _ t: Int, _ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>) {
        linear(x, rows: t, weights: w, into: y, pool: pool, quantized: quantized)
    }

    private func normRows(_ x: UnsafePointer<Float>, _ weight: [Float], into out: UnsafeMutablePointer<Float>, rows: Int) {
        let n = config.hiddenSize
        weight.withUnsafeBufferPointer { w in
            for r in 0..<rows {
                rmsNorm(x + r * n, weight: w.baseAddress!, eps: config.rmsNormEps, into: out + r * n, count: n)
            }
        }
    }
}

public final class LlamaModel: LanguageModel {
    public let architecture: String
    let layers: LlamaLayers
    /// Keeps the mapped file(s) alive as long as the weights point into them.
    private let storage: AnyObject

    public var config: LlamaConfiguration { layers.config }
    public var vocabularySize: Int { layers.config.vocabularySize }
    public var contextLength: Int { layers.config.contextLength }
    public var pool: ComputePool {
        get { layers.pool }
        set { layers.pool = newValue }
    }
    public var activationPrecision: ActivationPrecision { layers.activationPrecision }

    public convenience init(gguf: GGUFFile, architecture: String, pool: ComputePool,
                            activations: ActivationPrecision = .standard) throws {
        try self.init(config: LlamaConfiguration(gguf: gguf, architecture: architecture), source: GGUFTensors(file: gguf),
                      names: .gguf, architecture: architecture, pool: pool, activations: activations, storage: gguf)
    }

    /// From a Hugging Face checkpoint directory.
    public convenience init(hf hfConfig: HFConfig, checkpoint: SafetensorsCheckpoint, architecture: String, pool: ComputePool,
                            activations: ActivationPrecision = .standard) throws {
        try self.init(config: LlamaConfiguration(hf: hfConfig), source: SafetensorsTensors(checkpoint: checkpoint),
                      names: .huggingFace, architecture: architecture, pool: pool, activations: activations, storage: checkpoint)
    }

    /// Shared tail of every constructor; `storage` owns the memory the weights point into.
    init(config: LlamaConfiguration, source: some WeightSource, names: LlamaTensorNames, architecture: String,
         pool: ComputePool, activations: ActivationPrecision = .standard, storage: AnyObject) throws {
        let weights = try LlamaWeights(source: source, names: names, config: config)
        layers = LlamaLayers(config: config, weights: weights, pool: pool, activations: activations)
        self.architecture = architecture
        self.storage = storage
    }

    public func makeCache(capacity: Int) -> any SequenceCache {
        KVCache(layers: config.layers, capacity: capacity, kvWidth: config.kvHeads * config.headDim)
    }

    public func forward(_ tokens: [Int], cache anyCache: any SequenceCache, logits selection: LogitsSelection) throws -> Logits {
        guard let cache = anyCache as? KVCache else {
            throw ModelError("a Llama model needs the cache it made with makeCache(capacity:)")
        }
        let t = tokens.count, p0 = cache.count
        guard p0 + t <= cache.capacity else {
            throw ModelError("the sequence would hold \(p0 + t) tokens but its cache holds \(cache.capacity)")
        }
        try layers.prepare(tokens, visibleKeys: p0 + t)
        let ws = layers.workspace, c = config
        let kvWidth = c.kvHeads * c.headDim
        layers.embed(tokens)
        for (l, w) in layers.weights.layers.enumerated() {
            let keys = cache.keys(layer: l), values = cache.values(layer: l)
            layers.projectAttentionInputs(w, tokens: t, firstPosition: p0,
                                          keys: keys + p0 * kvWidth, values: values + p0 * kvWidth)
            causalAttention(queries: ws.q, keys: keys, values: values, firstPosition: p0, tokens: t,
                            shape: c.attention, into: ws.attn, scratch: ws.scores, pool: layers.pool)
            layers.finishLayer(w, tokens: t)
        }
        cache.advance(by: t)
        return layers.logits(tokens: t, selection: selection)
    }
}
