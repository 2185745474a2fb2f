import Foundation
import IQuestKernels
import IQuestModels
import Testing

/// tools/gen_long_context.py's float64 reference: 16,384-token prompts on tiny checkpoints with
/// the full 131072-token context, logits at 4 positions, rotary positions offset by 0 or 114688.
struct LongContextExpected: Decodable {
    struct Case: Decodable {
        let model: String
        let offset: Int
        let positions: [Int]
        let logits: [[Double]]
    }
    let prompt_ids: [Int]
    let window: Int
    let cases: [Case]

    static func load() throws -> LongContextExpected {
        let data = try Data(contentsOf: URL(fileURLWithPath: try Fixtures.path("long-context/expected.json")))
        return try JSONDecoder().decode(LongContextExpected.self, from: data)
    }
}

func longContextModel(_ name: String, threads: Int = 2) throws -> any LanguageModel {
    try ModelRegistry.load(directory: Fixtures.path("long-context/\(name)"), pool: ComputePool(threads: threads))
}

/// KL(p ‖ q) of the softmaxes of two logit rows.
func klDivergence(_ reference: [Double], _ other: [Double]) -> Double {
    func logSoftmax(_ x: [Double]) -> [Double] {
        let m = x.max()!
        let z = log(x.map { exp($0 - m) }.reduce(0, +)) + m
        return x.map { $0 - z }
    }
    let lp = logSoftmax(reference), lq = logSoftmax(other)
    return zip(lp, lq).reduce(0) { $0 + exp($1.0) * ($1.0 - $1.1) }
}

@Suite("Long context: 16K-token prompts and positions past 100,000 against the float64 reference")
struct LongContextParityTests {
    /// Logits at the probe positions: the prompt runs in chunks ending at each probe.
    static func probeLogits(_ model: any LanguageModel, _ expected: LongContextExpected, _ c: LongContextExpected.Case,
                            types: KVCacheTypes) throws -> [[Double]] {
        model.rotaryPositionOffset = c.offset
        defer { model.rotaryPositionOffset = 0 }
        let cache = try model.makeCache(capacity: expected.prompt_ids.count, types: types)
        var rows: [[Double]] = []
        var start = 0
        for probe in c.positions {
            let logits = try model.forward(Array(expected.prompt_ids[start...probe]), cache: cache, logits: .last)
            rows.append(row(logits, 0))
            start = probe + 1
        }
        return rows
    }

    /// f32 keys/values at every probe, offsets 0 and 114688 (last position 131071), dense and
    /// Loop. The bound is f32 accumulation over 16K keys on this fixture, whose attention is
    /// deliberately peaked (q/k weights scaled 0.35: scores of std ≈ 16) so that positions matter:
    /// measured max |Δlogit| 4e-5 … 1.24e-3 on logits of std 3.5 (KL ≤ 2.6e-8), the same at
    /// offset 0 and 114688. An angle p·θ^(−2i/d) computed in f32 is off by up to ~8e-3 rad near
    /// p = 131071, which moves these scores by ~0.1 and the logits far past the bound.
    @Test(arguments: ["dense", "loop"])
    func exactStorageMatchesReference(model name: String) throws {
        let expected = try LongContextExpected.load()
        let model = try longContextModel(name)
        var report: [String] = []
        for c in expected.cases where c.model == name {
            let ours = try Self.probeLogits(model, expected, c, types: .f32)
            for (i, position) in c.positions.enumerated() {
                let err = maxAbsDiff(ours[i], c.logits[i])
                report.append(String(format: "+%d@%d %.2e (KL %.1e)", c.offset, position, err, klDivergence(c.logits[i], ours[i])))
                #expect(err <= 3e-3, "\(name) offset \(c.offset) position \(position): max |Δlogit| \(err)")
                #expect(klDivergence(c.logits[i], ours[i]) <= 1e-7, "\(name) offset \(c.offset) position \(position)")
            }
        }
        print("\(name) f32 KV max |Δlogit| vs float64 reference: " + report.joined(separator: ", "))
    }

