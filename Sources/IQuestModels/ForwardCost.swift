import IQuestKernels

/// What a forward pass costs, for turning benchmark rates into GFLOP/s and GB/s. Counts come
/// from the weights a model actually holds (so mixed-type files are counted as stored).
public struct ForwardCost: Sendable, Equatable {
    /// Elements of the decoder layers' matrices (Q, K, V, O, gate, up, down), all layers, one pass.
    public var layerParameters: Int
    /// Their stored bytes.
    public var layerBytes: Int
    /// Elements and stored bytes of the output matrix (`lm_head`).
    public var outputParameters: Int
    public var outputBytes: Int
    /// Bytes of one embedding row (read once per token).
    public var embeddingRowBytes: Int
    /// Times a token goes through the layers (2 for IQuestLoopCoder).
    public var passes: Int
    public var layers: Int
    public var attention: AttentionShape
    /// Loop pass 2's local window; nil for dense models.
    public var window: Int?

    /// Floating-point operations of one forward over `tokens` new tokens after `cached` ones,
    /// with logits for the last `logitRows`: 2 per multiply-add of every matrix a token goes
    /// through, plus attention (2·headDim for q·k and 2·headDim for p·v per visible key and
    /// query head; Loop pass 2 attends twice: globally and within the window). Norms, RoPE,
    /// softmax and gates are left out (under 1% at these shapes).
    public func flops(tokens: Int, cached: Int, logitRows: Int) -> Double {
        var total = 2 * Double(tokens) * Double(layerParameters * passes) + 2 * Double(logitRows * outputParameters)
        let perKey = Double(4 * attention.heads * attention.headDim * layers)
        for p in cached..<(cached + tokens) {
            total += perKey * Double(p + 1) * Double(passes)
            if let w = window { total += perKey * Double(min(w, p + 1)) }
        }
        return total
    }

    /// Weight bytes one single-token step reads: every layer matrix once per pass, the output
    /// matrix once, one embedding row. (The KV cache and norm vectors are not counted.)
    public var decodeWeightBytes: Int { layerBytes * passes + outputBytes + embeddingRowBytes }

    /// Key/value bytes one single-token step at `position` reads, with `bytesPerToken` per
    /// cached position (all layers, keys and values as stored): every earlier position once per
    /// pass (Loop pass 2 attends over pass 1's keys again), plus the window of pass 2's own.
    public func decodeKVBytes(position: Int, bytesPerToken: Int) -> Int {
        let visible = position + 1
        return bytesPerToken * (visible * passes + (window.map { min($0, visible) } ?? 0))
    }
}

/// Models that can say what their forward pass costs.
public protocol ForwardCostReporting {
    var forwardCost: ForwardCost { get }
}

extension LlamaLayers {
    func forwardCost(passes: Int, window: Int?) -> ForwardCost {
        let matrices = weights.layers.flatMap { [$0.wq, $0.wk, $0.wv, $0.wo, $0.wGate, $0.wUp, $0.wDown] }
        return ForwardCost(layerParameters: matrices.reduce(0) { $0 + $1.rows * $1.columns },
                           layerBytes: matrices.reduce(0) { $0 + $1.byteCount },
                           outputParameters: weights.output.rows * weights.output.columns,
                           outputBytes: weights.output.byteCount,
                           embeddingRowBytes: weights.embedding.rowBytes,
                           passes: passes, layers: config.layers, attention: config.attention, window: window)
    }
}

extension LlamaModel: ForwardCostReporting {
    public var forwardCost: ForwardCost { layers.forwardCost(passes: 1, window: nil) }
}

extension LoopCoderModel: ForwardCostReporting {
    public var forwardCost: ForwardCost { layers.forwardCost(passes: 2, window: window) }
}
