import Foundation
import IQuestKernels
import Testing

/// Keys and values of `positions` positions in paged blocks (table shuffled, so consecutive
/// blocks are not neighbours in memory) stored as `types`, laid out as `KVBlockPool` does:
/// per block, keys [kvHeads, blockSize, key row] then values [kvHeads, blockSize, value row].
final class PagedTestRows {
    let shape: AttentionShape
    let types: KVCacheTypes
    let blockSize: Int
    let positions: Int
    let storage: UnsafeMutableRawPointer
    let table: UnsafeMutablePointer<Int32>
    let blockStride: Int
    let keyRow: Int, valueRow: Int
    /// The stored rows decoded from their bytes by the test's own format decoder (Double).
    private(set) var keys: [[Double]] = []     // [position·kvHeads + head][headDim]
    private(set) var values: [[Double]] = []
    /// The f32 rows before encoding.
    private(set) var rawKeys: [Float] = []    // [position, kvHeads, headDim]
    private(set) var rawValues: [Float] = []

    init(shape: AttentionShape, types: KVCacheTypes, blockSize: Int, positions: Int, seed: UInt64,
         rawKeys given: [Float]? = nil, rawValues givenValues: [Float]? = nil) {
        self.shape = shape
        self.types = types
        self.blockSize = blockSize
        self.positions = positions
        let hd = shape.headDim
        keyRow = types.keys.rowBytes(headDim: hd)
        valueRow = types.values.rowBytes(headDim: hd)
        blockStride = blockSize * shape.kvHeads * (keyRow + valueRow)
        let blocks = (positions + blockSize - 1) / blockSize
        storage = .allocate(byteCount: max(1, blocks * blockStride), alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0xFF, count: max(1, blocks * blockStride))  // NaN-ish garbage
        table = .allocate(capacity: max(1, blocks))
        var rng = TestRNG(seed: seed)
        var order = Array(0..<blocks)
        for i in stride(from: blocks - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        for (index, block) in order.enumerated() { table[index] = Int32(block) }
        rawKeys = given ?? rng.floats(positions * shape.kvWidth, -2, 2)
        rawValues = givenValues ?? rng.floats(positions * shape.kvWidth, -1, 1)
        for p in 0..<positions {
            for h in 0..<shape.kvHeads {
                let k = keyPointer(p, h), v = valuePointer(p, h)
                rawKeys.withUnsafeBufferPointer { quantizeRow(types.keys.kind, $0.baseAddress! + (p * shape.kvHeads + h) * hd, count: hd, into: k) }
                rawValues.withUnsafeBufferPointer { quantizeRow(types.values.kind, $0.baseAddress! + (p * shape.kvHeads + h) * hd, count: hd, into: v) }
                keys.append(referenceDecode(types.keys.kind, Array(UnsafeRawBufferPointer(start: k, count: keyRow)), count: hd))
                values.append(referenceDecode(types.values.kind, Array(UnsafeRawBufferPointer(start: v, count: valueRow)), count: hd))
            }
        }
    }

    deinit {
        storage.deallocate()
        table.deallocate()
    }

    private func blockBase(_ p: Int) -> UnsafeMutableRawPointer { storage + Int(table[p / blockSize]) * blockStride }
    func keyPointer(_ p: Int, _ h: Int) -> UnsafeMutableRawPointer { blockBase(p) + (h * blockSize + p % blockSize) * keyRow }
    func valuePointer(_ p: Int, _ h: Int) -> UnsafeMutableRawPointer {
        blockBase(p) + blockSize * shape.kvHeads * keyRow + (h * blockSize + p % blockSize) * valueRow
    }

    var rows: KVRows {
        KVRows(keys: UnsafeRawPointer(storage), values: UnsafeRawPointer(storage + blockSize * shape.kvHeads * keyRow),
               keyKind: types.keys.kind, valueKind: types.values.kind, table: table, blockSize: blockSize,
               blockStride: blockStride, keyHeadStride: blockSize * keyRow, keyRowStride: keyRow,
               valueHeadStride: blockSize * valueRow, valueRowStride: valueRow)
    }

    /// Double-precision attention of query `q` [heads·headDim] at `position` over the decoded rows.
    func reference(_ q: ArraySlice<Float>, position: Int, keyStart: Int = 0, window: Int? = nil) -> [Double] {
        let hd = shape.headDim, group = shape.group
        let first = window.map { max(keyStart, position - $0 + 1) } ?? keyStart
        var out = [Double](repeating: 0, count: shape.queryWidth)
        let base = q.startIndex
        for h in 0..<shape.heads {
            let kvh = h / group
            var scores: [Double] = []
            for p in first...position {
                let k = keys[p * shape.kvHeads + kvh]
                var s = 0.0
                for d in 0..<hd { s += Double(q[base + h * hd + d]) * k[d] }
                scores.append(s / Double(hd).squareRoot())
            }
            let m = scores.max()!
            let w = scores.map { exp($0 - m) }
            let z = w.reduce(0, +)
            for (i, p) in (first...position).enumerated() {
                let v = values[p * shape.kvHeads + kvh]
                for d in 0..<hd { out[h * hd + d] += w[i] / z * v[d] }
            }
        }
        return out
    }
}

/// Runs `decodeAttention` for queries at `positions` (queries [n, heads·headDim]).
func runDecode(_ rows: PagedTestRows, queries: [Float], positions: [Int], window: Int? = nil, keyStart: Int = 0,
               threads: Int) -> [Float] {
    let shape = rows.shape, w = shape.queryWidth
    var out = [Float](repeating: .nan, count: positions.count * w)
    let count = decodeAttentionScratchCount(positions: positions, shape: shape, threads: threads)
    var scratch = [Float](repeating: .nan, count: count)
    queries.withUnsafeBufferPointer { q in
        out.withUnsafeMutableBufferPointer { o in
            let items = positions.enumerated().map { i, p in
                DecodeQuery(queries: q.baseAddress! + i * w, kv: rows.rows, position: p, keyStart: keyStart, window: window,
                            out: o.baseAddress! + i * w)
            }
            scratch.withUnsafeMutableBufferPointer { decodeAttention(items, shape: shape, scratch: $0.baseAddress!, pool: ComputePool(threads: threads)) }
        }
    }
    return out
}

/// Runs `promptAttention` for the chunk of `tokens` queries at p0 … (queries [tokens, heads·headDim]).
func runPrompt(_ rows: PagedTestRows, queries: ArraySlice<Float>, p0: Int, tokens: Int, window: Int? = nil, keyStart: Int = 0,
               threads: Int) -> [Float] {
    let shape = rows.shape
    var out = [Float](repeating: .nan, count: tokens * shape.queryWidth)
    var scratch = [Float](repeating: .nan, count: promptAttentionScratchCount(shape: shape, threads: threads))
    Array(queries).withUnsafeBufferPointer { q in
        promptAttention(queries: q.baseAddress!, kv: rows.rows, firstPosition: p0, tokens: tokens, shape: shape, into: &out,
                        scratch: &scratch, pool: ComputePool(threads: threads), keyStart: keyStart, window: window)
    }
    return out
}

@Suite("Attention over typed, paged KV rows")
struct KVCacheAttentionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let type: KVCacheType, heads: Int, kvHeads: Int, headDim: Int, blockSize: Int
        var testDescription: String { "\(type) \(heads)/\(kvHeads)×\(headDim) block \(blockSize)" }
    }

    static let cases: [Case] = KVCacheType.allCases.flatMap { type in
        [(4, 2, 32, 16), (9, 3, 64, 16), (10, 2, 128, 4), (5, 5, 32, 32)].map {
            Case(type: type, heads: $0.0, kvHeads: $0.1, headDim: $0.2, blockSize: $0.3)
        }
    } + [Case(type: .f16, heads: 4, kvHeads: 2, headDim: 16, blockSize: 4), Case(type: .bf16, heads: 6, kvHeads: 2, headDim: 48, blockSize: 8)]

    /// Decode (several queries, one crossing three 512-position segments) and prompt chunks (with
    /// and without a window) against Double attention over the same stored rows, decoded by
    /// the test's own format decoder: only the attention arithmetic is measured here.
    @Test(arguments: cases)
    func matchesReferenceOverStoredRows(_ c: Case) {
        let shape = AttentionShape(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim)
        let total = 1300
        let rows = PagedTestRows(shape: shape, types: KVCacheTypes(c.type), blockSize: c.blockSize, positions: total,
                                 seed: UInt64(c.headDim * 31 + c.heads))
        var rng = TestRNG(seed: 77)
        let w = shape.queryWidth
        func check(_ out: ArraySlice<Float>, _ reference: [Double], _ what: String) {
            var err = 0.0
            for (a, b) in zip(out, reference) { err = max(err, abs(Double(a) - b)) }
            #expect(err <= 4e-6, "\(c.testDescription) \(what): max error \(err)")
        }
        let positions = [0, 17, 511, 512, 1299]
        let dq = rng.floats(positions.count * w, -1.5, 1.5)
        for threads in [1, 2] {
            let out = runDecode(rows, queries: dq, positions: positions, threads: threads)
            for (i, p) in positions.enumerated() {
                check(out[(i * w)..<((i + 1) * w)], rows.reference(dq[(i * w)..<((i + 1) * w)], position: p), "decode p=\(p)")
            }
            let windowed = runDecode(rows, queries: dq, positions: positions, window: 70, threads: threads)
            for (i, p) in positions.enumerated() {
                check(windowed[(i * w)..<((i + 1) * w)], rows.reference(dq[(i * w)..<((i + 1) * w)], position: p, window: 70),
                      "decode window p=\(p)")
            }
        }
        for (p0, tokens, window, keyStart) in [(0, 40, nil, 0), (1000, 37, nil, 0), (600, 45, 33 as Int?, 568), (3, 9, 5, 0)] {
            let q = rng.floats(tokens * w, -1.5, 1.5)
            let out = runPrompt(rows, queries: q[...], p0: p0, tokens: tokens, window: window, keyStart: keyStart, threads: 2)
            for t in 0..<tokens {
                check(out[(t * w)..<((t + 1) * w)], rows.reference(q[(t * w)..<((t + 1) * w)], position: p0 + t, keyStart: keyStart, window: window),
                      "prompt p0=\(p0) t=\(t) window=\(String(describing: window))")
            }
        }
    }

    /// A decode query's output is bitwise the same alone, among other queries, and on 1, 2 or 3 threads.
    @Test(arguments: [KVCacheType.f32, .f16, .q8_0, .q4_0])
    func decodeIsBatchAndThreadInvariant(_ type: KVCacheType) {
        let shape = AttentionShape(heads: 10, kvHeads: 2, headDim: 64)
        let rows = PagedTestRows(shape: shape, types: KVCacheTypes(type), blockSize: 16, positions: 1100, seed: 5)
        var rng = TestRNG(seed: 6)
        let w = shape.queryWidth
        let q = rng.floats(4 * w)
        let positions = [1099, 40, 600, 1024]
        let together = runDecode(rows, queries: q, positions: positions, threads: 2)
        for (i, p) in positions.enumerated() {
            let mine = Array(q[(i * w)..<((i + 1) * w)])
            for threads in [1, 2, 3] {
                let alone = runDecode(rows, queries: mine, positions: [p], threads: threads)
                #expect(alone == Array(together[(i * w)..<((i + 1) * w)]), "\(type) p=\(p) threads=\(threads)")
            }
        }
    }

    /// A prompt query's output is bitwise the same whatever chunk it is computed in (the
    /// scheduler splits prompts by its token budget, the prefix cache resumes them mid-way).
    @Test(arguments: [(KVCacheType.f32, 16), (.f16, 16), (.q8_0, 4), (.q4_0, 16), (.bf16, 8)])
    func promptIsChunkInvariant(_ type: KVCacheType, _ blockSize: Int) {
        let shape = AttentionShape(heads: 9, kvHeads: 3, headDim: 64)
        let total = 300
        let rows = PagedTestRows(shape: shape, types: KVCacheTypes(type), blockSize: blockSize, positions: total, seed: 9)
        var rng = TestRNG(seed: 10)
        let w = shape.queryWidth
        let q = rng.floats(total * w)
        for window in [nil, 37] as [Int?] {
            let whole = runPrompt(rows, queries: q[...], p0: 0, tokens: total, window: window, threads: 2)
            for splits in [[1, 17, 200], [5, 100, 101, 250], [64, 128, 192]] {
                var pieces: [Float] = []
                var start = 0
                for end in splits + [total] {
                    let keyStart = window.map { max(0, start - $0 + 1) } ?? 0
                    pieces += runPrompt(rows, queries: q[(start * w)..<(end * w)], p0: start, tokens: end - start, window: window,
                                        keyStart: keyStart, threads: start % 2 + 1)
                    start = end
                }
                #expect(pieces == whole, "\(type) block \(blockSize) window \(String(describing: window)) splits \(splits)")
            }
        }
    }

    /// What each storage type costs: attention over typed rows vs over the same rows kept in f32,
    /// relative to the output's scale. Bounds follow each encoding's rounding step: f16 keeps 11
    /// significant bits (2^-11 ≈ 4.9e-4), bf16 8 (3.9e-3), q8_0 127 steps of the block maximum,
    /// q4_0 8 steps of it; the attention output inherits about that relative error (values
    /// directly, keys through the softmax, scores of |s| ≲ 3 here).
    @Test func storageErrorPerType() {
        let shape = AttentionShape(heads: 8, kvHeads: 2, headDim: 128)
        let total = 700
        let exact = PagedTestRows(shape: shape, types: .f32, blockSize: 16, positions: total, seed: 21)
        var rng = TestRNG(seed: 22)
        let q = rng.floats(3 * shape.queryWidth)
        let positions = [99, 450, 699]
        let reference = runDecode(exact, queries: q, positions: positions, threads: 2)
        let scale = reference.map { abs($0) }.max()!
        let bounds: [KVCacheType: Float] = [.f16: 2e-3, .bf16: 1.6e-2, .q8_0: 2.5e-2, .q4_0: 0.2]
        var measured: [String] = []
        for type in [KVCacheType.f16, .bf16, .q8_0, .q4_0] {
            let typed = PagedTestRows(shape: shape, types: KVCacheTypes(type), blockSize: 16, positions: total, seed: 0,
                                      rawKeys: exact.rawKeys, rawValues: exact.rawValues)
            let out = runDecode(typed, queries: q, positions: positions, threads: 2)
            let err = zip(out, reference).map { abs($0 - $1) }.max()! / scale
            measured.append("\(type) \(err)")
            #expect(err <= bounds[type]!, "\(type): relative error \(err)")
            #expect(err > 0, "\(type) stored exactly?")
        }
        print("KV storage relative attention error: " + measured.joined(separator: ", "))
    }

    @Test func typesAndRefusals() {
        #expect(KVCacheType.q8_0.rowBytes(headDim: 128) == 136 && KVCacheType.q4_0.rowBytes(headDim: 128) == 72)
        #expect(KVCacheType.f16.rowBytes(headDim: 128) == 256 && KVCacheType.f32.rowBytes(headDim: 128) == 512)
        #expect(KVCacheTypes(.q8_0).refusal(headDim: 16) != nil)
        #expect(KVCacheTypes(keys: .f16, values: .q4_0).refusal(headDim: 48) != nil)
        #expect(KVCacheTypes(.f16).refusal(headDim: 16) == nil)
        #expect(KVCacheType(name: "Q8_0") == .q8_0 && KVCacheType(name: "fp16") == .f16 && KVCacheType(name: "q5_1") == nil)
        #expect(KVCacheTypes(keys: .q8_0, values: .f16).description == "k=q8_0,v=f16")
    }
}

