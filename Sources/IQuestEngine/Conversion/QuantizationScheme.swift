import IQuestKernels

/// How a conversion stores matrices (vectors — norms, Loop gate biases — and Loop gate matrices
/// always stay f32).
public enum QuantizationScheme: Sendable, Equatable {
    /// Every matrix in one kind. A k-quant kind falls back per llama.cpp for rows that are not a
    /// multiple of 256 (`kQuantFallback`).
    case uniform(WeightKind)
    /// llama.cpp's Q4_K_M mix (llama_tensor_get_type with LLAMA_FTYPE_MOSTLY_Q4_K_M):
    /// - q4_K for every matrix, except:
    /// - output.weight: q6_K (and token_embd.weight when there is no output.weight, i.e. tied
    ///   embeddings: llama.cpp treats the embedding as the output matrix then);
    /// - attn_v.weight and ffn_down.weight: q6_K on the layers `usesMoreBits` picks;
    /// - then the same row-length fallback as `.uniform`.
    /// llama.cpp's further rules for Q4_K_M concern MoE (n_expert == 8 → q8_0 attn_v) and
    /// 70B-class models (attn_v → q5_K); neither applies to this engine's models.
    case q4_K_M

    /// `general.file_type` as llama.cpp numbers it (llama_ftype).
    public var fileType: UInt32 {
        switch self {
        case .q4_K_M: return 15                 // LLAMA_FTYPE_MOSTLY_Q4_K_M
        case .uniform(let kind):
            switch kind {
            case .f32: return 0
            case .f16: return 1
            case .q4_0: return 2
            case .q4_1: return 3
            case .q8_0: return 7
            case .q4_K: return 14               // LLAMA_FTYPE_MOSTLY_Q4_K_S, the closest "mostly q4_K" label
            case .q6_K: return 18               // LLAMA_FTYPE_MOSTLY_Q6_K
            case .bf16: return 32
            }
        }
    }

    /// The stored kind of matrix `name` (GGUF name, llama.cpp convention) with rows of `columns`
    /// values, in layer `layer` of `layers` (nil for tensors outside the blocks); `hasOutput`:
    /// whether the model has a separate output.weight.
    func matrixKind(name: String, columns: Int, layer: Int?, layers: Int, hasOutput: Bool) throws -> WeightKind {
        let chosen: WeightKind
        switch self {
        case .uniform(let kind):
            chosen = kind
        case .q4_K_M:
            if name == "output.weight" || (!hasOutput && name == "token_embd.weight") {
                chosen = .q6_K
            } else if name.hasSuffix("attn_v.weight") || name.hasSuffix("ffn_down.weight"),
                      let layer, Self.usesMoreBits(layer: layer, layers: layers) {
                chosen = .q6_K
            } else {
                chosen = .q4_K
            }
        }
        if chosen.blockSize == 256 { return Self.kQuantFallback(chosen, columns: columns) }
        guard columns % chosen.blockSize == 0 else {
            throw ConversionError("tensor '\(name)' rows have \(columns) values, not a multiple of \(chosen.blockSize) as \(chosen) needs")
        }
        return chosen
    }

    /// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third layer
    /// in between (integer division throughout).
    public static func usesMoreBits(layer: Int, layers: Int) -> Bool {
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2
    }

    /// A k-quant for rows of `columns` values: itself when they fit whole 256-element super-blocks;
    /// otherwise llama.cpp falls back (q4_K → q5_0, q6_K → q8_0, then f16 when even 32 does not
    /// divide the rows). This engine has no q5_0, so q4_K falls back to q8_0 too (the nearest
    /// supported type that is not less precise than q5_0).
    static func kQuantFallback(_ kind: WeightKind, columns: Int) -> WeightKind {
        if columns % 256 == 0 { return kind }
        return columns % 32 == 0 ? .q8_0 : .f16
    }
}

/// The layer index in a GGUF tensor name "blk.N.…", nil for others.
func layerIndex(_ name: String) -> Int? {
    guard name.hasPrefix("blk.") else { return nil }
    return Int(name.dropFirst(4).prefix { $0.isNumber })
}
