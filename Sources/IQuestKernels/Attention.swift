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

/// Where one layer's keys and values of one sequence live: position p is slot p mod blockSize of
/// block table[p / blockSize]; the keys of kv head h there start at
/// `keys + block·blockStride + h·headStride + slot·rowStride` (values likewise from `values`).
/// Paged blocks keep each kv head's rows together ([kvHeads, blockSize, headDim]), so attention
/// over one head streams contiguous memory; a contiguous [positions, kvHeads·headDim] buffer is
/// the special case of a single unbounded block with rowStride kvWidth and headStride headDim.
public struct KVRows {
    public let keys: UnsafePointer<Float>
    public let values: UnsafePointer<Float>
    let table: UnsafePointer<Int32>
    let shift: Int
    let mask: Int
    let blockStride: Int
    let headStride: Int
    let rowStride: Int

    /// Paged rows; `blockSize` must be a power of two and `table` cover every position read.
    public init(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, table: UnsafePointer<Int32>,
                blockSize: Int, blockStride: Int, headStride: Int, rowStride: Int) {
        precondition(blockSize > 0 && blockSize & (blockSize - 1) == 0, "block size must be a power of two")
        self.keys = keys
        self.values = values
        self.table = table
        shift = blockSize.trailingZeroBitCount
        mask = blockSize - 1
        self.blockStride = blockStride
        self.headStride = headStride
        self.rowStride = rowStride
    }

    /// Rows `keys + p·kvWidth` (and values likewise) for every position p, kv head h at +h·headDim.
    public static func contiguous(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, shape: AttentionShape) -> KVRows {
        KVRows(keys: keys, values: values, table: singleBlockTable, blockSize: 1 << 48, blockStride: 0,
               headStride: shape.headDim, rowStride: shape.kvWidth)
    }

    /// Floats from `keys` (or `values`) to the headDim-long row of kv head `head` at `position`.
    @inline(__always) public func offset(_ position: Int, head: Int) -> Int {
        Int(table[position &>> shift]) &* blockStride &+ head &* headStride &+ (position & mask) &* rowStride
    }
}

/// The table of a contiguous buffer: one block, number 0 (never written after creation).
nonisolated(unsafe) private let singleBlockTable: UnsafePointer<Int32> = {
    let p = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    p.initialize(to: 0)
    return UnsafePointer(p)
}()

/// One query token of a decode step: its heads' queries [heads, headDim] at `position`, the rows
/// of its own sequence, and where its output [heads, headDim] goes. `keyStart`/`window` as for
/// `causalAttention`.
public struct DecodeQuery {
    public let queries: UnsafePointer<Float>
    public let kv: KVRows
    public let position: Int
    public let keyStart: Int
    public let window: Int?
    public let out: UnsafeMutablePointer<Float>

    public init(queries: UnsafePointer<Float>, kv: KVRows, position: Int, keyStart: Int = 0, window: Int? = nil,
                out: UnsafeMutablePointer<Float>) {
        self.queries = queries
        self.kv = kv
        self.position = position
        self.keyStart = keyStart
        self.window = window
        self.out = out
    }

    /// Positions this query sees.
    @inline(__always) var visible: Range<Int> {
        let first = window.map { max(keyStart, position - $0 + 1) } ?? keyStart
        return first..<(position + 1)
    }
}

/// Causal attention of T new tokens at positions p0 … p0+T−1 over a cache that already holds
/// their keys and values (contiguous buffers: row j holds position keyStart+j).
/// - queries: [T, heads, headDim] (after RoPE)
/// - out: [T, heads, headDim]
/// - scratch: at least `attentionScratchCount(...)` floats
/// Query t (position p = p0+t) sees positions keyStart … p, or only the last `window` of them
/// (max(keyStart, p−window+1) … p); scores are scaled by 1/√headDim and softmaxed in fp32.
public func causalAttention(queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                            firstPosition p0: Int, tokens: Int, shape: AttentionShape,
                            into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                            pool: ComputePool, keyStart: Int = 0, window: Int? = nil) {
    // Row j of the buffers is position keyStart + j.
    let kv = KVRows.contiguous(keys: keys - keyStart * shape.kvWidth, values: values - keyStart * shape.kvWidth, shape: shape)
    if tokens < blockedThreshold {
        let items = (0..<tokens).map { t in
            DecodeQuery(queries: queries + t * shape.queryWidth, kv: kv, position: p0 + t, keyStart: keyStart, window: window,
                        out: out + t * shape.queryWidth)
        }
        decodeAttention(items, shape: shape, scratch: scratch, pool: pool)
    } else {
        promptAttention(queries: queries, kv: kv, firstPosition: p0, tokens: tokens, shape: shape, into: out,
                        scratch: scratch, pool: pool, keyStart: keyStart, window: window)
    }
}

