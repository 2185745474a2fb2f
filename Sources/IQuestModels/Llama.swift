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
    /// Holds the matrices `repackForKernels` moved (nil when none were).
    var repackStorage: TensorArena?

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

/// Activation buffers for up to `tokens` rows per forward step; grown on demand and reused, so
/// decode steps allocate nothing here.
final class LlamaWorkspace {
    private(set) var tokens = 0
    private(set) var scoreCapacity = 0
    var x = UnsafeMutablePointer<Float>.allocate(capacity: 1)       // [T, hidden] residual stream
    var h = UnsafeMutablePointer<Float>.allocate(capacity: 1)       // [T, hidden] normed input
    var q = UnsafeMutablePointer<Float>.allocate(capacity: 1)       // [T, heads·headDim]
    var k = UnsafeMutablePointer<Float>.allocate(capacity: 1)       // [T, kvHeads·headDim] new keys
    var v = UnsafeMutablePointer<Float>.allocate(capacity: 1)       // [T, kvHeads·headDim] new values
    var attn = UnsafeMutablePointer<Float>.allocate(capacity: 1)    // [T, heads·headDim]
    var gate = UnsafeMutablePointer<Float>.allocate(capacity: 1)    // [T, intermediate]
    var up = UnsafeMutablePointer<Float>.allocate(capacity: 1)      // [T, intermediate]
    var scores = UnsafeMutablePointer<Float>.allocate(capacity: 1)  // attention scratch
    var cos = UnsafeMutablePointer<Float>.allocate(capacity: 1)     // [T, headDim/2] rotary tables per row
    var sin = UnsafeMutablePointer<Float>.allocate(capacity: 1)     // [T, headDim/2]
    let plan = StepPlan()

    func reserve(tokens t: Int, config c: LlamaConfiguration) {
        guard t > tokens else { return }
        for p in [x, h, q, k, v, attn, gate, up, cos, sin] { p.deallocate() }
        let kv = c.kvHeads * c.headDim
        x = .allocate(capacity: t * c.hiddenSize)
        h = .allocate(capacity: t * c.hiddenSize)
        q = .allocate(capacity: t * c.heads * c.headDim)
        k = .allocate(capacity: t * kv)
        v = .allocate(capacity: t * kv)
        attn = .allocate(capacity: t * c.heads * c.headDim)
        gate = .allocate(capacity: t * c.intermediateSize)
        up = .allocate(capacity: t * c.intermediateSize)
        cos = .allocate(capacity: t * c.headDim / 2)
        sin = .allocate(capacity: t * c.headDim / 2)
        tokens = t
    }

    func reserveScores(_ n: Int) {
        guard n > scoreCapacity else { return }
        scores.deallocate()
        scoreCapacity = max(n, scoreCapacity * 2)
        scores = .allocate(capacity: scoreCapacity)
    }

    deinit {
        for p in [x, h, q, k, v, attn, gate, up, scores, cos, sin] { p.deallocate() }
    }
}

/// The steps of a Llama decoder that other architectures reuse (the Loop model runs the same
/// layers twice). Holds the weights, RoPE tables and activation buffers; not thread-safe.
/// Every step works on the rows of `workspace.plan`: decode rows first, then prompt rows, each
/// group through its own kernels (see `BatchPhase`).
final class LlamaLayers {
    let config: LlamaConfiguration
    let weights: LlamaWeights
    let rope: RotaryEmbedding
    let workspace = LlamaWorkspace()
    var pool: ComputePool
    let activationPrecision: ActivationPrecision
    /// Added to every position before its rotary angles are taken (0 in normal use). Tests set it
    /// to reach positions past 100,000 without filling a cache that long: the cache keeps its
    /// own positions, only the rotations see the offset.
    var rotaryPositionOffset = 0
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

    var plan: StepPlan { workspace.plan }

