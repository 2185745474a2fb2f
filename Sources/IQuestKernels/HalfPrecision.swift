/// Scalar conversions from the 16-bit float encodings found in checkpoints (for small tensors
/// such as norm weights; rows of matrices go through the C row kernels).
public func float16ToFloat(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }
public func bfloat16ToFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
