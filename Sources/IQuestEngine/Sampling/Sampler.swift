import Foundation

/// Draws token ids from logits. Chain (llama.cpp order): repetition penalty → presence/frequency
/// penalties → top-k → top-p → min-p → temperature → seeded draw. top-p and min-p see the
/// untempered distribution; temperature only shapes the final draw among the survivors.
/// Temperature ≤ 0 is greedy: argmax of the penalised logits, lowest id on ties.
///
/// Buffers sized to the vocabulary are kept between calls, so steady-state sampling does not
/// allocate. Parameters are expected to pass `validate()`; out-of-range values degrade safely
/// (at least one token always survives).
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    /// The seed actually used (drawn from the system generator when `parameters.seed` is nil).
    public let seed: UInt64
    private var rng: Xoshiro256StarStar

    private var logits: [Float] = []        // [vocab] penalised copy of the input
    private var counts: [Int32] = []        // [vocab] window occurrence counts, all zero between calls
    private var candidates: [Int32] = []    // surviving ids, best first once sorted
    private var weights: [Double] = []      // final unnormalised probabilities of the survivors
    private var maxLogit: Float = 0         // largest penalised logit of the last call

    public init(parameters: SamplingParameters) {
        self.parameters = parameters
        var system = SystemRandomNumberGenerator()
        seed = parameters.seed ?? system.next()
        rng = Xoshiro256StarStar(seed: seed)
    }

    /// Returns the sampled id in `0..<logits.count`, or -1 when `logits` is empty. Ids in
    /// `history` outside the vocabulary are ignored.
    public mutating func sample(logits input: UnsafeBufferPointer<Float>, history: some Collection<Int>) -> Int {
        let n = input.count
        guard n > 0 else { return -1 }
        prepare(n)
        logits.withUnsafeMutableBufferPointer { l in
            for i in 0..<n {
                let x = input[i]
                l[i] = x.isNaN ? -.infinity : x
            }
        }
        applyPenalties(history: history, vocab: n)

        if let best = filter(n) { return best }
        return draw(maxLogit: maxLogit)
    }

    /// The distribution `sample` draws from (after penalties, top-k, top-p, min-p and
    /// temperature): surviving ids and their probabilities, summing to 1; one id with
    /// probability 1 when greedy. Draws nothing. Speculative verification against a draft
    /// model's distribution needs it (`GenerationState.verify(_:draft:draftDistributions:)`).
    public mutating func distribution(logits input: UnsafeBufferPointer<Float>, history: some Collection<Int>) -> [(id: Int, probability: Double)] {
        let n = input.count
        guard n > 0 else { return [] }
        prepare(n)
        logits.withUnsafeMutableBufferPointer { l in
            for i in 0..<n {
                let x = input[i]
                l[i] = x.isNaN ? -.infinity : x
            }
        }
        applyPenalties(history: history, vocab: n)
        if let best = filter(n) { return [(best, 1)] }
        let total = finalWeights(maxLogit: maxLogit)
        return zip(candidates, weights).map { (Int($0), $1 / total) }
    }

    /// A uniform draw in [0, 1) from the seeded generator (the acceptance test and residual draw
    /// of draft-model speculation use the same stream as `sample`).
    public mutating func nextUnit() -> Double { rng.nextUnitDouble() }

    /// Survivors into `candidates` (max logit in `maxLogit`); returns the id when greedy.
    private mutating func filter(_ n: Int) -> Int? {
        let p = parameters
        let best = argmax(n)
        if p.temperature <= 0 || !(p.temperature.isFinite) || logits[best] == .infinity || logits[best] == -.infinity {
            return best
        }
        selectTopK(n)
        maxLogit = logits[best]  // top-k keeps `best`
        filterTopPMinP(maxLogit: maxLogit, sorted: p.topK > 0 && p.topK < n)
        return nil
    }

    private mutating func prepare(_ n: Int) {
        if logits.count != n {
            logits = [Float](repeating: 0, count: n)
            counts = [Int32](repeating: 0, count: n)
            candidates.reserveCapacity(n)
            weights.reserveCapacity(n)
        }
    }

    private mutating func applyPenalties(history: some Collection<Int>, vocab n: Int) {
        let p = parameters
        let lastN = p.repetitionLastN
        guard lastN != 0, !history.isEmpty,
              p.repetitionPenalty != 1 || p.presencePenalty != 0 || p.frequencyPenalty != 0 else { return }
        let window = lastN < 0 ? history[...] : history.suffix(lastN)
        for id in window where id >= 0 && id < n { counts[id] &+= 1 }
        let rep = p.repetitionPenalty > 0 && p.repetitionPenalty.isFinite ? p.repetitionPenalty : 1
        for id in window where id >= 0 && id < n {
            let c = counts[id]
            guard c > 0 else { continue }  // already applied for this id
            counts[id] = 0
            var l = logits[id]
            l = l <= 0 ? l * rep : l / rep
            l -= Float(c) * p.frequencyPenalty + p.presencePenalty
            logits[id] = l.isNaN ? -.infinity : l
        }
    }

    /// Lowest id among the maxima.
    private func argmax(_ n: Int) -> Int {
        logits.withUnsafeBufferPointer { l in
            var best = 0
            for i in 1..<max(n, 1) where l[i] > l[best] { best = i }
            return best
        }
    }

    /// `candidates` := the k best ids, best first (ties: lower id first); all ids when top-k is off.
    private mutating func selectTopK(_ n: Int) {
        candidates.removeAll(keepingCapacity: true)
        let k = parameters.topK
        guard k > 0, k < n else {
            candidates.append(contentsOf: 0..<Int32(n))
            return
        }
        candidates.append(contentsOf: 0..<Int32(k))
        logits.withUnsafeBufferPointer { l in
            candidates.withUnsafeMutableBufferPointer { h in
                let order = CandidateOrder(logits: l)
                // Heap with the worst of the current k at the root.
                order.heapify(h, rootIs: order.worse)
                for id in Int32(k)..<Int32(n) where order.better(id, h[0]) {
                    h[0] = id
                    order.siftDown(h, 0, count: k, rootIs: order.worse)
                }
                // Pop worst to the back repeatedly: the buffer ends up best first.
                for end in stride(from: k - 1, to: 0, by: -1) {
                    h.swapAt(0, end)
                    order.siftDown(h, 0, count: end, rootIs: order.worse)
                }
            }
        }
    }

    /// Keeps the shortest best-first prefix satisfying top-p (cumulative probability ≥ topP over
    /// the current candidates) and min-p (p ≥ minP · p_max). Both cut a best-first prefix of the
    /// same distribution, so min-p can prune before the sort that top-p needs.
    private mutating func filterTopPMinP(maxLogit: Float, sorted: Bool) {
        let p = parameters
        let useTopP = p.topP < 1
        let useMinP = p.minP > 0
        guard useTopP || useMinP else { return }
        var z = 0.0
        if useTopP {
            logits.withUnsafeBufferPointer { l in
                for id in candidates { z += exp(Double(l[Int(id)] - maxLogit)) }
            }
        }
        if useMinP {
            let cutoff = maxLogit + logf(min(p.minP, 1))
            let l = logits
            candidates.removeAll { l[Int($0)] < cutoff }
        }
        guard useTopP else { return }
        let target = Double(max(p.topP, 0)) * z
        var cum = 0.0
        if sorted {
            var keep = candidates.count
            logits.withUnsafeBufferPointer { l in
                for (i, id) in candidates.enumerated() {
                    cum += exp(Double(l[Int(id)] - maxLogit))
                    if cum >= target { keep = i + 1; break }
                }
            }
            candidates.removeLast(candidates.count - max(keep, 1))
            return
        }
        // Unsorted: pop best ids off a heap (to the back of the buffer) until the mass is reached,
        // O(n + kept · log n) instead of a full sort.
        let count = candidates.count
        var popped = 0
        logits.withUnsafeBufferPointer { l in
            candidates.withUnsafeMutableBufferPointer { h in
                let order = CandidateOrder(logits: l)
                order.heapify(h, rootIs: order.better)
                var size = count
                while size > 0 {
                    cum += exp(Double(l[Int(h[0])] - maxLogit))
                    size -= 1
                    h.swapAt(0, size)
                    order.siftDown(h, 0, count: size, rootIs: order.better)
                    popped += 1
                    if cum >= target { break }
                }
            }
        }
        candidates.removeFirst(count - popped)
        candidates.reverse()
    }

    /// `weights` := exp((logit − max) / T) of each candidate; returns their sum.
    private mutating func finalWeights(maxLogit: Float) -> Double {
        let invT = 1 / Double(parameters.temperature)
        weights.removeAll(keepingCapacity: true)
        var total = 0.0
        logits.withUnsafeBufferPointer { l in
            for id in candidates {
                let w = exp(Double(l[Int(id)] - maxLogit) * invT)
                weights.append(w)
                total += w
            }
        }
        return total
    }

    private mutating func draw(maxLogit: Float) -> Int {
        let total = finalWeights(maxLogit: maxLogit)
        let u = rng.nextUnitDouble() * total
        var cum = 0.0
        for (i, w) in weights.enumerated() {
            cum += w
            if u < cum { return Int(candidates[i]) }
        }
        return Int(candidates[candidates.count - 1])
    }
}