    /// Checks and lays out a step, sizes the buffers and fills x with the rows' embeddings.
    func begin(_ batch: [BatchEntry], kv: KVBlockPool, layout: KVLayout) throws {
        try plan.build(batch, config: config, kv: kv, layout: layout, threads: pool.threads)
        workspace.reserve(tokens: plan.totalRows, config: config)
        workspace.reserveScores(plan.scratchFloats)
        let e = weights.embedding, n = config.hiddenSize
        for (i, id) in plan.tokens.enumerated() { dequantizeRow(e.kind, e.row(id), into: workspace.x + i * n, count: n) }
        // Rotary tables once per step (every layer uses them).
        let half = config.headDim / 2
        for (i, position) in plan.positions.enumerated() {
            rope.angles(position: position + rotaryPositionOffset, cos: workspace.cos + i * half, sin: workspace.sin + i * half)
        }
    }

    /// h = RMSNorm(x); q = h·Wqᵀ → workspace.q, k → workspace.k, v → workspace.v; RoPE on q and
    /// k at each row's position.
    func projectAttentionInputs(_ w: LlamaLayerWeights) {
        let ws = workspace, c = config, t = plan.totalRows
        let qWidth = c.heads * c.headDim, kvWidth = c.kvHeads * c.headDim
        normRows(ws.x, w.attentionNorm, into: ws.h, rows: t)
        forEachPhase { first, rows, path in
            let x = ws.h + first * c.hiddenSize
            linear(x, rows: rows, DecodeProduct(w.wq, into: ws.q + first * qWidth), DecodeProduct(w.wk, into: ws.k + first * kvWidth),
                   DecodeProduct(w.wv, into: ws.v + first * kvWidth), pool: pool, quantized: quantized, path: path)
        }
        let half = c.headDim / 2
        for i in 0..<t {
            rope.apply(ws.q + i * qWidth, heads: c.heads, cos: ws.cos + i * half, sin: ws.sin + i * half)
            rope.apply(ws.k + i * kvWidth, heads: c.kvHeads, cos: ws.cos + i * half, sin: ws.sin + i * half)
        }
    }

    /// Stores the new keys/values of `layer` (unless `store` is false) and attends over each
    /// row's sequence into workspace.attn (or `out`); `window` selects the windowed pass and its
    /// local blocks.
    func attend(layer: Int, kv: KVBlockPool, window: Int? = nil, store: Bool = true, into out: UnsafeMutablePointer<Float>? = nil) {
        let ws = workspace
        if store { plan.store(keys: ws.k, values: ws.v, layer: layer, kv: kv, local: window != nil) }
        plan.attend(queries: ws.q, layer: layer, kv: kv, shape: config.attention, window: window, into: out ?? ws.attn,
                    scratch: ws.scores, pool: pool)
    }

    /// x += attn·Woᵀ; x += W_down·(silu(h·W_gateᵀ) ⊙ h·W_upᵀ) with h = RMSNorm(x). Reads workspace.attn.
    func finishLayer(_ w: LlamaLayerWeights) {
        let ws = workspace, c = config, t = plan.totalRows
        let qWidth = c.heads * c.headDim
        forEachPhase { first, rows, path in
            linear(ws.attn + first * qWidth, rows: rows, weights: w.wo, into: ws.h + first * c.hiddenSize, pool: pool,
                   quantized: quantized, path: path)
        }
        addInPlace(ws.x, ws.h, count: t * c.hiddenSize)
        normRows(ws.x, w.ffnNorm, into: ws.h, rows: t)
        forEachPhase { first, rows, path in
            let n = c.intermediateSize
            gatedLinear(ws.h + first * c.hiddenSize, rows: rows, gate: DecodeProduct(w.wGate, into: ws.gate + first * n),
                        up: DecodeProduct(w.wUp, into: ws.up + first * n), pool: pool, quantized: quantized, path: path)
        }
        forEachPhase { first, rows, path in
            linear(ws.gate + first * c.intermediateSize, rows: rows, weights: w.wDown, into: ws.h + first * c.hiddenSize,
                   pool: pool, quantized: quantized, path: path)
        }
        addInPlace(ws.x, ws.h, count: t * c.hiddenSize)
    }

