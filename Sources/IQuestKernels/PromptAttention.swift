import Foundation
import IQuestCKernels

/// Query tokens one prompt work item takes for a group of `group` query heads: about 24 rows
/// (token × head) share each decoded key/value tile.
@inline(__always) func promptTokensPerItem(group: Int) -> Int { max(1, 24 / max(1, group)) }

/// Floats of scratch `promptAttention` needs (per thread, whatever the prompt length: no
/// score matrix over all keys is ever formed).
public func promptAttentionScratchCount(shape: AttentionShape, threads: Int) -> Int {
    threads * promptScratchPerThread(shape)
}

private func promptScratchPerThread(_ shape: AttentionShape) -> Int {
    let rows = promptTokensPerItem(group: shape.group) * shape.group, hd = shape.headDim
    // queries, accumulators [rows, hd]; scores [rows, 16]; max and sum [rows];
    // key panel [hd, 16], value panel [16, hd], one decoded row [hd].
    return 2 * rows * hd + rows * attentionTile + 2 * rows + 2 * attentionTile * hd + hd
}

/// Causal attention of a prompt chunk: T tokens at positions p0 … p0+T−1 of one sequence whose
/// rows (this chunk's included) are in `kv`, stored in any `KVCacheType`. One work item is
/// (kv head, a few consecutive tokens) with all query heads of the group as rows; it walks the
/// keys in aligned tiles of 16 positions with an online softmax (flash attention): each tile's
/// keys are decoded once into a [headDim, 16] panel, scores = Q·Kᵀ on the 6×16 micro-kernel,
/// each row's running max m and sum l updated (its accumulators rescaled by e^(m_old−m_new)),
/// values decoded into [16, headDim] and acc += P·V. Memory is O(rows · headDim) per thread at
/// any depth. A query's result is the same whatever chunk it comes in: its tiles are fixed by
/// its own span, tiles it cannot see are skipped, masked keys weigh exactly 0, and every sum
/// runs in the same order. scratch: `promptAttentionScratchCount` floats.
public func promptAttention(queries: UnsafePointer<Float>, kv: KVRows, firstPosition p0: Int, tokens: Int,
                            shape: AttentionShape, into out: UnsafeMutablePointer<Float>,
                            scratch: UnsafeMutablePointer<Float>, pool: ComputePool, keyStart: Int = 0, window: Int? = nil) {
    let hd = shape.headDim, g = shape.group, qStride = shape.queryWidth
    let scale = 1 / Float(hd).squareRoot()
    let perItem = promptTokensPerItem(group: g)
    let blocks = (tokens + perItem - 1) / perItem
    let perThread = promptScratchPerThread(shape)
    let rowsMax = perItem * g
    @inline(__always) func visible(_ t: Int) -> Range<Int> {
        let position = p0 + t
        let first = window.map { max(keyStart, position - $0 + 1) } ?? keyStart
        return first..<(position + 1)
    }
    pool.run { thread in
        let q = scratch + thread * perThread             // [rows, hd], scaled
        let acc = q + rowsMax * hd                         // [rows, hd]
        let s = acc + rowsMax * hd                         // [rows, 16]
        let m = s + rowsMax * attentionTile                // [rows]
        let l = m + rowsMax                                // [rows]
        let keyPanel = l + rowsMax                         // [hd, 16]
        let valuePanel = keyPanel + hd * attentionTile     // [16, hd]
        let row = valuePanel + attentionTile * hd          // [hd]
        // Items are dealt round-robin: later tokens see more keys.
        for item in Swift.stride(from: thread, to: blocks * shape.kvHeads, by: pool.threads) {
            let head = item % shape.kvHeads, t0 = (item / shape.kvHeads) * perItem
            let count = min(perItem, tokens - t0), rows = count * g
            for t in 0..<count {
                let src = queries + (t0 + t) * qStride + head * g * hd
                for i in 0..<(g * hd) { q[t * g * hd + i] = src[i] * scale }
            }
            acc.update(repeating: 0, count: rows * hd)
            m.update(repeating: -.infinity, count: rows)
            l.update(repeating: 0, count: rows)
            let lower = visible(t0).lowerBound, upper = p0 + t0 + count
            var tileStart = lower / attentionTile * attentionTile
            while tileStart < upper {
                let valid = max(lower, tileStart)..<min(upper, tileStart + attentionTile)
                fillKeyPanel(kv, head: head, positions: valid, tileStart: tileStart, headDim: hd, panel: keyPanel, row: row)
                fillValuePanel(kv, head: head, positions: valid, tileStart: tileStart, headDim: hd, panel: valuePanel)
                for r0 in Swift.stride(from: 0, to: rows, by: 6) {
                    microKernel(q + r0 * hd, hd, min(6, rows - r0), keyPanel, hd, s + r0 * attentionTile, attentionTile, true)
                }
                for r in 0..<rows {
                    let span = visible(t0 + r / g)
                    let a = max(span.lowerBound, tileStart), b = min(span.upperBound, tileStart + attentionTile)
                    let scores = s + r * attentionTile
                    guard a < b else {
                        scores.update(repeating: 0, count: attentionTile)
                        continue
                    }
                    for j in 0..<(a - tileStart) { scores[j] = -.infinity }
                    for j in (b - tileStart)..<attentionTile { scores[j] = -.infinity }
                    let top = max(m[r], rowMaximum(scores, count: attentionTile))
                    let rescale = Foundation.exp(m[r] - top)
                    l[r] = l[r] * rescale + exponentiate(scores, count: attentionTile, minus: top)
                    if rescale != 1 {
                        let a = acc + r * hd
                        for d in 0..<hd { a[d] *= rescale }
                    }
                    m[r] = top
                }
                for r0 in Swift.stride(from: 0, to: rows, by: 6) {
                    var d0 = 0
                    while d0 < hd {
                        microKernel(s + r0 * attentionTile, attentionTile, min(6, rows - r0), valuePanel + d0, attentionTile,
                                    acc + r0 * hd + d0, hd, false, ldp: hd)
                        d0 += 16
                    }
                }
                tileStart += attentionTile
            }
            for r in 0..<rows {
                let t = r / g, h = r % g
                let o = out + (t0 + t) * qStride + (head * g + h) * hd, a = acc + r * hd
                let inverse = 1 / l[r]
                for d in 0..<hd { o[d] = a[d] * inverse }
            }
        }
    }
}

