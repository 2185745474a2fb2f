import Foundation
import IQuestFormats
import IQuestKernels
import IQuestModels
import Testing

/// The Llama forward pass on the tiny fixture models (every supported tensor type) against
/// transformers' LlamaForCausalLM in fp32 on the same (dequantized) weights.
@Suite struct TinyLlamaParityTests {
    static let tolerance = 1e-4

    @Test(arguments: tinyTypes)
    func prefillLogitsMatchTransformers(type: String) throws {
        let expected = try TinyExpected.load(type)
        let model = try loadModel(expected.ggufPath)
        #expect(model.architecture == "llama")
        #expect(model.vocabularySize == expected.config.vocab_size)
        #expect(model.contextLength == expected.config.context_length)
        var worst = 0.0
        for prompt in expected.prompts {
            #expect(prompt.logits_positions == Array(0..<prompt.ids.count))
            let cache = try model.makeCache(capacity: prompt.ids.count)
            let logits = try model.forward(prompt.ids, cache: cache, logits: .all)
            try #require(logits.rows == prompt.ids.count && logits.vocabularySize == expected.config.vocab_size)
            #expect(cache.count == prompt.ids.count)
            for p in 0..<prompt.ids.count {
                let diff = maxAbsDiff(row(logits, p), prompt.logits[p])
                worst = max(worst, diff)
                #expect(diff <= Self.tolerance, "\(type) \(prompt.name) position \(p): max |Δlogit| \(diff)")
            }
            // .last returns exactly the final row of .all.
            let last = try model.forward(prompt.ids, cache: model.makeCache(capacity: prompt.ids.count), logits: .last)
            #expect(last.rows == 1)
            #expect(maxAbsDiff(row(last, 0), row(logits, prompt.ids.count - 1)) <= 1e-5)
        }
        print("tiny \(type): max |Δlogit| vs transformers = \(worst)")
    }

    /// Feeding the prompt one token at a time, or in chunks of 3 or 7, gives the prefill logits.
    @Test(arguments: tinyTypes)
    func incrementalDecodingMatchesPrefill(type: String) throws {
        let expected = try TinyExpected.load(type)
        let model = try loadModel(expected.ggufPath)
        for prompt in expected.prompts {
            let n = prompt.ids.count
            let prefill = try model.forward(prompt.ids, cache: model.makeCache(capacity: n), logits: .all)
            for chunk in [1, 3, 7] {
                let cache = try model.makeCache(capacity: n)
                var start = 0
                while start < n {
                    let end = min(n, start + chunk)
                    let part = try model.forward(Array(prompt.ids[start..<end]), cache: cache, logits: .all)
                    try #require(part.rows == end - start)
                    #expect(cache.count == end)
                    for r in 0..<part.rows {
                        let p = start + r
                        let vsPrefill = maxAbsDiff(row(part, r), row(prefill, p))
                        let vsReference = maxAbsDiff(row(part, r), prompt.logits[p])
                        #expect(vsPrefill <= Self.tolerance, "\(type) \(prompt.name) chunk \(chunk) position \(p): vs prefill \(vsPrefill)")
                        #expect(vsReference <= Self.tolerance, "\(type) \(prompt.name) chunk \(chunk) position \(p): vs transformers \(vsReference)")
                    }
                    start = end
                }
            }
        }
    }

