import Foundation
import IQuestKernels
import Testing

/// Rotary embeddings, causal attention and the thread pool's work split against naive references.
@Suite struct RopeAttentionTests {
    static let layouts: [RopeLayout] = [.adjacentPairs, .rotateHalf]

    /// Naive rotation in Double. Frequencies follow the Llama reference: θ^(−2i/d); element pairs
    /// are (2i, 2i+1) for adjacentPairs and (i, i + d/2) for rotateHalf.
    static func rotateReference(_ v: [Float], headDim d: Int, heads: Int, position: Int, theta: Double,
                                layout: RopeLayout) -> [Double] {
        var out = v.map(Double.init)
        for h in 0..<heads {
            for i in 0..<(d / 2) {
                let angle = Double(position) * pow(theta, -Double(2 * i) / Double(d))
                let (a, b) = layout == .adjacentPairs ? (h * d + 2 * i, h * d + 2 * i + 1) : (h * d + i, h * d + i + d / 2)
                let x = Double(v[a]), y = Double(v[b])
                out[a] = x * cos(angle) - y * sin(angle)
                out[b] = x * sin(angle) + y * cos(angle)
            }
        }
        return out
    }

    @Test(arguments: layouts)
    func ropeMatchesNaiveRotation(layout: RopeLayout) {
        var rng = TestRNG(seed: layout == .adjacentPairs ? 1 : 2)
        for (headDim, theta) in [(16, 10_000.0), (64, 10_000.0), (64, 500_000.0), (128, 1_000_000.0)] {
            let rope = RotaryEmbedding(headDim: headDim, theta: Float(theta), layout: layout)
            #expect(rope.headDim == headDim && rope.layout == layout)
            let heads = 3
            for position in [0, 1, 2, 17, 255, 1000, 4095] {
                let v = rng.floats(heads * headDim)
                var c = [Float](repeating: .nan, count: headDim / 2), s = c
                c.withUnsafeMutableBufferPointer { cp in
                    s.withUnsafeMutableBufferPointer { sp in rope.angles(position: position, cos: cp.baseAddress!, sin: sp.baseAddress!) }
                }
                // The reference computes angles in fp32 (position · inv_freq), so an angle of
                // magnitude A carries ~A·2⁻²⁴ of rounding; allow for it.
                let tolerance = 2e-6 + Double(position) * 3e-7
                for i in 0..<(headDim / 2) {
                    let angle = Double(position) * pow(theta, -Double(2 * i) / Double(headDim))
                    #expect(abs(Double(c[i]) - cos(angle)) <= tolerance && abs(Double(s[i]) - sin(angle)) <= tolerance,
                            "d=\(headDim) θ=\(theta) p=\(position) i=\(i): cos/sin \(c[i]), \(s[i]) vs \(cos(angle)), \(sin(angle))")
                }
                var x = v
                x.withUnsafeMutableBufferPointer { xp in
                    c.withUnsafeBufferPointer { cp in
                        s.withUnsafeBufferPointer { sp in
                            rope.apply(xp.baseAddress!, heads: heads, cos: cp.baseAddress!, sin: sp.baseAddress!)
                        }
                    }
                }
                let reference = Self.rotateReference(v, headDim: headDim, heads: heads, position: position, theta: theta, layout: layout)
                let err = maxAbsDiff(x, reference)
                #expect(err <= 2 * tolerance, "\(layout) d=\(headDim) θ=\(theta) p=\(position): max error \(err)")
                // A rotation keeps each pair's norm.
                if position == 0 { #expect(x == v) }
            }
        }
    }

    /// The two layouts are the same rotation up to the permutation that llama.cpp's converter
    /// applies to Q/K rows: element (2i, 2i+1) ↔ (i, i + d/2).
    @Test func layoutsAgreeUnderPermutation() {
        var rng = TestRNG(seed: 77)
        let d = 32
        let half = RotaryEmbedding(headDim: d, theta: 10_000, layout: .rotateHalf)
        let adjacent = RotaryEmbedding(headDim: d, theta: 10_000, layout: .adjacentPairs)
        let v = rng.floats(d)
        var permuted = [Float](repeating: 0, count: d)
        for i in 0..<(d / 2) { permuted[2 * i] = v[i]; permuted[2 * i + 1] = v[i + d / 2] }
        var c = [Float](repeating: 0, count: d / 2), s = c
        c.withUnsafeMutableBufferPointer { cp in s.withUnsafeMutableBufferPointer { half.angles(position: 37, cos: cp.baseAddress!, sin: $0.baseAddress!) } }
        var a = v, b = permuted
        a.withUnsafeMutableBufferPointer { half.apply($0.baseAddress!, heads: 1, cos: c, sin: s) }
        b.withUnsafeMutableBufferPointer { adjacent.apply($0.baseAddress!, heads: 1, cos: c, sin: s) }
        for i in 0..<(d / 2) {
            #expect(a[i] == b[2 * i] && a[i + d / 2] == b[2 * i + 1], "pair \(i)")
        }
    }