    /// Final norm and output matrix for the rows the entries select; one `Logits` per entry that
    /// selects any, in batch order.
    func logits() -> [Logits?] {
        let c = config, ws = workspace
        let (rows, owners, decodeCount) = plan.logitRows()
        var result = [Logits?](repeating: nil, count: plan.entries.count)
        guard !rows.isEmpty else { return result }
        for (i, row) in rows.enumerated() {
            normRows(ws.x + row * c.hiddenSize, weights.outputNorm, into: ws.h + i * c.hiddenSize, rows: 1)
        }
        var out = [Float](repeating: 0, count: rows.count * c.vocabularySize)
        out.withUnsafeMutableBufferPointer { buffer in
            let y = buffer.baseAddress!
            for (first, count, path) in [(0, decodeCount, ProductPath.decode), (decodeCount, rows.count - decodeCount, .prompt)]
            where count > 0 {
                linear(ws.h + first * c.hiddenSize, rows: count, weights: weights.output, into: y + first * c.vocabularySize,
                       pool: pool, quantized: quantized, path: path)
            }
        }
        // One entry asking for logits (every single-sequence step): hand over the buffer as is.
        if let owner = owners.first, owners.last == owner {
            result[owner] = Logits(rows: rows.count, vocabularySize: c.vocabularySize, values: out)
            return result
        }
        var start = 0
        while start < rows.count {
            let owner = owners[start]
            var end = start
            while end < rows.count && owners[end] == owner { end += 1 }
            result[owner] = Logits(rows: end - start, vocabularySize: c.vocabularySize,
                                   values: Array(out[(start * c.vocabularySize)..<(end * c.vocabularySize)]))
            start = end
        }
        return result
    }

    /// Calls `body(firstRow, rowCount, path)` for the decode rows (row kernels) and then the
    /// prompt rows (matrix product), skipping an empty group.
    @inline(__always)
    private func forEachPhase(_ body: (Int, Int, ProductPath) -> Void) {
        if plan.decodeRows > 0 { body(0, plan.decodeRows, .decode) }
        if plan.promptRows > 0 { body(plan.decodeRows, plan.promptRows, .prompt) }
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
    let repacked: RepackReport
    public var repackReport: RepackReport? { repacked }
    let layers: LlamaLayers
    /// Keeps the mapped file(s) alive as long as the weights point into them.
    private let storage: AnyObject

    public var config: LlamaConfiguration { layers.config }
    public var vocabularySize: Int { layers.config.vocabularySize }
    public var contextLength: Int { layers.config.contextLength }
    public var kvLayout: KVLayout { KVLayout(layers: config.layers, kvWidth: config.kvHeads * config.headDim, kvHeads: config.kvHeads) }
    public var pool: ComputePool {
        get { layers.pool }
        set { layers.pool = newValue }
    }
    public var activationPrecision: ActivationPrecision { layers.activationPrecision }
    public var rotaryPositionOffset: Int {
        get { layers.rotaryPositionOffset }
        set { layers.rotaryPositionOffset = newValue }
    }

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
        var weights = try LlamaWeights(source: source, names: names, config: config)
        repacked = try weights.repackForKernels(pool: pool, releaseSources: source.isFileMapping, activations: activations)
        layers = LlamaLayers(config: config, weights: weights, pool: pool, activations: activations)
        self.architecture = architecture
        self.storage = storage
    }

    public func forward(batch: [BatchEntry], kv: KVBlockPool) throws -> [Logits?] {
        try layers.begin(batch, kv: kv, layout: kvLayout)
        for (l, w) in layers.weights.layers.enumerated() {
            layers.projectAttentionInputs(w)
            layers.attend(layer: l, kv: kv)
            layers.finishLayer(w)
        }
        return layers.logits()
    }
}
