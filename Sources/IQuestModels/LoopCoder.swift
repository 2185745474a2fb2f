import Foundation
import IQuestFormats
import IQuestKernels

// IQuestLoopCoderForCausalLM (IQuest-Coder-V1-40B-Loop), per the project's model contract
// (shared spec §3), which follows vLLM / SGLang / mlx-lm rather than the released HF modeling
// files. For a chunk of tokens at positions p0 … p0+T−1:
//   pass 1: the Llama layers as usual; layer i's keys/values go to a full per-layer cache.
//   pass 2: the hidden state leaving pass 1 enters layer 0 again unchanged (no norm, no shift);
//           the same weights and positions. In layer i, with q2/k2/v2 after RoPE:
//             g = sigmoid(q2[h] · Wg_i[h] + bg_i[h])          per token and query head
//             A = attention of q2 over layer i's pass-1 keys/values (all of history)
//             B = attention of q2 over layer i's pass-2 keys/values, window of W ending at itself
//             mixed = g·A + (1−g)·B, then o_proj, residual, MLP as usual.
//   logits from pass 2 only.

/// Gate of one layer: Wg [heads, headDim], bg [heads].
struct LoopGate {
    var weight: [Float]
    var bias: [Float]
}

public final class LoopCoderModel: LanguageModel {
    public let architecture: String
    let repacked: RepackReport
    public var repackReport: RepackReport? { repacked }
    /// Keys per query in the local branch (`loop_window_size`).
    public let window: Int
    let layers: LlamaLayers
    let gates: [LoopGate]
    private let storage: AnyObject
    private let loop = LoopWorkspace()

    public var config: LlamaConfiguration { layers.config }
    public var vocabularySize: Int { layers.config.vocabularySize }
    public var contextLength: Int { layers.config.contextLength }
    public var pool: ComputePool {
        get { layers.pool }
        set { layers.pool = newValue }
    }
    public var activationPrecision: ActivationPrecision { layers.activationPrecision }
    public var rotaryPositionOffset: Int {
        get { layers.rotaryPositionOffset }
        set { layers.rotaryPositionOffset = newValue }
    }

    /// From a Hugging Face checkpoint directory. `loop_num` must be 2, `loop_window_size`
    /// positive, and every layer's gate weight and bias present.
    public convenience init(hf hfConfig: HFConfig, checkpoint: SafetensorsCheckpoint, architecture: String, pool: ComputePool,
                            activations: ActivationPrecision = .standard) throws {
        let config = try LlamaConfiguration(hf: hfConfig, loops: 2)
        guard let window = try hfConfig.int("loop_window_size"), window > 0 else {
            throw ModelError("\(hfConfig.path): 'loop_window_size' must be a positive integer for \(architecture)")
        }
        try self.init(config: config, window: window, source: SafetensorsTensors(checkpoint: checkpoint),
                      names: .huggingFace, gatePrefix: { "model.gate_projections.\($0)." },
                      architecture: architecture, pool: pool, activations: activations, storage: checkpoint)
    }

    /// From a GGUF file in this project's Loop convention (docs/GGUF-LOOP.md): architecture
    /// `iquestloopcoder`, llama keys under that prefix plus `loop_num` / `loop_window_size`,
    /// llama.cpp tensor names (Q/K rows in adjacent-pair RoPE order) and per layer
    /// `blk.{i}.loop_gate.weight` [headDim, heads] (innermost first; columns permuted like Q's
    /// rows) and `blk.{i}.loop_gate.bias` [heads], both f32.
    public convenience init(gguf: GGUFFile, architecture: String, pool: ComputePool, activations: ActivationPrecision = .standard) throws {
        let config = try LlamaConfiguration(gguf: gguf, architecture: architecture)
        let loops = try gguf.int("\(architecture).loop_num")
        guard loops == 2 else {
            throw ModelError("\(gguf.path): '\(architecture).loop_num' is \(loops.map(String.init) ?? "missing"); this architecture is only defined for 2")
        }
        guard let window = try gguf.int("\(architecture).loop_window_size"), window > 0 else {
            throw ModelError("\(gguf.path): '\(architecture).loop_window_size' must be a positive integer")
        }
        try self.init(config: config, window: window, source: GGUFTensors(file: gguf), names: .gguf,
                      gatePrefix: { "blk.\($0).loop_gate." }, architecture: architecture, pool: pool,
                      activations: activations, storage: gguf)
    }

