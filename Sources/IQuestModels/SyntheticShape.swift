import Foundation
import IQuestKernels

/// The shape of an IQuest-Coder-V1 model (shared spec §1–3) without its weights: what
/// `iquest bench --synthetic` builds with random values to measure the engine at the real sizes.
/// Tensors use llama.cpp's GGUF names and layout (adjacent-pair RoPE), Loop gates this project's
/// GGUF convention (docs/GGUF-LOOP.md), so the same bytes written to a GGUF load as the same model.
public struct SyntheticShape: Sendable, Equatable {
    public var name: String
    public var vocabularySize = 76_800
    public var hiddenSize = 5120
    public var intermediateSize = 27_648
    public var heads = 40
    public var kvHeads = 8
    public var headDim = 128
    public var layers: Int
    /// `loop_window_size` of IQuestLoopCoder (layers run twice); nil for the dense models.
    public var loopWindow: Int?
    public var ropeTheta: Float = 500_000
    public var rmsNormEps: Float = 1e-5
    public var contextLength = 131_072

    public init(name: String, layers: Int, loopWindow: Int? = nil) {
        self.name = name
        self.layers = layers
        self.loopWindow = loopWindow
    }

    /// The published family (spec §1). Loop-Thinking's window 8192 is used for the Loop model;
    /// Loop-Instruct's is 64 (the window only matters past that many tokens of context).
    public static let presets: [SyntheticShape] = [
        SyntheticShape(name: "iquest-7b", layers: 14),
        SyntheticShape(name: "iquest-14b", layers: 28),
        SyntheticShape(name: "iquest-40b", layers: 80),
        SyntheticShape(name: "iquest-40b-loop", layers: 80, loopWindow: 8192),
    ]

    public static func preset(named name: String) -> SyntheticShape? {
        presets.first { $0.name == name }
    }

    public var isLoop: Bool { loopWindow != nil }
    /// Times each token goes through the layers.
    public var passes: Int { isLoop ? 2 : 1 }
    /// The GGUF architecture name whose constructor this shape runs through.
    public var architecture: String { isLoop ? "iquestloopcoder" : "llama" }

    /// Every tensor, in the order a GGUF converter writes them: (name, shape outermost first,
    /// quantized?). Matrices take the requested type; norms and Loop gates stay f32.
    public var tensorList: [(name: String, shape: [Int], quantized: Bool)] {
        let h = hiddenSize, q = heads * headDim, kv = kvHeads * headDim, f = intermediateSize
        var list: [(name: String, shape: [Int], quantized: Bool)] = [("token_embd.weight", [vocabularySize, h], true)]
        for i in 0..<layers {
            let p = "blk.\(i)."
            list += [(p + "attn_norm.weight", [h], false),
                     (p + "attn_q.weight", [q, h], true),
                     (p + "attn_k.weight", [kv, h], true),
                     (p + "attn_v.weight", [kv, h], true),
                     (p + "attn_output.weight", [h, q], true),
                     (p + "ffn_norm.weight", [h], false),
                     (p + "ffn_gate.weight", [f, h], true),
                     (p + "ffn_up.weight", [f, h], true),
                     (p + "ffn_down.weight", [h, f], true)]
            if isLoop {
                list += [(p + "loop_gate.weight", [heads, headDim], false), (p + "loop_gate.bias", [heads], false)]
            }
        }
        list += [("output_norm.weight", [h], false), ("output.weight", [vocabularySize, h], true)]
        return list
    }

    /// Parameters of all tensors (embedding, output, norms and gates included).
    public var parameterCount: Int {
        tensorList.reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// Bytes of all tensors with matrices stored as `kind`.
    public func weightBytes(_ kind: WeightKind) -> Int {
        tensorList.reduce(0) { total, t in
            total + (t.quantized ? kind : .f32).rowBytes(columns: t.shape.last!) * t.shape.dropLast().reduce(1, *)
        }
    }

    var configuration: LlamaConfiguration {
        LlamaConfiguration(vocabularySize: vocabularySize, hiddenSize: hiddenSize, intermediateSize: intermediateSize,
                           layers: layers, heads: heads, kvHeads: kvHeads, headDim: headDim, ropeTheta: ropeTheta,
                           rmsNormEps: rmsNormEps, contextLength: contextLength, ropeLayout: .adjacentPairs,
                           tiedEmbeddings: false)
    }

    /// Checks the dimensions the kernels rely on, with a sentence naming the one that is off.
    public func validate() throws(ModelError) {
        guard layers > 0, heads > 0, kvHeads > 0, headDim > 0, hiddenSize > 0, intermediateSize > 0, vocabularySize > 0 else {
            throw ModelError("\(name): every dimension must be positive (layers \(layers))")
        }
        guard heads % kvHeads == 0 else { throw ModelError("\(name): \(heads) heads cannot be grouped over \(kvHeads) key/value heads") }
        guard headDim % 16 == 0 else { throw ModelError("\(name): head dimension \(headDim) is not a multiple of 16") }
        for n in [hiddenSize, intermediateSize, heads * headDim] where n % groupSize != 0 {
            throw ModelError("\(name): dimension \(n) is not a multiple of \(groupSize)")
        }
        if let w = loopWindow, w <= 0 { throw ModelError("\(name): the loop window must be positive") }
    }
}

extension LlamaConfiguration {
    init(vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int, kvHeads: Int,
         headDim: Int, ropeTheta: Float, rmsNormEps: Float, contextLength: Int, ropeLayout: RopeLayout, tiedEmbeddings: Bool) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.ropeTheta = ropeTheta
        self.rmsNormEps = rmsNormEps
        self.contextLength = contextLength
        self.ropeLayout = ropeLayout
        self.tiedEmbeddings = tiedEmbeddings
    }
}

