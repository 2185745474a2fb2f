import Foundation
import IQuestFormats
import IQuestKernels
import IQuestModels
import Testing

/// `forward(batch:kv:)` against itself in the situations the scheduler creates: a sequence that
/// starts from another's blocks (prefix cache) must get exactly the logits of a cold run, and a
/// sequence's logits must not depend on the others in its step. Exact bit equality, every
/// vocabulary entry of every row.
@Suite("Paged forward: shared blocks and batching")
struct PagedForwardTests {
    static func models() throws -> [(String, any LanguageModel)] {
        [("tiny f32", try loadModel(Fixtures.path("tiny-llama/tiny-f32.gguf"), activations: .standard)),
         ("tiny q8_0", try loadModel(Fixtures.path("tiny-llama/tiny-q8_0.gguf"), activations: .standard)),
         ("loop", try ModelRegistry.load(directory: Fixtures.path("tiny-loop/hf"), pool: ComputePool(threads: 2), activations: .standard))]
    }

    /// Tables of consecutive block ids starting at `first` (global and, for Loop, local ones after them).
    static func tables(_ model: any LanguageModel, first: Int, blocks: Int) -> (global: [Int32], local: [Int32]) {
        let global = (first..<(first + blocks)).map { Int32($0) }
        let local = model.kvLayout.localWindow == nil ? [] : global.map { $0 + 100 }
        return (global, local)
    }

