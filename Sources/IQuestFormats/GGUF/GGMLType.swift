/// Tensor element encodings this engine reads, with ggml's numeric ids.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q8_0 = 8
    case q4_K = 12
    case q6_K = 14
    case bf16 = 30

    /// Elements per block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q8_0: return 32
        case .q4_K, .q6_K: return 256
        }
    }

    /// Bytes per block.
    /// q4_0: f16 d + 16 nibble bytes; q4_1: f16 d, f16 m + 16; q8_0: f16 d + 32 int8;
    /// q4_K: f16 d, f16 dmin, 12 scale bytes, 128 nibble bytes;
    /// q6_K: 128 low-nibble bytes, 64 high-bit bytes, 16 int8 scales, f16 d.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18
        case .q4_1: return 20
        case .q8_0: return 34
        case .q4_K: return 144
        case .q6_K: return 210
        }
    }

    /// Bytes for `elements` values; nil when `elements` is negative, not a multiple of
    /// `blockSize`, or the byte count overflows `Int`.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }

    /// ggml's lowercase name ("q4_K", "f16", ...).
    public var name: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .q4_0: return "q4_0"
        case .q4_1: return "q4_1"
        case .q8_0: return "q8_0"
        case .q4_K: return "q4_K"
        case .q6_K: return "q6_K"
        case .bf16: return "bf16"
        }
    }
}
