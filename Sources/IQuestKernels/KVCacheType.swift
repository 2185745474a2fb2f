/// How keys or values are stored in the KV cache, one head row (headDim elements) at a time, in
/// the same byte layouts as weights (`WeightKind`): f32 (4 B/element), f16 and bf16 (2 B), q8_0
/// (34 B per 32 elements, 8.5 bits) and q4_0 (18 B per 32, 4.5 bits). Rows are encoded when a
/// step writes them (ggml's rounding rules, `quantizeRow`) and attention decodes them block by
/// block as it reads.
public enum KVCacheType: String, Sendable, CaseIterable, CustomStringConvertible {
    case f32, f16, bf16, q8_0, q4_0

    public var kind: WeightKind {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        }
    }

    public var description: String { rawValue }

    /// Bytes of one head row of `headDim` elements.
    public func rowBytes(headDim: Int) -> Int { kind.rowBytes(columns: headDim) }

    /// Why this type cannot hold heads of `headDim` elements, nil when it can (q8_0/q4_0 need
    /// whole blocks of 32, as in llama.cpp).
    public func refusal(headDim: Int) -> String? {
        guard headDim % kind.blockSize != 0 else { return nil }
        return "KV cache type \(rawValue) stores blocks of \(kind.blockSize) elements, but this model's heads have \(headDim)"
    }

    /// Parses a command-line or request name (case-insensitive; `q8` / `q4` accepted).
    public init?(name: String) {
        switch name.lowercased() {
        case "f32", "fp32", "float32": self = .f32
        case "f16", "fp16", "float16": self = .f16
        case "bf16", "bfloat16": self = .bf16
        case "q8_0", "q8": self = .q8_0
        case "q4_0", "q4": self = .q4_0
        default: return nil
        }
    }
}

/// Storage types of a cache's keys and values (llama.cpp's -ctk / -ctv).
public struct KVCacheTypes: Sendable, Equatable, CustomStringConvertible {
    public var keys: KVCacheType
    public var values: KVCacheType

    public init(keys: KVCacheType, values: KVCacheType) {
        self.keys = keys
        self.values = values
    }

    public init(_ both: KVCacheType) { self.init(keys: both, values: both) }

    /// Exact storage: what the parity tests and the model-level API use unless told otherwise.
    public static let f32 = KVCacheTypes(.f32)
    /// What the engine's commands use by default: half the bytes of f32 with next-token KL
    /// ~1e-7 on SmolLM2 (docs/PERFORMANCE.md, "KV cache types").
    public static let standard = KVCacheTypes(.f16)

    /// Bytes one position of one kv head takes (key row + value row).
    public func bytesPerHeadPosition(headDim: Int) -> Int {
        keys.rowBytes(headDim: headDim) + values.rowBytes(headDim: headDim)
    }

    /// Why these types cannot hold heads of `headDim` elements, nil when they can.
    public func refusal(headDim: Int) -> String? {
        keys.refusal(headDim: headDim) ?? values.refusal(headDim: headDim)
    }

    public var description: String { keys == values ? keys.rawValue : "k=\(keys.rawValue),v=\(values.rawValue)" }
}