    /// Each other storage type, at the longest positions (dense offset 114688, Loop offset 0 and
    /// 114688): next-token KL against the reference. This fixture's peaked attention (scores of
    /// std ≈ 16) magnifies a key's rounding far more than a trained model's does: measured worst
    /// f16 2.2e-3, bf16 9.3e-2, q8_0 0.42, q4_0 3.2 nats, where SmolLM2 gives 2.3e-5, 2.5e-4,
    /// 7e-3 and 2.2 (SmolLM2KVCacheTypeTests). The bounds are the measured worst ×2–3; every type
    /// is also held to a quarter of the KL between the reference and an unrelated logit row (the
    /// reference at another probe), so a type whose stored rows were garbled would fail.
    @Test(arguments: [KVCacheType.f16, .bf16, .q8_0, .q4_0])
    func typedStorageStaysClose(type: KVCacheType) throws {
        let bounds: [KVCacheType: Double] = [.f16: 5e-3, .bf16: 0.25, .q8_0: 1.0, .q4_0: 8.0]
        let expected = try LongContextExpected.load()
        var report: [String] = []
        var sum = 0.0, unrelated = 0.0, count = 0
        for c in expected.cases where c.model == "loop" || c.offset > 0 {
            let model = try longContextModel(c.model)
            let ours = try Self.probeLogits(model, expected, c, types: KVCacheTypes(type))
            for (i, position) in c.positions.enumerated() {
                let kl = klDivergence(c.logits[i], ours[i])
                report.append(String(format: "%@+%d@%d %.2e", c.model, c.offset, position, kl))
                #expect(kl <= bounds[type]!, "\(type) \(c.model) offset \(c.offset) position \(position): KL \(kl)")
                #expect(kl.isFinite)
                sum += kl
                unrelated += klDivergence(c.logits[i], c.logits[(i + 1) % c.logits.count])
                count += 1
            }
        }
        #expect(sum < unrelated / 4, "\(type): mean KL \(sum / Double(count)) vs unrelated rows \(unrelated / Double(count))")
        print("KV \(type) next-token KL vs float64 reference (mean \(sum / Double(count)), unrelated rows \(unrelated / Double(count))): "
              + report.joined(separator: ", "))
    }
}

@Suite("KV storage types: prefill, decode and chunks agree; the Loop window edge holds")
struct KVCacheTypeModelTests {
    static let prompt = Array(0..<150).map { ($0 * 37 + 11) % 990 }

    /// Largest KL(prefill ‖ token by token) per type at any of the 150 positions. The two runs
    /// compute each key/value row with a different f32 rounding (GEMM vs decode products); the
    /// store then rounds it to the type, which can turn a one-ulp difference into one step of the
    /// type. So they agree within the type's step, not f32's, and this fixture's peaked attention
    /// (scores with std ≈ 16) magnifies it. Measured: f32 1.5e-9, f16 1.4e-5, bf16 5.7e-4,
    /// q8_0 1.9e-4, q4_0 9.7e-4; the bounds are those ×5 or more.
    static let stepBounds: [KVCacheType: Double] = [.f32: 1e-7, .f16: 1e-4, .bf16: 3e-3, .q8_0: 1e-3, .q4_0: 5e-3]

    /// Prefill in one call vs token by token vs chunks of 7, per type: the same stored rows are
    /// read through the prompt kernel or the decode kernel. Chunks agree to f32 rounding (max
    /// |Δlogit| measured 1.6e-4 on logits of std 3.5), token by token within `stepBounds`.
    @Test(arguments: KVCacheType.allCases)
    func prefillDecodeAndChunksAgree(type: KVCacheType) throws {
        for name in ["dense", "loop"] {
            let model = try longContextModel(name)
            let types = KVCacheTypes(type)
            let whole = try model.forward(Self.prompt, cache: model.makeCache(capacity: 200, types: types), logits: .all)
            let stepCache = try model.makeCache(capacity: 200, types: types)
            let chunkCache = try model.makeCache(capacity: 200, types: types)
            var step: [[Double]] = [], chunked: [[Double]] = []
            for token in Self.prompt { step.append(row(try model.forward([token], cache: stepCache, logits: .last), 0)) }
            var start = 0
            while start < Self.prompt.count {
                let end = min(Self.prompt.count, start + 7)
                let logits = try model.forward(Array(Self.prompt[start..<end]), cache: chunkCache, logits: .all)
                for r in 0..<(end - start) { chunked.append(row(logits, r)) }
                start = end
            }
            var worstChunk = 0.0, worstStepKL = 0.0
            for p in 0..<Self.prompt.count {
                let chunkDiff = maxAbsDiff(row(whole, p), chunked[p]), stepKL = klDivergence(row(whole, p), step[p])
                worstChunk = max(worstChunk, chunkDiff)
                worstStepKL = max(worstStepKL, stepKL)
                #expect(chunkDiff <= 5e-4, "\(name) \(type) position \(p): prefill vs chunks")
                #expect(stepKL <= Self.stepBounds[type]!, "\(name) \(type) position \(p): prefill vs decode, KL \(stepKL)")
            }
            print("\(name) KV \(type): prefill vs chunks of 7 max |Δlogit| \(worstChunk), vs token by token KL max \(worstStepKL)")
        }
    }

