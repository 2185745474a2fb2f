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
/// - scratch: at least `attentionScratchCount(...)` floats
/// Query t sees keys 0 … p0+t; scores are scaled by 1/√headDim and softmaxed in fp32.
/// Single tokens (decode) read the cache as is. Prompts run per (head, block of 6 queries) as two
/// small matrix products on the 6×16 micro-kernel: scores = Q·Kᵀ against keys transposed once to
/// [kvHeads, headDim, positions], then out = P·V straight from the cache.
public func causalAttention(queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                            firstPosition p0: Int, tokens: Int, shape: AttentionShape,
                            into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                            pool: ComputePool) {
    if tokens < blockedThreshold {
        attendEachQuery(queries, keys, values, p0, tokens, shape, out, scratch, pool)
    } else {
        attendBlocked(queries, keys, values, p0, tokens, shape, out, scratch, pool)
    }
}

/// Floats of scratch `causalAttention` needs.
public func attentionScratchCount(firstPosition p0: Int, tokens: Int, shape: AttentionShape, threads: Int) -> Int {
    let stride = paddedPositions(p0 + tokens)
    if tokens < blockedThreshold { return threads * stride }
    return threads * queryBlock * stride + shape.kvHeads * shape.headDim * stride
}

private let blockedThreshold = 8
private let queryBlock = 6

/// Positions rounded up to whole 16-wide key panels.
@inline(__always) private func paddedPositions(_ n: Int) -> Int { (n + 15) / 16 * 16 }

private func attendEachQuery(_ queries: UnsafePointer<Float>, _ keys: UnsafePointer<Float>, _ values: UnsafePointer<Float>,
                             _ p0: Int, _ tokens: Int, _ shape: AttentionShape, _ out: UnsafeMutablePointer<Float>,
                             _ scratch: UnsafeMutablePointer<Float>, _ pool: ComputePool) {
    let hd = shape.headDim
    let group = shape.heads / shape.kvHeads
    let kvStride = shape.kvWidth
    let scale = 1 / Float(hd).squareRoot()
    let stride = paddedPositions(p0 + tokens)
    pool.run { t in
        let scores = scratch + t * stride
        for item in pool.slice(t, of: tokens * shape.heads) {
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

private func attendBlocked(_ queries: UnsafePointer<Float>, _ keys: UnsafePointer<Float>, _ values: UnsafePointer<Float>,
                           _ p0: Int, _ tokens: Int, _ shape: AttentionShape, _ out: UnsafeMutablePointer<Float>,
                           _ scratch: UnsafeMutablePointer<Float>, _ pool: ComputePool) {
    let hd = shape.headDim
    let group = shape.heads / shape.kvHeads
    let kvStride = shape.kvWidth, qStride = shape.queryWidth
    let scale = 1 / Float(hd).squareRoot()
    let total = p0 + tokens
    let stride = paddedPositions(total)
    let keysT = scratch + pool.threads * queryBlock * stride
    // keysT[kvh][d][j] = keys[j][kvh][d]; padding positions are zero.
    pool.run { t in
        for kvh in pool.slice(t, of: shape.kvHeads) {
            let dst = keysT + kvh * hd * stride
            for j in 0..<total {
                let src = keys + j * kvStride + kvh * hd
                for d in 0..<hd { dst[d * stride + j] = src[d] }
            }
            for d in 0..<hd { for j in total..<stride { dst[d * stride + j] = 0 } }
        }
    }
    let blocks = (tokens + queryBlock - 1) / queryBlock
    pool.run { t in
        let scores = scratch + t * queryBlock * stride   // [6, stride]
        for item in pool.slice(t, of: blocks * shape.heads) {
            let h = item % shape.heads, block = item / shape.heads
            let kvh = h / group
            let t0 = block * queryBlock
            let mr = min(queryBlock, tokens - t0)
            let q = queries + t0 * qStride + h * hd
            // Keys any query of the block can see, in whole panels.
            let lastVisible = p0 + t0 + mr
            let keyPanels = (lastVisible + 15) / 16
            for panel in 0..<keyPanels {
                microKernel(q, qStride, mr, keysT + kvh * hd * stride + panel * 16, hd,
                            scores + panel * 16, stride, true, ldp: stride)
            }
            for r in 0..<mr {
                let row = scores + r * stride
                let visible = p0 + t0 + r + 1
                for j in 0..<visible { row[j] *= scale }
                softmaxInPlace(row, count: visible)
                for j in visible..<(keyPanels * 16) { row[j] = 0 }
            }
            // out rows = P [mr, lastVisible] · V [lastVisible, headDim], 16 output dims at a time.
            var d0 = 0
            while d0 < hd {
                microKernel(scores, stride, mr, values + kvh * hd + d0, lastVisible,
                            out + t0 * qStride + h * hd + d0, qStride, true, ldp: kvStride)
                d0 += 16
            }
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