/// panel[d·16 + j] = key of position tileStart + j, dim d, for j in `positions`; 0 elsewhere.
@inline(__always)
private func fillKeyPanel(_ kv: KVRows, head: Int, positions: Range<Int>, tileStart: Int, headDim hd: Int,
                          panel: UnsafeMutablePointer<Float>, row: UnsafeMutablePointer<Float>) {
    // Rows of one aligned tile sit in one storage block when blocks hold ≥ 16 positions: one C
    // call decodes and transposes them (rows past the last valid one are zeroed by it).
    if positions.lowerBound == tileStart, kv.blockSize >= attentionTile, hd % 32 == 0 {
        iq_pack_panel16(kv.keyKind.cKind, kv.keyRow(tileStart, head: head), kv.keyRowStride, Int64(positions.count),
                        Int64(hd), panel)
        return
    }
    for j in 0..<attentionTile {
        let p = tileStart + j
        guard positions.contains(p) else {
            for d in 0..<hd { panel[d * attentionTile + j] = 0 }
            continue
        }
        let k = kv.keyFloats(p, head: head, headDim: hd, buffer: row)
        for d in 0..<hd { panel[d * attentionTile + j] = k[d] }
    }
}

/// panel[j·headDim + d] = value of position tileStart + j, dim d, for j in `positions`; 0 elsewhere.
@inline(__always)
private func fillValuePanel(_ kv: KVRows, head: Int, positions: Range<Int>, tileStart: Int, headDim hd: Int,
                            panel: UnsafeMutablePointer<Float>) {
    // Rows before the first valid one and after the last are zero; the valid ones are decoded
    // as one tile straight into their places ([16, headDim] is the tile's own layout).
    let lo = positions.lowerBound - tileStart, hi = positions.upperBound - tileStart
    if lo > 0 { panel.update(repeating: 0, count: lo * hd) }
    let rows = kv.valueTile(positions, head: head, headDim: hd, buffer: panel + lo * hd)
    if rows != UnsafePointer(panel + lo * hd) { (panel + lo * hd).update(from: rows, count: positions.count * hd) }
    if hi < attentionTile { (panel + hi * hd).update(repeating: 0, count: (attentionTile - hi) * hd) }
}
