import Foundation

/// Decode attention splits each query's keys into segments of this many positions, aligned on
/// absolute positions: every segment is one unit of work (so a single long sequence still
/// spreads over all threads), and segment boundaries depend only on positions, never on the
/// batch or the thread count.
let decodeSegment = 512

/// Segments of `decodeSegment` aligned positions that `range` touches.
@inline(__always) func segments(_ range: Range<Int>) -> Range<Int> {
    (range.lowerBound / decodeSegment)..<((range.upperBound - 1) / decodeSegment + 1)
}

/// Floats of scratch `decodeAttention` needs for queries at `positions` (each seeing at most
/// positions 0 … p): per thread the scores of one segment for a head group, the group's scaled
/// queries and a tile of decoded rows; per (query, kv head, segment) the partial result
/// (max, sum and unnormalised output of each head of the group).
public func decodeAttentionScratchCount(positions: [Int], shape: AttentionShape, threads: Int) -> Int {
    let g = shape.group, hd = shape.headDim
    var partials = 0
    for p in positions { partials += shape.kvHeads * segments(0..<(p + 1)).count * g * (hd + 2) }
    return threads * (g * decodeSegment + g * hd + attentionTile * hd) + partials
}

/// Attention of single query tokens, each over its own sequence's rows (a decode step of a
/// batch). Work is split into units (query, kv head, segment of 512 positions): a unit reads
/// each key and value row of its segment once for all query heads of the group (GQA), decoding
/// stored f16/bf16/q8_0/q4_0 rows a tile at a time, and leaves the group's partial softmax
/// (max m, sum l, Σ e^(s−m)·v); a second pass merges a query's segments in order
/// (flash-decoding). A query's result does not depend on the others in the list or on the
/// thread count (batch invariance). scratch: `decodeAttentionScratchCount` floats.
public func decodeAttention(_ items: [DecodeQuery], shape: AttentionShape, scratch: UnsafeMutablePointer<Float>,
                            pool: ComputePool) {
    guard !items.isEmpty else { return }
    let hd = shape.headDim, g = shape.group
    let scale = 1 / Float(hd).squareRoot()
    let partialFloats = g * (hd + 2)
    // Units in (query, kv head, segment) order; each (query, kv head) owns a run of them.
    var units: [DecodeUnit] = []
    var runs: [(first: Int, count: Int)] = []
    var offset = 0
    for (index, item) in items.enumerated() {
        let visible = item.visible
        for head in 0..<shape.kvHeads {
            runs.append((units.count, segments(visible).count))
            for s in segments(visible) {
                let lo = max(visible.lowerBound, s * decodeSegment), hi = min(visible.upperBound, (s + 1) * decodeSegment)
                units.append(DecodeUnit(item: index, head: head, positions: lo..<hi, partial: offset))
                offset += partialFloats
            }
        }
    }
    let perThread = g * decodeSegment + g * hd + attentionTile * hd
    let partials = scratch + pool.threads * perThread
    items.withUnsafeBufferPointer { list in
        units.withUnsafeBufferPointer { work in
            pool.run { t in
                let scores = scratch + t * perThread          // [g, decodeSegment]
                let queries = scores + g * decodeSegment       // [g, hd], scaled
                let tile = queries + g * hd                    // [16, hd] decoded rows
                // Units are dealt round-robin: a long sequence's segments sit together in the list.
                for u in Swift.stride(from: t, to: work.count, by: pool.threads) {
                    let unit = work[u]
                    let item = list[unit.item]
                    let q = item.queries + unit.head * g * hd
                    for i in 0..<(g * hd) { queries[i] = q[i] * scale }
                    attendSegment(item.kv, head: unit.head, positions: unit.positions, group: g, headDim: hd,
                                  queries: queries, scores: scores, tile: tile, into: partials + unit.partial)
                }
            }
            // Merge each (query, kv head)'s segments, in position order.
            runs.withUnsafeBufferPointer { heads in
                pool.run { t in
                    for r in pool.slice(t, of: heads.count) {
                        let run = heads[r]
                        let item = list[r / shape.kvHeads], head = r % shape.kvHeads
                        mergeSegments(partials + work[run.first].partial, count: run.count, group: g, headDim: hd,
                                      into: item.out + head * g * hd)
                    }
                }
            }
        }
    }
}

private struct DecodeUnit {
    let item: Int
    let head: Int
    let positions: Range<Int>
    /// Offset of the unit's partial result in the partials area.
    let partial: Int
}