@Suite("Rotary angles at long positions")
struct LongRopeTests {
    /// cos/sin of p·θ^(−2i/d) for p up to 131071 against a Double evaluation written
    /// differently (θ^(−2i/d) as exp(−2i/d · ln θ)); the bound is f32 rounding of the result.
    /// The old f32 product p·inv_freq misses it by orders of magnitude at these positions.
    @Test func anglesStayExactAtLongPositions() {
        let d = 128, theta: Float = 500_000
        let rope = RotaryEmbedding(headDim: d, theta: theta, layout: .rotateHalf)
        var c = [Float](repeating: 0, count: d / 2), s = [Float](repeating: 0, count: d / 2)
        var worstF32 = 0.0
        for p in [0, 1, 4095, 65_537, 100_003, 131_071] {
            rope.angles(position: p, cos: &c, sin: &s)
            for i in 0..<(d / 2) {
                let angle = Double(p) * exp(-Double(2 * i) / Double(d) * log(Double(theta)))
                #expect(abs(Double(c[i]) - cos(angle)) <= 1.2e-7, "p=\(p) i=\(i)")
                #expect(abs(Double(s[i]) - sin(angle)) <= 1.2e-7, "p=\(p) i=\(i)")
                let f32 = Float(p) * (1 / powf(theta, Float(2 * i) / Float(d)))
                worstF32 = max(worstF32, abs(Double(cosf(f32)) - cos(angle)))
            }
        }
        #expect(worstF32 > 1e-3, "the f32 formula would have passed too (worst \(worstF32)): the test proves nothing")
    }
}
