import Foundation

/// log(softmax(logits)), with the normaliser accumulated in Double. NaN logits count as -inf.
/// An all -inf input gives all -inf.
public func logSoftmax(_ logits: UnsafeBufferPointer<Float>) -> [Float] {
    guard !logits.isEmpty else { return [] }
    var maxLogit = -Float.infinity
    for x in logits where x > maxLogit { maxLogit = x }
    guard maxLogit.isFinite else {
        // +inf dominates: those ids share all the mass; -inf everywhere means no mass at all.
        let hits = logits.reduce(0) { $0 + ($1 == .infinity ? 1 : 0) }
        return logits.map { $0 == .infinity && hits > 0 ? -Float(log(Double(hits))) : -.infinity }
    }
    var sum = 0.0
    for x in logits where !x.isNaN { sum += exp(Double(x - maxLogit)) }
    let logZ = Double(maxLogit) + log(sum)
    return logits.map { $0.isNaN ? -.infinity : Float(Double($0) - logZ) }
}

/// The `k` most probable ids with their log-probabilities, most probable first (ties: lower id).
public func topLogprobs(_ logits: UnsafeBufferPointer<Float>, k: Int) -> [(id: Int, logprob: Float)] {
    guard k > 0 else { return [] }
    let lp = logSoftmax(logits)
    if k > 64 {
        let order = lp.indices.sorted { lp[$0] > lp[$1] || (lp[$0] == lp[$1] && $0 < $1) }
        return order.prefix(k).map { (id: $0, logprob: lp[$0]) }
    }
    var best: [(id: Int, logprob: Float)] = []
    best.reserveCapacity(min(k, lp.count) + 1)
    for (id, v) in lp.enumerated() {
        if best.count == k, let last = best.last, !(v > last.logprob) { continue }
        // Insertion into a short sorted list; stable, so equal values keep lower ids first.
        var i = best.count
        while i > 0, best[i - 1].logprob < v { i -= 1 }
        best.insert((id, v), at: i)
        if best.count > k { best.removeLast() }
    }
    return best
}