/// Floats of scratch `causalAttention` needs (`promptAttention` for `tokens` ≥ 8).
public func attentionScratchCount(firstPosition p0: Int, tokens: Int, shape: AttentionShape, threads: Int,
                                  keyStart: Int = 0) -> Int {
    if tokens < blockedThreshold { return decodeAttentionScratchCount(visibleKeys: p0 + tokens - keyStart, threads: threads) }
    return promptAttentionScratchCount(firstPosition: p0, tokens: tokens, shape: shape, threads: threads, keyStart: keyStart)
}

/// Floats of scratch `decodeAttention` needs when no query sees more than `visibleKeys` keys.
public func decodeAttentionScratchCount(visibleKeys: Int, threads: Int) -> Int {
    threads * paddedPositions(visibleKeys)
}

/// Floats of scratch `promptAttention` needs.
public func promptAttentionScratchCount(firstPosition p0: Int, tokens: Int, shape: AttentionShape, threads: Int,
                                        keyStart: Int = 0) -> Int {
    let stride = paddedPositions(p0 + tokens - keyStart)
    return threads * queryBlock * stride + 2 * shape.kvHeads * shape.headDim * stride
}

private let blockedThreshold = 8
private let queryBlock = 6

/// Positions rounded up to whole 16-wide key panels.
@inline(__always) private func paddedPositions(_ n: Int) -> Int { (n + 15) / 16 * 16 }

/// Attention of single query tokens, each over its own sequence's rows (a decode step of a batch):
/// (query, head) pairs are split over the threads in one pass; each reads its keys where they
/// are. A query's result does not depend on the others in the list (batch invariance).
/// scratch: `decodeAttentionScratchCount` floats for the largest visible span.
public func decodeAttention(_ items: [DecodeQuery], shape: AttentionShape, scratch: UnsafeMutablePointer<Float>,
                            pool: ComputePool) {
    guard !items.isEmpty else { return }
    let hd = shape.headDim
    let group = shape.heads / shape.kvHeads
    let scale = 1 / Float(hd).squareRoot()
    var longest = 0
    for item in items { longest = max(longest, item.visible.count) }
    let stride = paddedPositions(longest)
    items.withUnsafeBufferPointer { list in
        pool.run { t in
            let scores = scratch + t * stride
            for index in pool.slice(t, of: list.count * shape.heads) {
                let item = list[index / shape.heads], h = index % shape.heads
                let head = h / group
                let q = item.queries + h * hd
                let visible = item.visible
                let kv = item.kv
                for (j, position) in visible.enumerated() {
                    scores[j] = dot(q, kv.keys + kv.offset(position, head: head), hd) * scale
                }
                softmaxInPlace(scores, count: visible.count)
                accumulateWeighted(kv, head: head, positions: visible, weights: scores, headDim: hd, into: item.out + h * hd)
            }
        }
    }
}

