/// Head geometry of grouped-query attention: query head h reads key/value head h / (heads / kvHeads).
public struct AttentionShape: Sendable, Equatable {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int

    public init(heads: Int, kvHeads: Int, headDim: Int) {
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
    }

    public var queryWidth: Int { heads * headDim }
    public var kvWidth: Int { kvHeads * headDim }
}

/// Causal attention of T new tokens at positions p0 … p0+T−1 over a cache that already holds
/// their keys and values.
/// - queries: [T, heads, headDim] (after RoPE)
/// - keys, values: [p0+T, kvHeads, headDim], position-major
/// - out: [T, heads, headDim]
/// - scratch: at least `pool.threads × (p0 + T)` floats for the score rows
/// Query t sees keys 0 … p0+t; scores are scaled by 1/√headDim and softmaxed in fp32.
public func causalAttention(queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                            firstPosition p0: Int, tokens: Int, shape: AttentionShape,
                            into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                            pool: ComputePool) {
    let hd = shape.headDim
    let group = shape.heads / shape.kvHeads
    let kvStride = shape.kvWidth
    let scale = 1 / Float(hd).squareRoot()
    let items = tokens * shape.heads
    pool.run { t in
        let scores = scratch + t * (p0 + tokens)
        for item in pool.slice(t, of: items) {
            let token = item / shape.heads, h = item % shape.heads
            let kvh = h / group
            let q = queries + item * hd
            let visible = p0 + token + 1
            var k = keys + kvh * hd
            for j in 0..<visible {
                scores[j] = dot(q, k, hd) * scale
                k += kvStride
            }
            softmaxInPlace(scores, count: visible)
            accumulateWeighted(values + kvh * hd, stride: kvStride, weights: scores, count: visible,
                               headDim: hd, into: out + item * hd)
        }
    }
}

/// out[0..<headDim] = Σ_j w[j] · v_j where v_j = values + j·stride.
@inline(__always)
func accumulateWeighted(_ values: UnsafePointer<Float>, stride: Int, weights: UnsafePointer<Float>, count: Int,
                        headDim: Int, into out: UnsafeMutablePointer<Float>) {
    let o = UnsafeMutableRawPointer(out)
    var d = 0
    while d < headDim {
        // Two 8-lane accumulators per pass keep the FMA chain short.
        var a = SIMD8<Float>(), b = SIMD8<Float>()
        let wide = d + 16 <= headDim
        var v = values + d
        for j in 0..<count {
            let wj = SIMD8<Float>(repeating: weights[j])
            a = a.addingProduct(wj, UnsafeRawPointer(v).loadUnaligned(as: SIMD8<Float>.self))
            if wide { b = b.addingProduct(wj, UnsafeRawPointer(v + 8).loadUnaligned(as: SIMD8<Float>.self)) }
            v += stride
        }
        (o + d * 4).storeBytes(of: a, as: SIMD8<Float>.self)
        if wide { (o + (d + 8) * 4).storeBytes(of: b, as: SIMD8<Float>.self) }
        d += wide ? 16 : 8
    }
}