    /// Pass-2 rows older than the window change nothing (exactly), rows inside it do, whatever
    /// the storage type (window 64: decoding position 100 reads 37 … 100). Keys are shifted by
    /// +4 or −4 in every element (measured: one of the two moves the logits by 0.1–0.5 at the
    /// edge in every type), values by −0.5.
    @Test(arguments: KVCacheType.allCases)
    func loopWindowEdgePerType(type: KVCacheType) throws {
        let model = try longContextModel("loop")
        func lastLogits(perturbing position: Int?, keyDelta: Float = 0) throws -> [Double] {
            let cache = try #require(try model.makeCache(capacity: 128, types: KVCacheTypes(type)) as? PagedSequenceCache)
            _ = try model.forward(Array(Self.prompt[0..<100]), cache: cache, logits: .last)
            if let position {
                for layer in 0..<model.kvLayout.layers {
                    for head in 0..<cache.layout.kvHeads {
                        #expect(cache.shiftLocalRows(layer: layer, position: position, head: head, keyDelta: keyDelta, valueDelta: -0.5))
                    }
                }
            }
            return row(try model.forward([Self.prompt[100]], cache: cache, logits: .last), 0)
        }
        let clean = try lastLogits(perturbing: nil)
        for delta: Float in [4, -4] {
            // Position 36 shares block 2 (32 … 47) with positions the query still reads.
            #expect(maxAbsDiff(try lastLogits(perturbing: 36, keyDelta: delta), clean) == 0, "\(type)")
        }
        // The window's first and last positions. (A middle one may carry no weight at all for
        // this query: the fixture's attention is peaked, and position 60 gets ~exp(−100).)
        for inside in [37, 99] {
            let moved = try [Float(4), -4].map { maxAbsDiff(try lastLogits(perturbing: inside, keyDelta: $0), clean) }.max() ?? 0
            #expect(moved > 1e-3, "\(type) position \(inside)")
        }
    }

    /// q8_0 and q4_0 need heads of whole 32-element blocks: a model with 16 is refused by name.
    @Test func blockTypesRefuseSmallHeads() throws {
        let model = try ModelRegistry.load(directory: Fixtures.path("tiny-iquest/dense"), pool: ComputePool(threads: 1))
        #expect(throws: ModelError.self) { try model.makeCache(capacity: 8, types: KVCacheTypes(.q8_0)) }
        _ = try model.makeCache(capacity: 8, types: KVCacheTypes(.f16))
    }
}

@Suite("bench --synthetic-fill: a cache filled to a depth without running the model")
struct SyntheticFillTests {
    /// The fill makes the cache hold the depth (count, pass-2 blocks for exactly the next
    /// query's window), and what follows attends over the filled rows: the next token's logits
    /// differ from those after an empty cache, and are the same for two fills of one seed.
    @Test(arguments: ["dense", "loop"])
    func fillHoldsTheDepth(model name: String) throws {
        let model = try longContextModel(name)
        func decodeAfterFill(_ depth: Int) throws -> (PagedSequenceCache, [Double]) {
            let cache = try #require(try model.makeCache(capacity: 400, types: KVCacheTypes(.q8_0)) as? PagedSequenceCache)
            try cache.fillSynthetic(length: depth)
            #expect(cache.count == depth)
            return (cache, row(try model.forward([5], cache: cache, logits: .last), 0))
        }
        let (cache, filled) = try decodeAfterFill(300)
        let (_, again) = try decodeAfterFill(300)
        let (_, empty) = try decodeAfterFill(0)
        #expect(filled == again)
        #expect(maxAbsDiff(filled, empty) > 1e-3)
        let finite = filled.allSatisfy { $0.isFinite }
        #expect(finite)
        if let window = model.kvLayout.localWindow {
            // After the step at position 300 the window is 237 … 300: blocks 14 … 18 held, 13 not.
            #expect(window == 64)
            #expect(cache.heldLocalBlocks == 5)
            #expect(cache.shiftLocalRows(layer: 0, position: 237, head: 0, keyDelta: 0, valueDelta: 0))
            #expect(!cache.shiftLocalRows(layer: 0, position: 223, head: 0, keyDelta: 0, valueDelta: 0))
        }
        #expect(throws: ModelError.self) { try cache.fillSynthetic(length: 401) }
    }
}