/// Memory a synthetic bench run will touch, estimated before anything is allocated.
public struct SyntheticMemoryEstimate: Sendable, Equatable {
    /// The weights (matrices in the requested type, norms and gates f32).
    public var weights: Int
    /// Key/value caches (f32) for the longest test; Loop: plus the pass-2 ring's touched slots.
    public var cache: Int
    /// Activation buffers for the longest chunk, attention scratch, logits, packing panels.
    public var buffers: Int
    /// Buffer of the bandwidth probe (allocated once the model is built, freed before the tests).
    public var probe: Int
    /// The process itself (runtime, code, allocator slack).
    public var process: Int

    public var total: Int { weights + max(probe, cache + buffers) + process }
}

/// What a synthetic run will do, for estimating its memory.
public struct SyntheticRunPlan: Sendable, Equatable {
    /// Most positions a cache holds (the longest test).
    public var cacheTokens: Int
    /// Tokens of the longest forward call.
    public var chunkTokens: Int
    public var threads: Int
    public var probeBytes: Int
    /// How the cache stores keys and values.
    public var kvTypes: KVCacheTypes

    public init(cacheTokens: Int, chunkTokens: Int, threads: Int, probeBytes: Int, kvTypes: KVCacheTypes = .f32) {
        self.cacheTokens = cacheTokens
        self.chunkTokens = chunkTokens
        self.threads = threads
        self.probeBytes = probeBytes
        self.kvTypes = kvTypes
    }
}

extension SyntheticShape {
    public func memoryEstimate(_ kind: WeightKind, plan: SyntheticRunPlan) -> SyntheticMemoryEstimate {
        let kv = kvHeads * headDim, q = heads * headDim, t = max(1, plan.chunkTokens), n = plan.cacheTokens
        // Pass 1 (and dense): every position; Loop pass 2: the ring slots written (≤ window).
        let perPosition = kvHeads * plan.kvTypes.bytesPerHeadPosition(headDim: headDim)
        let cachePerLayer = n * perPosition + (loopWindow.map { min($0 + t + 32, n) * perPosition } ?? 0)
        var buffers = t * (2 * hiddenSize + 2 * q + 2 * intermediateSize) * 4       // x, h, q, attn, gate, up
        let attention = AttentionShape(heads: heads, kvHeads: kvHeads, headDim: headDim)
        buffers += attentionScratchCount(firstPosition: 0, tokens: t, shape: attention, threads: plan.threads) * 4
        buffers += vocabularySize * 4                                               // last-token logits
        buffers += plan.threads * 17 * max(hiddenSize, intermediateSize) * 4        // prompt packing panels
        // Loop pass-2 workspace: local keys/values (touched rows), local attention, gates.
        if let w = loopWindow { buffers += (2 * (min(w, n) + t) * kv + t * q + t * heads) * 4 }
        return SyntheticMemoryEstimate(weights: weightBytes(kind), cache: layers * cachePerLayer, buffers: buffers,
                                       probe: plan.probeBytes, process: 256 << 20)
    }

    /// nil when the run fits in `available` bytes, else the sentence refusing it: what it needs,
    /// part by part, against MemAvailable, and how many layers would fit.
    public func memoryRefusal(_ kind: WeightKind, plan: SyntheticRunPlan, available: Int) -> String? {
        let need = memoryEstimate(kind, plan: plan)
        guard need.total > available else { return nil }
        func gb(_ n: Int) -> String { String(format: "%.2f GB", Double(n) / 1e9) }
        var fewer = self
        fewer.layers = layers - 1
        while fewer.layers > 0 && fewer.memoryEstimate(kind, plan: plan).total > available { fewer.layers -= 1 }
        let hint = fewer.layers > 0 ? "--layers \(fewer.layers) would fit" : "not even one layer fits"
        return "synthetic \(name) (\(layers) layers, \(kind)) needs \(gb(need.total)) (weights \(gb(need.weights)), "
            + "KV cache \(gb(need.cache)), buffers \(gb(need.buffers)), bandwidth probe \(gb(need.probe)), process \(gb(need.process)); "
            + "the probe runs before the caches exist) but MemAvailable is \(gb(available)); \(hint) at this --type"
    }
}
