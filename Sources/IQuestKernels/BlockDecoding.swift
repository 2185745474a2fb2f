import IQuestCKernels

/// Rows are processed in groups of 32 elements for every kind (k-quants: super-blocks of 256,
/// `WeightKind.blockSize`); the loader checks that row lengths are multiples of both.
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
        case .q4_K: return Int32(IQ_Q4_K.rawValue)
        case .q6_K: return Int32(IQ_Q6_K.rawValue)
        }
    }
}

/// Decodes `count` elements of one stored row into f32. Block kinds need a multiple of their
/// block size; f32/f16/bf16 take any count (the C kernels do whole groups of 32, the tail is
/// converted here).
public func dequantizeRow(_ kind: WeightKind, _ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
    switch kind {
    case .f32:
        UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
    case .f16, .bf16:
        let whole = count / groupSize * groupSize
        if whole > 0 { iq_decode_row(kind.cKind, src, dst, Int64(whole)) }
        for i in whole..<count {
            let bits = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
            dst[i] = kind == .f16 ? float16ToFloat(bits) : bfloat16ToFloat(bits)
        }
    default:
        iq_decode_row(kind.cKind, src, dst, Int64(count))
    }
}
