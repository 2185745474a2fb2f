import IQuestCKernels

/// Rows are processed in groups of 32 elements for every kind; the loader checks that row
/// lengths are multiples of this.
public let groupSize = 32

extension WeightKind {
    /// The C kernels' code for this kind (f32 never goes through C).
    var cKind: Int32 {
        switch self {
        case .f32: return 0
        case .f16: return Int32(IQ_F16.rawValue)
        case .bf16: return Int32(IQ_BF16.rawValue)
        case .q8_0: return Int32(IQ_Q8_0.rawValue)
        case .q4_0: return Int32(IQ_Q4_0.rawValue)
        case .q4_1: return Int32(IQ_Q4_1.rawValue)
        }
    }
}

/// Decodes `count` elements (a multiple of 32) of one stored row into f32.
public func dequantizeRow(_ kind: WeightKind, _ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
    if kind == .f32 {
        UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
    } else {
        iq_decode_row(kind.cKind, src, dst, Int64(count))
    }
}
