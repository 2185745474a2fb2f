/// Which kernels a product over M activation rows uses.
/// - `automatic`: decode kernels for M < 4, the packed-panel GEMM for M ≥ 4.
/// - `decode`: decode kernels for any M — each weight block is read once per step for all M
///   tokens, and every token's result is bitwise what it would be alone (batch invariance: a
///   sequence's greedy output does not change when its decode token shares a step with others).
/// - `prompt`: the GEMM for any M ≥ 1 (prompt chunks of any length; a row's result does not
///   depend on M either).
public enum ProductPath: Sendable, Equatable {
    case automatic, decode, prompt

    /// Whether M rows take the decode kernels.
    @inline(__always)
    func decodes(_ m: Int) -> Bool {
        switch self {
        case .automatic: return m < 4
        case .decode: return true
        case .prompt: return false
        }
    }
}

/// Rows per chunk of the multi-token f32-activation path: each chunk is dotted with every
/// token before the next, so tokens after the first read its weights from cache (16 rows of f32
/// at K = 1536 are 96 KiB, within L2). Chunks start at the slice's first row and every row's
/// kernel is the single-row one, so results do not depend on M or on the chunking.
let decodeRowChunk = 16

extension WeightMatrix {
    /// Rows per unit of the decode path's split between threads: 4, or a whole interleaved group.
    @inline(__always) var decodeGranule: Int { max(4, rowGranule) }
}

/// Part `part` of `parts` (pool.decodeParts, run by pool.run(parts:)) of one product for M
/// tokens: y[token, r] = x[token] · W[r] for r in that part's rows in whole multiples of
/// granule ?? w.decodeGranule (the split does not depend on M). On the integer path when the
/// input was quantized and the matrix has integer kernels, else on the f32 row kernels.
@inline(__always)
func decodeSlice(_ x: UnsafePointer<Float>, _ m: Int, _ p: DecodeProduct, _ part: Int, of parts: Int,
                 _ pool: ComputePool, _ integer: QuantizedActivations?, granule: Int? = nil) {
    let w = p.weights
    let rows = pool.slice(part, of: w.rows, granule: granule ?? w.decodeGranule, parts: parts)
    guard !rows.isEmpty, m > 0 else { return }
    if let integer, w.kind.hasIntegerDot {
        integer.dotRows(w, rows, tokens: m, into: p.output + rows.lowerBound, stride: w.rows)
    } else {
        matvecRows(w, x, m, p.output, rows)
    }
}

/// y[token, r] = x[token] · W[r] (x rows K apart, y rows N apart) for `rows`, chunk by chunk.
@inline(__always)
func matvecRows(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ m: Int, _ y: UnsafeMutablePointer<Float>,
                _ rows: Range<Int>) {
    if m == 1 {
        matvecRows(w, x, y, rows)
        return
    }
    var lo = rows.lowerBound
    while lo < rows.upperBound {
        let chunk = lo..<min(lo + decodeRowChunk, rows.upperBound)
        for token in 0..<m { matvecRows(w, x + token * w.columns, y + token * w.rows, chunk) }
        lo = chunk.upperBound
    }
}
