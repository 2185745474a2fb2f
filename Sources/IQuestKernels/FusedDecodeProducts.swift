/// Decode-path products (M < 4 tokens, or any M with ProductPath.decode) of one input with
/// several matrices in a single pass over the thread pool. A decode step of a small model is
/// dominated by synchronisation: SmolLM2 makes ~210 products per token of 0.01–0.1 ms each, and
/// every `pool.run` is one wake-up and one barrier. Q/K/V share their input, and so do gate/up,
/// so each group needs only one pass; the input is quantized once for the integer kernels; the
/// SwiGLU product is applied by each thread to the rows it just computed. Results are identical
/// to separate `linear` calls (same kernels, same rows per part), and with several tokens each
/// token's result is bitwise what it is alone. On the GEMM path (M ≥ 4 with `.automatic`, or
/// `.prompt`) each matrix is its own pass (the product itself dominates), over an input
/// quantized once for the integer GEMM.

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
        promptProducts(x, m, [a, b, c], pool, quantized)
        return
    }
    let integer = prepareIntegerInput(x, m, a.weights, b.weights, c.weights, quantized)
    let parts = pool.decodeParts(bytes: a.weights.byteCount + b.weights.byteCount + c.weights.byteCount)
    pool.run(parts: parts) { part in
        decodeSlice(x, m, a, part, of: parts, pool, integer)
        decodeSlice(x, m, b, part, of: parts, pool, integer)
        decodeSlice(x, m, c, part, of: parts, pool, integer)
    }
}

/// gate [M, N] = silu(x · W_gateᵀ) ⊙ (x · W_upᵀ), with `up` [M, N] as scratch (the SwiGLU input
/// of a Llama MLP). W_gate and W_up have the same shape.
public func gatedLinear(_ x: UnsafePointer<Float>, rows m: Int, gate: DecodeProduct, up: DecodeProduct,
                        pool: ComputePool, quantized: QuantizedActivations? = nil, path: ProductPath = .automatic) {
    let n = gate.weights.rows
    guard path.decodes(m) else {
        promptProducts(x, m, [gate, up], pool, quantized)
        siluMultiply(gate.output, up.output, count: m * n)
        return
    }
    let integer = prepareIntegerInput(x, m, gate.weights, up.weights, nil, quantized)
    // One split for both products, so each part multiplies the rows it just computed.
    let granule = max(gate.weights.decodeGranule, up.weights.decodeGranule)
    let parts = pool.decodeParts(bytes: gate.weights.byteCount + up.weights.byteCount)
    pool.run(parts: parts) { part in
        decodeSlice(x, m, gate, part, of: parts, pool, integer, granule: granule)
        decodeSlice(x, m, up, part, of: parts, pool, integer, granule: granule)
        let rows = pool.slice(part, of: n, granule: granule, parts: parts)
        guard !rows.isEmpty else { return }
        for token in 0..<m {
            let offset = token * n + rows.lowerBound
            siluMultiply(gate.output + offset, up.output + offset, count: rows.count)
        }
    }
}

/// Prompt-path products of one input with several matrices (same column count): the input is
/// quantized for the integer GEMM once, not once per matrix; each product is what `linear` gives.
private func promptProducts(_ x: UnsafePointer<Float>, _ m: Int, _ products: [DecodeProduct], _ pool: ComputePool,
                            _ quantized: QuantizedActivations?) {
    let integer = products.contains { takesIntegerGEMM($0.weights, quantized) } ? quantized : nil
    integer?.quantizePrompt(x, rows: m, columns: products[0].weights.columns)
    for p in products {
        promptProduct(x, m, p.weights, p.output, pool, takesIntegerGEMM(p.weights, integer) ? integer : nil)
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