    /// Naive causal attention in Double: query t (absolute position p = p0+t) over positions
    /// max(keyStart, p−window+1) … p (no window: keyStart … p), GQA; key/value row j holds
    /// position keyStart + j.
    static func attentionReference(q: [Float], k: [Float], v: [Float], p0: Int, tokens: Int, shape: AttentionShape,
                                   keyStart: Int = 0, window: Int? = nil) -> [Double] {
        let hd = shape.headDim
        let group = shape.heads / shape.kvHeads
        var out = [Double](repeating: 0, count: tokens * shape.heads * hd)
        for t in 0..<tokens {
            let position = p0 + t
            let first = max(keyStart, window.map { position - $0 + 1 } ?? keyStart)
            let positions = Array(first...position)
            for h in 0..<shape.heads {
                let kvh = h / group
                var scores = [Double](repeating: 0, count: positions.count)
                for (i, pos) in positions.enumerated() {
                    let j = pos - keyStart
                    var s = 0.0
                    for e in 0..<hd { s += Double(q[(t * shape.heads + h) * hd + e]) * Double(k[(j * shape.kvHeads + kvh) * hd + e]) }
                    scores[i] = s / Double(hd).squareRoot()
                }
                let m = scores.max()!
                let w = scores.map { exp($0 - m) }
                let z = w.reduce(0, +)
                for (i, pos) in positions.enumerated() {
                    let j = pos - keyStart
                    for e in 0..<hd {
                        out[(t * shape.heads + h) * hd + e] += w[i] / z * Double(v[(j * shape.kvHeads + kvh) * hd + e])
                    }
                }
            }
        }
        return out
    }

    struct AttentionCase: Sendable, CustomTestStringConvertible {
        let p0: Int, tokens: Int, keyStart: Int, window: Int?
        init(_ p0: Int, _ tokens: Int, keyStart: Int = 0, window: Int? = nil) {
            self.p0 = p0; self.tokens = tokens; self.keyStart = keyStart; self.window = window
        }
        var testDescription: String { "p0=\(p0) T=\(tokens) keyStart=\(keyStart) window=\(window.map(String.init) ?? "none")" }
    }

    /// Single tokens and short prompts take the per-query path, 8+ tokens the blocked path.
    static let attentionCases: [AttentionCase] = [
        .init(0, 1), .init(0, 6), .init(5, 1), .init(5, 3), .init(0, 8), .init(0, 13), .init(40, 9), .init(3, 20), .init(17, 31),
        // Older positions dropped from the buffer, and sliding windows.
        .init(10, 1, keyStart: 4), .init(10, 3, keyStart: 4), .init(20, 12, keyStart: 6),
        .init(10, 1, window: 4), .init(10, 5, window: 4), .init(0, 13, window: 3), .init(7, 20, window: 16),
        .init(30, 9, keyStart: 25, window: 8), .init(40, 14, keyStart: 33, window: 5),
    ]

