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
/// - keys, values: [p0+T−keyStart, kvHeads, headDim], position-major; row j holds position
///   keyStart+j (keyStart > 0 when older positions are not kept, e.g. a sliding-window ring)
/// - out: [T, heads, headDim]
/// - scratch: at least `attentionScratchCount(...)` floats
/// Query t (position p = p0+t) sees positions keyStart … p, or only the last `window` of them
/// (max(keyStart, p−window+1) … p); scores are scaled by 1/√headDim and softmaxed in fp32.
/// Single tokens (decode) read the cache as is. Prompts run per (head, block of 6 queries) as two
/// small matrix products on the 6×16 micro-kernel: scores = Q·Kᵀ against keys packed once into
/// [kvHeads, positions/16, headDim, 16] panels, then out = P·V against values packed into
/// [kvHeads, headDim/16, positions, 16] panels.
public func causalAttention(queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                            firstPosition p0: Int, tokens: Int, shape: AttentionShape,
                            into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                            pool: ComputePool, keyStart: Int = 0, window: Int? = nil) {
    let span = KeySpan(p0: p0, keyStart: keyStart, window: window)
    if tokens < blockedThreshold {
        attendEachQuery(queries, keys, values, span, tokens, shape, out, scratch, pool)
    } else {
        attendBlocked(queries, keys, values, span, tokens, shape, out, scratch, pool)
    }
}

/// Floats of scratch `causalAttention` needs.
public func attentionScratchCount(firstPosition p0: Int, tokens: Int, shape: AttentionShape, threads: Int,
                                  keyStart: Int = 0) -> Int {
    let stride = paddedPositions(p0 + tokens - keyStart)
    if tokens < blockedThreshold { return threads * stride }
    return threads * queryBlock * stride + 2 * shape.kvHeads * shape.headDim * stride
}

private let blockedThreshold = 8
private let queryBlock = 6

/// Positions rounded up to whole 16-wide key panels.
@inline(__always) private func paddedPositions(_ n: Int) -> Int { (n + 15) / 16 * 16 }

/// Which key rows (buffer indices) query t may see.
private struct KeySpan {
    let p0: Int, keyStart: Int, window: Int?

    /// Half-open range of buffer rows visible to query t.
    @inline(__always) func rows(query t: Int) -> Range<Int> {
        let position = p0 + t
        let first = window.map { max(keyStart, position - $0 + 1) } ?? keyStart
        return (first - keyStart)..<(position - keyStart + 1)
    }
}

private func attendEachQuery(_ queries: UnsafePointer<Float>, _ keys: UnsafePointer<Float>, _ values: UnsafePointer<Float>,
                             _ span: KeySpan, _ tokens: Int, _ shape: AttentionShape, _ out: UnsafeMutablePointer<Float>,
                             _ scratch: UnsafeMutablePointer<Float>, _ pool: ComputePool) {
    let hd = shape.headDim
    let group = shape.heads / shape.kvHeads
    let kvStride = shape.kvWidth
    let scale = 1 / Float(hd).squareRoot()
    let stride = paddedPositions(span.p0 + tokens - span.keyStart)
    pool.run { t in
        let scores = scratch + t * stride
        for item in pool.slice(t, of: tokens * shape.heads) {
            let token = item / shape.heads, h = item % shape.heads
            let kvh = h / group
            let q = queries + item * hd
            let rows = span.rows(query: token)
            var k = keys + rows.lowerBound * kvStride + kvh * hd
            for j in 0..<rows.count {
                scores[j] = dot(q, k, hd) * scale
                k += kvStride
            }
            softmaxInPlace(scores, count: rows.count)
            accumulateWeighted(values + rows.lowerBound * kvStride + kvh * hd, stride: kvStride, weights: scores,
                               count: rows.count, headDim: hd, into: out + item * hd)
        }
    }
}