/// Causal attention of a prompt chunk: T tokens at positions p0 … p0+T−1 of one sequence whose
/// rows (this chunk's included) are in `kv`. Runs per (head, block of 6 queries) as two small
/// matrix products on the 6×16 micro-kernel: scores = Q·Kᵀ against keys packed once into
/// [kvHeads, positions/16, headDim, 16] panels, then out = P·V against values packed into
/// [kvHeads, headDim/16, positions, 16] panels. Each query's result is the same whatever chunk
/// it comes in (its scores, softmax and P·V sums run in the same order; keys outside its span
/// enter P·V with weight exactly 0), so chunking a prompt never changes it.
/// scratch: `promptAttentionScratchCount` floats.
public func promptAttention(queries: UnsafePointer<Float>, kv: KVRows, firstPosition p0: Int, tokens: Int,
                            shape: AttentionShape, into out: UnsafeMutablePointer<Float>,
                            scratch: UnsafeMutablePointer<Float>, pool: ComputePool, keyStart: Int = 0, window: Int? = nil) {
    let span = KeySpan(p0: p0, keyStart: keyStart, window: window)
    let hd = shape.headDim
    let group = shape.heads / shape.kvHeads
    let qStride = shape.queryWidth
    let scale = 1 / Float(hd).squareRoot()
    let total = p0 + tokens - keyStart
    let stride = paddedPositions(total)
    // Keys and values are copied into contiguous 16-wide panels, so the micro-kernel's panel
    // loads stream through memory instead of jumping a cache line (keys: `stride` floats,
    // values: kvWidth) per step; the strided loads stalled it (perf: ~45% of its samples on
    // them). Panel rows before the first query's span are never read (and not filled).
    // keyPanels[kvh][j / 16][d][j % 16] = key of position keyStart + j, dims d of head kvh; padding is zero.
    // valuePanels[kvh][d / 16][j][d % 16] = value likewise.
    let keyPanels = scratch + pool.threads * queryBlock * stride
    let valuePanels = keyPanels + shape.kvHeads * hd * stride
    let firstRow = span.rows(query: 0).lowerBound / 16 * 16
    pool.run { t in
        for kvh in pool.slice(t, of: shape.kvHeads) {
            let dst = keyPanels + kvh * hd * stride
            let vdst = valuePanels + kvh * hd * stride
            for j in firstRow..<total {
                let offset = kv.offset(keyStart + j, head: kvh)
                let src = kv.keys + offset
                let base = dst + (j / 16) * hd * 16 + j % 16
                for d in 0..<hd { base[d * 16] = src[d] }
                let vsrc = kv.values + offset
                for d0 in Swift.stride(from: 0, to: hd, by: 16) {
                    (vdst + d0 * stride + j * 16).update(from: vsrc + d0, count: 16)
                }
            }
            for j in total..<stride {
                let base = dst + (j / 16) * hd * 16 + j % 16
                for d in 0..<hd { base[d * 16] = 0 }
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

/// Which key rows (positions − keyStart) query t of a prompt chunk may see.
private struct KeySpan {
    let p0: Int, keyStart: Int, window: Int?

    /// Half-open range of rows visible to query t.
    @inline(__always) func rows(query t: Int) -> Range<Int> {
        let position = p0 + t
        let first = window.map { max(keyStart, position - $0 + 1) } ?? keyStart
        return (first - keyStart)..<(position - keyStart + 1)
    }
}

/// out[0..<headDim] = Σ_j w[j] · v_j over `positions` in order, where v_j is the value row of
/// kv head `head` at position j. Dims go 64 at a time (eight 8-lane accumulators,
/// each value row read once per pass; a decode step of a batch spends a fifth of its time here),
/// then 16 or 8 at a time for what is left.
@inline(__always)
func accumulateWeighted(_ kv: KVRows, head: Int, positions: Range<Int>, weights: UnsafePointer<Float>,
                        headDim: Int, into out: UnsafeMutablePointer<Float>) {
    let o = UnsafeMutableRawPointer(out)
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    var d = 0
    while d + 64 <= headDim {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
        for (j, position) in positions.enumerated() {
            let v = kv.values + kv.offset(position, head: head) + d
            let wj = SIMD8<Float>(repeating: weights[j])
            a0 = a0.addingProduct(wj, load(v)); a1 = a1.addingProduct(wj, load(v + 8))
            a2 = a2.addingProduct(wj, load(v + 16)); a3 = a3.addingProduct(wj, load(v + 24))
            a4 = a4.addingProduct(wj, load(v + 32)); a5 = a5.addingProduct(wj, load(v + 40))
            a6 = a6.addingProduct(wj, load(v + 48)); a7 = a7.addingProduct(wj, load(v + 56))
        }
        for (i, a) in [a0, a1, a2, a3, a4, a5, a6, a7].enumerated() { (o + (d + 8 * i) * 4).storeBytes(of: a, as: SIMD8<Float>.self) }
        d += 64
    }
    while d < headDim {
        // Two 8-lane accumulators per pass keep the FMA chain short.
        var a = SIMD8<Float>(), b = SIMD8<Float>()
        let wide = d + 16 <= headDim
        for (j, position) in positions.enumerated() {
            let v = kv.values + kv.offset(position, head: head) + d
            let wj = SIMD8<Float>(repeating: weights[j])
            a = a.addingProduct(wj, load(v))
            if wide { b = b.addingProduct(wj, load(v + 8)) }
        }
        (o + d * 4).storeBytes(of: a, as: SIMD8<Float>.self)
        if wide { (o + (d + 8) * 4).storeBytes(of: b, as: SIMD8<Float>.self) }
        d += wide ? 16 : 8
    }
}