    @Test(arguments: attentionCases)
    func causalAttentionMatchesNaive(_ c: AttentionCase) {
        var rng = TestRNG(seed: UInt64(c.p0 * 1000 + c.tokens * 10 + c.keyStart + 7 * (c.window ?? 0)))
        let (p0, tokens) = (c.p0, c.tokens)
        for (heads, kvHeads, headDim) in [(4, 2, 32), (4, 2, 16), (6, 2, 64), (3, 3, 16), (4, 1, 48)] {
            let shape = AttentionShape(heads: heads, kvHeads: kvHeads, headDim: headDim)
            #expect(shape.queryWidth == heads * headDim && shape.kvWidth == kvHeads * headDim)
            let rowsHeld = p0 + tokens - c.keyStart
            let q = rng.floats(tokens * shape.queryWidth, -2, 2)
            let k = rng.floats(rowsHeld * shape.kvWidth, -2, 2)
            let v = rng.floats(rowsHeld * shape.kvWidth, -1, 1)
            let reference = Self.attentionReference(q: q, k: k, v: v, p0: p0, tokens: tokens, shape: shape,
                                                    keyStart: c.keyStart, window: c.window)
            for threads in [1, 2, 3] {
                let pool = ComputePool(threads: threads)
                var out = [Float](repeating: .nan, count: tokens * shape.queryWidth + 16)
                for i in (tokens * shape.queryWidth)..<out.count { out[i] = -555 }
                let scratchCount = attentionScratchCount(firstPosition: p0, tokens: tokens, shape: shape, threads: threads,
                                                         keyStart: c.keyStart)
                #expect(scratchCount >= threads * rowsHeld)
                var scratch = [Float](repeating: 0, count: scratchCount + 16)
                for i in scratchCount..<scratch.count { scratch[i] = -444 }
                q.withUnsafeBufferPointer { qp in
                    k.withUnsafeBufferPointer { kp in
                        v.withUnsafeBufferPointer { vp in
                            out.withUnsafeMutableBufferPointer { op in
                                scratch.withUnsafeMutableBufferPointer { sp in
                                    causalAttention(queries: qp.baseAddress!, keys: kp.baseAddress!, values: vp.baseAddress!,
                                                    firstPosition: p0, tokens: tokens, shape: shape,
                                                    into: op.baseAddress!, scratch: sp.baseAddress!, pool: pool,
                                                    keyStart: c.keyStart, window: c.window)
                                }
                            }
                        }
                    }
                }
                let err = maxAbsDiff(out[0..<(tokens * shape.queryWidth)], reference)
                #expect(err <= 2e-6, "heads \(heads)/\(kvHeads) d=\(headDim) \(c.testDescription) threads=\(threads): max error \(err)")
                #expect(out[(tokens * shape.queryWidth)...].allSatisfy { $0 == -555 }, "wrote past the output")
                #expect(scratch[scratchCount...].allSatisfy { $0 == -444 }, "wrote past the scratch it asked for")
            }
        }
    }

    /// Changing the key and value of the last position leaves every earlier query's output
    /// unchanged (per-query path for 4 tokens, blocked prompt path for 12).
    @Test(arguments: [4, 12])
    func attentionIsCausal(tokens: Int) {
        var rng = TestRNG(seed: 31)
        let shape = AttentionShape(heads: 4, kvHeads: 2, headDim: 16)
        let p0 = 3, total = p0 + tokens
        let q = rng.floats(tokens * shape.queryWidth)
        var k = rng.floats(total * shape.kvWidth), v = rng.floats(total * shape.kvWidth)
        func run() -> [Float] {
            var out = [Float](repeating: 0, count: tokens * shape.queryWidth)
            var scratch = [Float](repeating: 0, count: attentionScratchCount(firstPosition: p0, tokens: tokens, shape: shape, threads: 2))
            causalAttention(queries: q, keys: k, values: v, firstPosition: p0, tokens: tokens, shape: shape,
                            into: &out, scratch: &scratch, pool: ComputePool(threads: 2))
            return out
        }
        let before = run()
        for i in ((total - 1) * shape.kvWidth)..<(total * shape.kvWidth) { k[i] += 5; v[i] -= 3 }
        let after = run()
        let earlier = (tokens - 1) * shape.queryWidth
        #expect(Array(before[0..<earlier]) == Array(after[0..<earlier]))
        #expect(Array(before[earlier...]) != Array(after[earlier...]))
    }

    @Test func poolSlicesPartitionTheWork() {
        for threads in 1...5 {
            let pool = ComputePool(threads: threads)
            #expect(pool.threads == threads)
            for count in [0, 1, 3, 8, 37, 100, 4097] {
                for granule in [1, 4, 8] {
                    var covered = [Int](repeating: 0, count: count)
                    var previousEnd = 0
                    for t in 0..<threads {
                        let r = pool.slice(t, of: count, granule: granule)
                        #expect(r.isEmpty || r.lowerBound == previousEnd, "threads \(threads) count \(count) granule \(granule): gap before thread \(t)")
                        if !r.isEmpty {
                            #expect(r.lowerBound % granule == 0)
                            previousEnd = r.upperBound
                        }
                        for i in r { covered[i] += 1 }
                    }
                    #expect(covered.allSatisfy { $0 == 1 }, "threads \(threads) count \(count) granule \(granule)")
                }
            }
        }
        #expect(ComputePool(threads: 0).threads == 1)
        // run() calls every thread index exactly once.
        let pool = ComputePool(threads: 3)
        let seen = UnsafeMutablePointer<Int>.allocate(capacity: 3)
        seen.initialize(repeating: 0, count: 3)
        defer { seen.deallocate() }
        nonisolated(unsafe) let slots = seen
        pool.run { t in slots[t] += 1 }
        #expect((0..<3).map { seen[$0] } == [1, 1, 1])
    }
}
