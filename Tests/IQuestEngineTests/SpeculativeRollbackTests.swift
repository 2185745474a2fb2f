import Foundation
import IQuestEngine
import IQuestModels
import Testing

/// Bit patterns of a logits row, for exact comparison.
private func bits(_ row: ArraySlice<Float>) -> [UInt32] { row.map(\.bitPattern) }

private func argmaxId(_ row: ArraySlice<Float>) -> Int {
    var best = row.startIndex
    for i in row.indices where row[i] > row[best] { best = i }
    return best - row.startIndex
}

@Suite("Speculative verification rows and rollback")
struct SpeculativeRollbackTests {
    /// Plain greedy decoding: the logits after each fed token, one forward per token.
    private func plainRun(_ model: any LanguageModel, prompt: [Int], steps: Int) throws -> (ids: [Int], logits: [[UInt32]]) {
        let cache = try model.makeCache(capacity: 256)
        var current = try model.forward(prompt, cache: cache, logits: .last)
        var ids: [Int] = [], rows: [[UInt32]] = []
        for _ in 0..<steps {
            let token = argmaxId(current.row(0))
            ids.append(token)
            current = try model.forward([token], cache: cache, logits: .last)
            rows.append(bits(current.row(0)))
        }
        return (ids, rows)
    }

    /// Feeds the plain run's tokens again, but each step as a verification: the true next
    /// tokens for the first `good` drafts, then wrong ones; after truncating the rejected rows
    /// every row must be bitwise the plain run's, and the windowed pass must hold exactly the
    /// blocks a plain run holds.
    private func checkRollback(_ loaded: LoadedModel, prompt: [Int], steps: Int) throws {
        let model = loaded.model
        let plain = try plainRun(model, prompt: prompt, steps: steps + 10)
        let cache = try #require(try model.makeCache(capacity: 256) as? PagedSequenceCache)
        let reference = try #require(try model.makeCache(capacity: 256) as? PagedSequenceCache)
        _ = try model.forward(prompt, cache: cache, logits: .last)
        _ = try model.forward(prompt, cache: reference, logits: .last)
        var done = 0, step = 0, rejections = 0
        while done < steps {
            let drafts = 1 + step % 6, good = (step * 5) % (drafts + 1)
            step += 1
            // Fed token = plain.ids[done]; drafts: the next `good` true ids, then wrong ones.
            var fed = [plain.ids[done]]
            for i in 0..<drafts {
                let truth = plain.ids[done + 1 + i]
                fed.append(i < good ? truth : (truth + 1 + i) % model.vocabularySize)
            }
            let start = cache.count
            let logits = try model.forwardDecodeRows(fed, cache: cache)
            #expect(logits.rows == drafts + 1)
            // Row i is valid while every token before it was the true one.
            for i in 0...good {
                #expect(bits(logits.row(i)) == plain.logits[done + i], "step \(step) row \(i)")
            }
            cache.truncate(to: start + 1 + good)
            if good < drafts { rejections += 1 }
            for token in fed.prefix(good + 1) { _ = try model.forward([token], cache: reference, logits: .last) }
            #expect(cache.count == reference.count)
            #expect(cache.localBlocks.map { $0 >= 0 } == reference.localBlocks.map { $0 >= 0 }, "step \(step): window blocks differ")
            done += good + 1
        }
        #expect(rejections > steps / 4)
        // The next plain step after all that is bitwise the plain run's.
        let next = try model.forward([plain.ids[done]], cache: cache, logits: .last)
        #expect(bits(next.row(0)) == plain.logits[done])
    }

    @Test("after rejections the next logits equal a plain run's, dense")
    func denseRollback() throws {
        let loaded = try SchedulerFixtures.tiny()
        try checkRollback(loaded, prompt: [1, 5, 9, 13, 2, 7, 3], steps: 40)
    }

    /// The tiny Loop checkpoint has a window of 4 and 16-position blocks: 40 steps cross several
    /// window edges and block boundaries, with rejections at every offset within a block.
    @Test("after rejections the next logits equal a plain run's, Loop window crossing blocks")
    func loopRollback() throws {
        let loaded = try SchedulerFixtures.loop()
        try checkRollback(loaded, prompt: [1, 5, 9, 13, 2, 7, 3], steps: 60)
    }

    /// The window-edge property under speculation: a pass-2 entry just outside the last
    /// verified row's window does not matter, one inside it does — after a rollback as before.
    @Test("Loop window edge holds under speculation")
    func loopWindowEdge() throws {
        let model = try SchedulerFixtures.loop().model
        let loop = try #require(model as? LoopCoderModel)
        let prompt = [1, 5, 9, 13, 2, 7, 3, 8, 4, 6]
        func logits(perturbing position: Int?) throws -> [Float] {
            let cache = try #require(try model.makeCache(capacity: 64) as? PagedSequenceCache)
            _ = try model.forward(prompt, cache: cache, logits: .last)
            // Verify 11 then drafts 12, 13, 14; keep only 11 (position 10) and 12 (position 11).
            _ = try model.forwardDecodeRows([11, 12, 13, 14], cache: cache)
            cache.truncate(to: 12)
            if let position {
                for layer in 0..<loop.config.layers {
                    for head in 0..<cache.layout.kvHeads {
                        #expect(cache.shiftLocalRows(layer: layer, position: position, head: head, keyDelta: 0.5, valueDelta: -0.5))
                    }
                }
            }
            return Array(try model.forward([15], cache: cache, logits: .last).row(0))
        }
        let clean = try logits(perturbing: nil)
        // The query at 12 reads pass-2 entries 12 − W + 1 … 12 = 9 … 12 (W = 4); 8 shares their block.
        #expect(loop.window == 4)
        #expect(try logits(perturbing: 8).map(\.bitPattern) == clean.map(\.bitPattern))
        for inside in 9...11 {
            let moved = try logits(perturbing: inside)
            #expect(zip(moved, clean).map { abs($0 - $1) }.max() ?? 0 > 0.001, "position \(inside)")
        }
    }
}
