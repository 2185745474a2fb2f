/// Decode-path products (M < 4 tokens, or any M with ProductPath.decode) of one input with
/// several matrices in a single pass over the thread pool. A decode step of a small model is
/// dominated by synchronisation: SmolLM2 makes ~210 products per token of 0.01–0.1 ms each, and
/// every `pool.run` is one wake-up and one barrier. Q/K/V share their input, and so do gate/up,
/// so each group needs only one pass; the input is quantized once for the integer kernels; the
/// SwiGLU product is applied by each thread to the rows it just computed. Results are identical
/// to separate `linear` calls (same kernels, same rows per thread), and with several tokens each
/// token's result is bitwise what it is alone. On the GEMM path (M ≥ 4 with `.automatic`, or
/// `.prompt`) these fall back to `linear`, where the product itself dominates.

/// One product of a fused group: y [M, w.rows] = x · wᵀ.
public struct DecodeProduct {
    public let weights: WeightMatrix
    public let output: UnsafeMutablePointer<Float>
    public init(_ weights: WeightMatrix, into output: UnsafeMutablePointer<Float>) {
        self.weights = weights
        self.output = output
    }
}

/// y_i = x · W_iᵀ for three matrices with the same column count (attention's Q, K, V).
public func linear(_ x: UnsafePointer<Float>, rows m: Int, _ a: DecodeProduct, _ b: DecodeProduct, _ c: DecodeProduct,
                   pool: ComputePool, quantized: QuantizedActivations? = nil, path: ProductPath = .automatic) {
    guard path.decodes(m) else {
        linear(x, rows: m, weights: a.weights, into: a.output, pool: pool, quantized: quantized, path: .prompt)
        linear(x, rows: m, weights: b.weights, into: b.output, pool: pool, quantized: quantized, path: .prompt)
        linear(x, rows: m, weights: c.weights, into: c.output, pool: pool, quantized: quantized, path: .prompt)
        return
    }
    let integer = prepareIntegerInput(x, m, a.weights, b.weights, c.weights, quantized)
    pool.run { t in
        decodeSlice(x, m, a, t, pool, integer)
        decodeSlice(x, m, b, t, pool, integer)
        decodeSlice(x, m, c, t, pool, integer)
    }
}

/// gate [M, N] = silu(x · W_gateᵀ) ⊙ (x · W_upᵀ), with `up` [M, N] as scratch (the SwiGLU input
/// of a Llama MLP). W_gate and W_up have the same shape.
public func gatedLinear(_ x: UnsafePointer<Float>, rows m: Int, gate: DecodeProduct, up: DecodeProduct,
                        pool: ComputePool, quantized: QuantizedActivations? = nil, path: ProductPath = .automatic) {
    let n = gate.weights.rows
    guard path.decodes(m) else {
        linear(x, rows: m, weights: gate.weights, into: gate.output, pool: pool, quantized: quantized, path: .prompt)
        linear(x, rows: m, weights: up.weights, into: up.output, pool: pool, quantized: quantized, path: .prompt)
        siluMultiply(gate.output, up.output, count: m * n)
        return
    }
    let integer = prepareIntegerInput(x, m, gate.weights, up.weights, nil, quantized)
    pool.run { t in
        decodeSlice(x, m, gate, t, pool, integer)
        decodeSlice(x, m, up, t, pool, integer)
        let rows = pool.slice(t, of: n, granule: 4)
        guard !rows.isEmpty else { return }
        for token in 0..<m {
            let offset = token * n + rows.lowerBound
            siluMultiply(gate.output + offset, up.output + offset, count: rows.count)
        }
    }
}

/// Quantizes x once when at least one matrix has integer kernels and a scratch was given.
@inline(__always)
private func prepareIntegerInput(_ x: UnsafePointer<Float>, _ m: Int, _ a: WeightMatrix, _ b: WeightMatrix,
                                 _ c: WeightMatrix?, _ quantized: QuantizedActivations?) -> QuantizedActivations? {
    guard let quantized, a.kind.hasIntegerDot || b.kind.hasIntegerDot || c?.kind.hasIntegerDot == true else { return nil }
    quantized.quantize(x, rows: m, columns: a.columns)
    return quantized
}