    @Test func sharedPrefixBlocksGiveColdLogits() throws {
        for (name, model) in try Self.models() {
            let kv = KVBlockPool(layout: model.kvLayout, blockCount: 200, blockSize: 4)
            let vocabulary = model.vocabularySize
            let first = Array(0..<40).map { ($0 * 7 + 3) % vocabulary }
            let second = Array(first[0..<36]) + [5, 6, 7]
            // A: the first prompt in two chunks, blocks 0…9 (positions 0…39).
            let a = Self.tables(model, first: 0, blocks: 10)
            _ = try model.forward(batch: [BatchEntry(tokens: Array(first[0..<24]), position: 0, blocks: a.global, localBlocks: a.local,
                                                     phase: .prompt, logits: nil)], kv: kv)
            _ = try model.forward(batch: [BatchEntry(tokens: Array(first[24...]), position: 24, blocks: a.global, localBlocks: a.local,
                                                     phase: .prompt, logits: .last)], kv: kv)
            // Cold: the second prompt from scratch in blocks 20…29.
            let c = Self.tables(model, first: 20, blocks: 10)
            let cold = try #require(try model.forward(batch: [BatchEntry(tokens: second, position: 0, blocks: c.global, localBlocks: c.local,
                                                                         phase: .prompt, logits: .all)], kv: kv).first ?? nil)
            // Warm: A's blocks 0…8 (positions 0…35, the shared prefix) then a fresh block for 36…38.
            var warmGlobal = Array(a.global[0..<9]) + [40]
            var warmLocal = a.local.isEmpty ? [] : Array(a.local[0..<9]) + [140]
            let warm = try #require(try model.forward(batch: [BatchEntry(tokens: Array(second[36...]), position: 36, blocks: warmGlobal,
                                                                         localBlocks: warmLocal, phase: .prompt, logits: .all)], kv: kv).first ?? nil)
            for r in 0..<3 {
                #expect(warm.row(r).map(\.bitPattern) == cold.row(36 + r).map(\.bitPattern), "\(name) position \(36 + r)")
            }
            // Decoding on from both gives the same logits too.
            warmGlobal += [41]
            if !warmLocal.isEmpty { warmLocal += [141] }
            let nextWarm = try #require(try model.forward(batch: [BatchEntry(tokens: [9], position: 39, blocks: warmGlobal, localBlocks: warmLocal,
                                                                             phase: .decode, logits: .last)], kv: kv).first ?? nil)
            let nextCold = try #require(try model.forward(batch: [BatchEntry(tokens: [9], position: 39, blocks: c.global, localBlocks: c.local,
                                                                             phase: .decode, logits: .last)], kv: kv).first ?? nil)
            #expect(nextWarm.values.map(\.bitPattern) == nextCold.values.map(\.bitPattern), "\(name) decode after the shared prefix")
        }
    }

    @Test func logitsDoNotDependOnTheRestOfTheStep() throws {
        for (name, model) in try Self.models() {
            let vocabulary = model.vocabularySize
            let prompts = (0..<5).map { s in (0..<(3 + 7 * s)).map { ($0 * 11 + s * 29 + 1) % vocabulary } }
            func run(together: Bool) throws -> [[UInt32]] {
                let kv = KVBlockPool(layout: model.kvLayout, blockCount: 400, blockSize: 4)
                let t = (0..<5).map { Self.tables(model, first: $0 * 12, blocks: 12) }
                func prefill(_ s: Int) -> BatchEntry {
                    BatchEntry(tokens: prompts[s], position: 0, blocks: t[s].global, localBlocks: t[s].local, phase: .prompt, logits: .last)
                }
                func decode(_ s: Int, _ step: Int) -> BatchEntry {
                    BatchEntry(tokens: [(step * 13 + s) % vocabulary], position: prompts[s].count + step, blocks: t[s].global,
                               localBlocks: t[s].local, phase: .decode, logits: .last)
                }
                var out: [[UInt32]] = Array(repeating: [], count: 5)
                if together {
                    // Prompts and decode rows mixed in the same steps.
                    for (s, logits) in try model.forward(batch: [prefill(0), prefill(1)], kv: kv).enumerated() {
                        out[s] += logits?.values.map(\.bitPattern) ?? []
                    }
                    let mixed = try model.forward(batch: [decode(0, 0), prefill(2), decode(1, 0), prefill(3), prefill(4)], kv: kv)
                    for (s, index) in [0, 2, 1, 3, 4].enumerated() { out[index] += mixed[s]?.values.map(\.bitPattern) ?? [] }
                    let all = try model.forward(batch: [decode(0, 1), decode(1, 1), decode(2, 0), decode(3, 0), decode(4, 0)], kv: kv)
                    for (s, logits) in all.enumerated() { out[s] += logits?.values.map(\.bitPattern) ?? [] }
                } else {
                    for s in 0..<5 {
                        out[s] += try model.forward(batch: [prefill(s)], kv: kv)[0]?.values.map(\.bitPattern) ?? []
                        let steps = s < 2 ? 2 : 1
                        for step in 0..<steps { out[s] += try model.forward(batch: [decode(s, step)], kv: kv)[0]?.values.map(\.bitPattern) ?? [] }
                    }
                }
                return out
            }
            let alone = try run(together: false)
            let together = try run(together: true)
            for s in 0..<5 { #expect(alone[s] == together[s], "\(name) sequence \(s)") }
        }
    }

    @Test func tablesThatDoNotCoverTheStepAreRefused() throws {
        for (name, model) in try Self.models() {
            let kv = KVBlockPool(layout: model.kvLayout, blockCount: 8, blockSize: 4)
            let local: [Int32] = model.kvLayout.localWindow == nil ? [] : [4, 5]
            // 9 tokens need 3 blocks; 2 given.
            #expect(throws: (any Error).self, "\(name)") {
                try model.forward(batch: [BatchEntry(tokens: Array(1...9), position: 0, blocks: [0, 1], localBlocks: local + [6],
                                                     phase: .prompt, logits: .last)], kv: kv)
            }
            // A block id outside the pool.
            #expect(throws: (any Error).self, "\(name)") {
                try model.forward(batch: [BatchEntry(tokens: [1, 2], position: 0, blocks: [99], localBlocks: local, phase: .prompt, logits: .last)], kv: kv)
            }
            // A pool of another layout.
            let other = KVBlockPool(layout: KVLayout(layers: 1, kvWidth: 8), blockCount: 8, blockSize: 4)
            #expect(throws: (any Error).self, "\(name)") {
                try model.forward(batch: [BatchEntry(tokens: [1], position: 0, blocks: [0], localBlocks: local, phase: .decode, logits: .last)], kv: other)
            }
        }
    }
}
