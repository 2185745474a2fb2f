import Foundation
import IQuestEngine
import IQuestModels

/// `bench --parallel N`: aggregate decode speed of N sequences stepping together, the way the
/// server's scheduler runs them: each step is one forward over every sequence's next token
/// (decode rows), keys/values in one shared block pool. Each sequence starts from its own
/// 16-token prompt (prefilled together first, not timed).
extension Bench {
    func measureParallel(_ model: any LanguageModel, name: String, streams: [Int]) throws {
        let vocab = model.vocabularySize
        let promptLength = 16
        print("| model | threads | streams | test | aggregate t/s | median | per stream | vs 1 stream |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        var single: Double?
        for n in streams {
            let positions = promptLength + nGen + 1
            let blockSize = KVBlockPool.defaultBlockSize
            let perSequence = (positions + blockSize - 1) / blockSize
            let windowed = model.kvLayout.localWindow != nil
            let kv = KVBlockPool(layout: model.kvLayout, blockCount: n * perSequence * (windowed ? 2 : 1), blockSize: blockSize)
            func table(_ s: Int, local: Bool) -> [Int32] {
                let base = (local ? n * perSequence : 0) + s * perSequence
                return (base..<(base + perSequence)).map { Int32($0) }
            }
            var rates: [Double] = []
            for _ in 0..<repetitions {
                let prompts = (0..<n).map { s in (0..<promptLength).map { ($0 * 7919 + s * 104_729 + 13) % vocab } }
                let prefill = (0..<n).map { s in
                    BatchEntry(tokens: prompts[s], position: 0, blocks: table(s, local: false),
                               localBlocks: windowed ? table(s, local: true) : [], phase: .prompt, logits: .last)
                }
                var next = try model.forward(batch: prefill, kv: kv).map { argmax($0?.values ?? [0]) }
                let start = Date()
                for step in 0..<nGen {
                    let batch = (0..<n).map { s in
                        BatchEntry(tokens: [next[s]], position: promptLength + step, blocks: table(s, local: false),
                                   localBlocks: windowed ? table(s, local: true) : [], phase: .decode, logits: .last)
                    }
                    next = try model.forward(batch: batch, kv: kv).map { argmax($0?.values ?? [0]) }
                }
                rates.append(Double(n * nGen) / Date().timeIntervalSince(start))
            }
            let mean = rates.reduce(0, +) / Double(rates.count)
            let median = rates.sorted()[rates.count / 2]
            if n == 1 { single = median }
            print(String(format: "| %@ | %d | %d | tg%d | %.2f | %.2f | %.2f | %@ |", name, model.pool.threads, n, nGen, mean, median,
                         median / Double(n), single.map { String(format: "%.2f×", median / $0) } ?? "–"))
        }
    }
}