/// One segment of one kv head for its group of g query heads: partial = [m (g), l (g), acc (g·hd)]
/// with m the largest score, l = Σ e^(s−m) and acc = Σ e^(s−m)·v over `positions`.
@inline(__always)
private func attendSegment(_ kv: KVRows, head: Int, positions: Range<Int>, group g: Int, headDim hd: Int,
                           queries: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>,
                           tile: UnsafeMutablePointer<Float>, into partial: UnsafeMutablePointer<Float>) {
    let n = positions.count, first = positions.lowerBound
    // Keys a tile of aligned positions at a time (one decode call per tile).
    var keyStart = first / attentionTile * attentionTile
    while keyStart < positions.upperBound {
        let lo = max(first, keyStart), hi = min(positions.upperBound, keyStart + attentionTile)
        let keys = kv.keyTile(lo..<hi, head: head, headDim: hd, buffer: tile)
        for p in lo..<hi {
            let k = keys + (p - lo) * hd
            for h in 0..<g { scores[h * decodeSegment + p - first] = dot(queries + h * hd, k, hd) }
        }
        keyStart += attentionTile
    }
    let m = partial, l = partial + g, acc = partial + 2 * g
    for h in 0..<g {
        let row = scores + h * decodeSegment
        m[h] = rowMaximum(row, count: n)
        l[h] = exponentiate(row, count: n, minus: m[h])
    }
    acc.update(repeating: 0, count: g * hd)
    // Values a tile of aligned positions at a time: rows decoded once, then every head's
    // accumulators take them 16 dims at a time.
    withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: attentionTile) { rows in
        var tileStart = first / attentionTile * attentionTile
        while tileStart < positions.upperBound {
            let lo = max(first, tileStart), hi = min(positions.upperBound, tileStart + attentionTile)
            let values = kv.valueTile(lo..<hi, head: head, headDim: hd, buffer: tile)
            for p in lo..<hi { rows[p - lo] = values + (p - lo) * hd }
            let tileRows = UnsafeBufferPointer(rebasing: rows[0..<(hi - lo)])
            for h in 0..<g {
                accumulateRows(tileRows, weights: scores + h * decodeSegment + (lo - first), headDim: hd, into: acc + h * hd)
            }
            tileStart += attentionTile
        }
    }
}

/// out[0..<headDim] += Σ_j w[j] · rows[j], 16 dims at a time with the sum over rows in order.
@inline(__always)
func accumulateRows(_ rows: UnsafeBufferPointer<UnsafePointer<Float>>, weights: UnsafePointer<Float>, headDim: Int,
                    into out: UnsafeMutablePointer<Float>) {
    let o = UnsafeMutableRawPointer(out)
    var d = 0
    while d < headDim {
        let wide = d + 16 <= headDim
        var a = (o + d * 4).loadUnaligned(as: SIMD8<Float>.self)
        var b = wide ? (o + (d + 8) * 4).loadUnaligned(as: SIMD8<Float>.self) : SIMD8<Float>()
        for j in 0..<rows.count {
            let w = SIMD8<Float>(repeating: weights[j])
            let v = UnsafeRawPointer(rows[j] + d)
            a = a.addingProduct(w, v.loadUnaligned(as: SIMD8<Float>.self))
            if wide { b = b.addingProduct(w, (v + 32).loadUnaligned(as: SIMD8<Float>.self)) }
        }
        (o + d * 4).storeBytes(of: a, as: SIMD8<Float>.self)
        if wide { (o + (d + 8) * 4).storeBytes(of: b, as: SIMD8<Float>.self) }
        d += wide ? 16 : 8
    }
}

/// out_h = Σ_s e^(m_s−M)·acc_s / Σ_s e^(m_s−M)·l_s over `count` consecutive partials (M = max m_s),
/// for each of the g heads.
@inline(__always)
private func mergeSegments(_ partials: UnsafePointer<Float>, count: Int, group g: Int, headDim hd: Int,
                           into out: UnsafeMutablePointer<Float>) {
    let stride = g * (hd + 2)
    for h in 0..<g {
        var top = -Float.infinity
        for s in 0..<count { top = max(top, partials[s * stride + h]) }
        let o = out + h * hd
        o.update(repeating: 0, count: hd)
        var total: Float = 0
        for s in 0..<count {
            let part = partials + s * stride
            let w = count == 1 ? 1 : Foundation.exp(part[h] - top)
            total += w * part[g + h]
            let acc = part + 2 * g + h * hd
            for d in 0..<hd { o[d] += w * acc[d] }
        }
        let inverse = 1 / total
        for d in 0..<hd { o[d] *= inverse }
    }
}