private func attendBlocked(_ queries: UnsafePointer<Float>, _ keys: UnsafePointer<Float>, _ values: UnsafePointer<Float>,
                           _ span: KeySpan, _ tokens: Int, _ shape: AttentionShape, _ out: UnsafeMutablePointer<Float>,
                           _ scratch: UnsafeMutablePointer<Float>, _ pool: ComputePool) {
    let hd = shape.headDim
    let group = shape.heads / shape.kvHeads
    let kvStride = shape.kvWidth, qStride = shape.queryWidth
    let scale = 1 / Float(hd).squareRoot()
    let total = span.p0 + tokens - span.keyStart
    let stride = paddedPositions(total)
    // Keys and values are copied into contiguous 16-wide panels, so the micro-kernel's panel
    // loads stream through memory instead of jumping a cache line (keys: `stride` floats,
    // values: kvWidth) per step; the strided loads stalled it (perf: ~45% of its samples on
    // them).
    // keyPanels[kvh][j / 16][d][j % 16] = keys[j][kvh][d]; padding positions are zero.
    // valuePanels[kvh][d / 16][j][d % 16] = values[j][kvh][d].
    let keyPanels = scratch + pool.threads * queryBlock * stride
    let valuePanels = keyPanels + shape.kvHeads * hd * stride
    pool.run { t in
        for kvh in pool.slice(t, of: shape.kvHeads) {
            let dst = keyPanels + kvh * hd * stride
            for j in 0..<total {
                let src = keys + j * kvStride + kvh * hd
                let base = dst + (j / 16) * hd * 16 + j % 16
                for d in 0..<hd { base[d * 16] = src[d] }
            }
            for j in total..<stride {
                let base = dst + (j / 16) * hd * 16 + j % 16
                for d in 0..<hd { base[d * 16] = 0 }
            }
            let vdst = valuePanels + kvh * hd * stride
            for j in 0..<total {
                let src = values + j * kvStride + kvh * hd
                for d0 in Swift.stride(from: 0, to: hd, by: 16) {
                    (vdst + d0 * stride + j * 16).update(from: src + d0, count: 16)
                }
            }
        }
    }
    let blocks = (tokens + queryBlock - 1) / queryBlock
    pool.run { t in
        let scores = scratch + t * queryBlock * stride   // [6, stride]
        // Items are dealt round-robin: a later block sees more keys, so contiguous slices would
        // leave the thread with the last blocks ~3× the work of the one with the first.
        for item in Swift.stride(from: t, to: blocks * shape.heads, by: pool.threads) {
            let h = item % shape.heads, block = item / shape.heads
            let kvh = h / group
            let t0 = block * queryBlock
            let mr = min(queryBlock, tokens - t0)
            let q = queries + t0 * qStride + h * hd
            // Key panels any query of the block can see.
            let firstPanel = span.rows(query: t0).lowerBound / 16
            let end = span.rows(query: t0 + mr - 1).upperBound
            let lastPanel = (end + 15) / 16
            for panel in firstPanel..<lastPanel {
                microKernel(q, qStride, mr, keyPanels + kvh * hd * stride + panel * hd * 16, hd,
                            scores + panel * 16, stride, true)
            }
            let begin = firstPanel * 16
            for r in 0..<mr {
                let row = scores + r * stride
                let visible = span.rows(query: t0 + r)
                for j in visible { row[j] *= scale }
                softmaxInPlace(row + visible.lowerBound, count: visible.count)
                for j in begin..<visible.lowerBound { row[j] = 0 }
                for j in visible.upperBound..<(lastPanel * 16) { row[j] = 0 }
            }
            // out rows = P [mr, begin..<end] · V [begin..<end, headDim], 16 output dims at a time.
            var d0 = 0
            while d0 < hd {
                microKernel(scores + begin, stride, mr, valuePanels + kvh * hd * stride + d0 * stride + begin * 16, end - begin,
                            out + t0 * qStride + h * hd + d0, qStride, true)
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