    /// Greedy continuation of 16 tokens equals transformers' (either of the top two where the
    /// reference's margin is below 1e-3; after such a tie the sequences may legitimately part).
    @Test(arguments: tinyTypes)
    func greedyContinuationMatchesTransformers(type: String) throws {
        let expected = try TinyExpected.load(type)
        let model = try loadModel(expected.ggufPath)
        for prompt in expected.prompts {
            let cache = try model.makeCache(capacity: prompt.ids.count + expected.n_greedy)
            var logits = try model.forward(prompt.ids, cache: cache, logits: .last)
            var generated: [Int] = []
            for step in 0..<expected.n_greedy {
                let id = argmax(logits.row(0))
                generated.append(id)
                let top2 = prompt.greedy_top2_ids[step]
                let gap = prompt.greedy_top2_logits[step][0] - prompt.greedy_top2_logits[step][1]
                if id != prompt.greedy_ids[step] {
                    let tie = gap < 1e-3 && id == top2[1]
                    #expect(tie, "\(type) \(prompt.name) step \(step): got \(id), expected \(prompt.greedy_ids[step]) (top-2 \(top2), gap \(gap)); so far \(generated)")
                    break
                }
                // The step's logits at the reference's top two agree too.
                let row = logits.row(0)
                #expect(abs(Double(row[row.startIndex + top2[0]]) - prompt.greedy_top2_logits[step][0]) <= Self.tolerance,
                        "\(type) \(prompt.name) step \(step): top-1 logit")
                #expect(abs(Double(row[row.startIndex + top2[1]]) - prompt.greedy_top2_logits[step][1]) <= Self.tolerance,
                        "\(type) \(prompt.name) step \(step): top-2 logit")
                if step + 1 < expected.n_greedy { logits = try model.forward([id], cache: cache, logits: .last) }
            }
        }
    }

    @Test(arguments: tinyTypes)
    func threadCountDoesNotChangeLogits(type: String) throws {
        let expected = try TinyExpected.load(type)
        let path = try expected.ggufPath
        let one = try loadModel(path, threads: 1)
        let two = try loadModel(path, threads: 2)
        let three = try loadModel(path, threads: 3)
        for prompt in expected.prompts {
            let n = prompt.ids.count
            let c1 = try one.makeCache(capacity: n + 1), c2 = try two.makeCache(capacity: n + 1), c3 = try three.makeCache(capacity: n + 1)
            let a = try one.forward(prompt.ids, cache: c1, logits: .all)
            let b = try two.forward(prompt.ids, cache: c2, logits: .all)
            let c = try three.forward(prompt.ids, cache: c3, logits: .all)
            #expect(maxAbsDiff(a.values.map(Double.init), b.values.map(Double.init)) <= 1e-5, "\(type) \(prompt.name) prefill 1 vs 2 threads")
            #expect(maxAbsDiff(a.values.map(Double.init), c.values.map(Double.init)) <= 1e-5, "\(type) \(prompt.name) prefill 1 vs 3 threads")
            // One decode step on top.
            let next = prompt.greedy_ids[0]
            let da = try one.forward([next], cache: c1, logits: .last)
            let db = try two.forward([next], cache: c2, logits: .last)
            #expect(maxAbsDiff(row(da, 0), row(db, 0)) <= 1e-5, "\(type) \(prompt.name) decode 1 vs 2 threads")
        }
        // The pool can also be swapped on a live model.
        one.pool = ComputePool(threads: 2)
        #expect(one.pool.threads == 2)
        let prompt = expected.prompts[2]
        let swapped = try one.forward(prompt.ids, cache: one.makeCache(capacity: prompt.ids.count), logits: .all)
        #expect(maxAbsDiff(row(swapped, prompt.ids.count - 1), prompt.logits[prompt.ids.count - 1]) <= Self.tolerance)
    }

    /// Truncating the cache forgets the tail: re-feeding from there reproduces the reference.
    @Test(arguments: ["f32", "q4_1"])
    func truncatedCacheRecomputesTheTail(type: String) throws {
        let expected = try TinyExpected.load(type)
        let model = try loadModel(expected.ggufPath)
        let prompt = expected.prompts[2]  // "long", 40 tokens
        let cache = try model.makeCache(capacity: prompt.ids.count)
        #expect(cache.capacity == prompt.ids.count)
        _ = try model.forward(prompt.ids, cache: cache, logits: .last)
        cache.truncate(to: 10)
        #expect(cache.count == 10)
        // Replace the tail with other tokens first, then truncate again and restore it.
        _ = try model.forward([1, 2, 3, 4, 5], cache: cache, logits: .last)
        cache.truncate(to: 10)
        let tail = try model.forward(Array(prompt.ids[10...]), cache: cache, logits: .all)
        for r in 0..<tail.rows {
            let diff = maxAbsDiff(row(tail, r), prompt.logits[10 + r])
            #expect(diff <= Self.tolerance, "\(type) position \(10 + r) after truncate: \(diff)")
        }
    }
}
