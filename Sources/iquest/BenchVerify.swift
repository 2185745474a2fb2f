import Foundation
import IQuestEngine
import IQuestModels

/// `bench --verify-rows`: the cost of one forward that scores k consecutive decode rows of one
/// sequence (a speculative step verifying k − 1 drafts), T(k), against T(1). Each timed forward
/// keeps its first row and truncates the rest, so the sequence advances one position per
/// forward as a step whose drafts are all rejected does.
func measureVerifyCurve(_ model: any LanguageModel, cache: PagedSequenceCache, rows: [Int], steps: Int, repetitions: Int,
                        reset: () throws -> Void) throws -> [(rows: Int, seconds: Double)] {
    let vocab = model.vocabularySize
    // Repetitions go round all k in turn rather than one k after another, so a machine whose
    // load changes during the run slows every k alike and the ratios stay meaningful.
    var perForward = [[Double]](repeating: [], count: rows.count)
    for _ in 0..<repetitions {
        for (i, k) in rows.enumerated() {
            try reset()
            let start = Date()
            for step in 0..<steps {
                let tokens = (0..<k).map { ((cache.count + $0) * 7919 + 13 + step) % vocab }
                _ = try model.forwardDecodeRows(tokens, cache: cache)
                cache.truncate(to: cache.count - k + 1)
            }
            perForward[i].append(Date().timeIntervalSince(start) / Double(steps))
        }
    }
    return zip(rows, perForward).map { k, times in (k, times.sorted()[times.count / 2]) }
}

/// Prints the curve as a table, with the speedup it implies for a per-token acceptance rate α:
/// k − 1 drafts yield (1 − α^k) / (1 − α) tokens per forward of cost T(k).
func printVerifyCurve(_ curve: [(rows: Int, seconds: Double)], label: String) {
    guard let one = curve.first(where: { $0.rows == 1 })?.seconds ?? curve.first?.seconds else { return }
    print("verify rows\(label): one sequence, k decode rows per forward (median of repetitions)")
    print("| k | ms/forward | T(k)/T(1) | speedup @ α=0.6 | speedup @ α=0.8 |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for (k, seconds) in curve {
        let ratio = seconds / one
        func speedup(_ a: Double) -> Double { (1 - pow(a, Double(k))) / (1 - a) / ratio }
        print(String(format: "| %d | %.2f | %.3f | %.2f× | %.2f× |", k, seconds * 1000, ratio, speedup(0.6), speedup(0.8)))
    }
}