    /// Shared tail of every constructor: the Llama weights plus every layer's gate
    /// (`<prefix>weight` [heads, headDim], `<prefix>bias` [heads]; a missing one is an error naming it).
    init(config: LlamaConfiguration, window: Int, source: some WeightSource, names: LlamaTensorNames,
         gatePrefix: (Int) -> String, architecture: String, pool: ComputePool,
         activations: ActivationPrecision = .standard, storage: AnyObject) throws {
        var weights = try LlamaWeights(source: source, names: names, config: config)
        repacked = try weights.repackForKernels(pool: pool, releaseSources: source.isFileMapping, activations: activations)
        gates = try (0..<config.layers).map { i in
            LoopGate(weight: try source.floats(gatePrefix(i) + "weight", shape: [config.heads, config.headDim]),
                     bias: try source.floats(gatePrefix(i) + "bias", shape: [config.heads]))
        }
        layers = LlamaLayers(config: config, weights: weights, pool: pool, activations: activations)
        self.window = window
        self.architecture = architecture
        self.storage = storage
    }

    public var kvLayout: KVLayout {
        KVLayout(layers: config.layers, kvWidth: config.kvHeads * config.headDim, kvHeads: config.kvHeads, localWindow: window)
    }

    public func forward(batch: [BatchEntry], kv: KVBlockPool) throws -> [Logits?] {
        try layers.begin(batch, kv: kv, layout: kvLayout)
        let t = layers.plan.totalRows
        loop.reserve(tokens: t, config: config)

        // Pass 1: the dense decoder, filling the global blocks.
        for (l, w) in layers.weights.layers.enumerated() {
            layers.projectAttentionInputs(w)
            layers.attend(layer: l, kv: kv)
            layers.finishLayer(w)
        }

        // Pass 2: same layers from pass 1's output. Keys/values go to the local blocks; queries
        // attend over pass 1's keys (global) and over the local window, mixed by the gate.
        for (l, w) in layers.weights.layers.enumerated() {
            layers.projectAttentionInputs(w)
            computeGates(gates[l], tokens: t)
            layers.attend(layer: l, kv: kv, window: window, into: loop.localAttention)
            layers.attend(layer: l, kv: kv, store: false)
            mixBranches(tokens: t)
            layers.finishLayer(w)
        }
        return layers.logits()
    }

    /// loop.gates[t, h] = sigmoid(q[t, h] · Wg[h] + bg[h]) from the queries after RoPE.
    private func computeGates(_ gate: LoopGate, tokens t: Int) {
        let c = config, q = layers.workspace.q
        gate.weight.withUnsafeBufferPointer { wg in
            for token in 0..<t {
                for h in 0..<c.heads {
                    let z = dot(q + (token * c.heads + h) * c.headDim, wg.baseAddress! + h * c.headDim, c.headDim) + gate.bias[h]
                    loop.gates[token * c.heads + h] = 1 / (1 + expf(-z))
                }
            }
        }
    }

    /// attn = g·A + (1−g)·B per head, with A in workspace.attn and B in loop.localAttention.
    private func mixBranches(tokens t: Int) {
        let c = config, a = layers.workspace.attn, b = loop.localAttention
        for token in 0..<t {
            for h in 0..<c.heads {
                let g = loop.gates[token * c.heads + h]
                let base = (token * c.heads + h) * c.headDim
                for d in 0..<c.headDim { a[base + d] = g * a[base + d] + (1 - g) * b[base + d] }
            }
        }
    }
}

/// Pass-2 buffers, grown on demand.
final class LoopWorkspace {
    private var capacityTokens = 0
    var localAttention = UnsafeMutablePointer<Float>.allocate(capacity: 1)  // [T, heads·headDim]
    var gates = UnsafeMutablePointer<Float>.allocate(capacity: 1)           // [T, heads]

    func reserve(tokens t: Int, config c: LlamaConfiguration) {
        guard t > capacityTokens else { return }
        for p in [localAttention, gates] { p.deallocate() }
        localAttention = .allocate(capacity: t * c.heads * c.headDim)
        gates = .allocate(capacity: t * c.heads)
        capacityTokens = t
    }

    deinit {
        for p in [localAttention, gates] { p.deallocate() }
    }
}