/// Ordering of candidate ids by logit (higher first, then lower id) and in-place heap steps.
private struct CandidateOrder {
    let logits: UnsafeBufferPointer<Float>

    @inline(__always) func better(_ a: Int32, _ b: Int32) -> Bool {
        let la = logits[Int(a)], lb = logits[Int(b)]
        return la > lb || (la == lb && a < b)
    }

    @inline(__always) func worse(_ a: Int32, _ b: Int32) -> Bool { better(b, a) }

    /// Restores the heap property below `start`; `rootIs(a, b)` means a belongs above b.
    func siftDown(_ h: UnsafeMutableBufferPointer<Int32>, _ start: Int, count: Int,
                  rootIs above: (Int32, Int32) -> Bool) {
        var i = start
        while true {
            let left = 2 * i + 1, right = left + 1
            var top = i
            if left < count, above(h[left], h[top]) { top = left }
            if right < count, above(h[right], h[top]) { top = right }
            if top == i { return }
            h.swapAt(i, top)
            i = top
        }
    }

    func heapify(_ h: UnsafeMutableBufferPointer<Int32>, rootIs above: (Int32, Int32) -> Bool) {
        for i in stride(from: h.count / 2 - 1, through: 0, by: -1) {
            siftDown(h, i, count: h.count, rootIs: above)
        }
    }
}
