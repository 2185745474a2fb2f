import Foundation
import IQuestEngine
import IQuestKernels
import IQuestModels
import Testing

/// A stand-in model whose next-token logits depend only on the token fed: row = table[token]
/// (ids ≥ the table's size give the last row). Masked ids get −∞ in every row, as a grammar mask
/// would leave them. Forward is a table lookup, so 10⁵ seeded generations take seconds.
final class TableModel: LanguageModel {
    let vocabularySize: Int
    let contextLength = 4096
    let architecture = "table"
    let table: [[Float]]
    var pool = ComputePool(threads: 1)
    let activationPrecision = ActivationPrecision.exact
    var rotaryPositionOffset = 0

    init(table: [[Float]]) {
        self.table = table
        vocabularySize = table[0].count
    }

    var kvLayout: KVLayout { KVLayout(layers: 1, kvWidth: 4, kvHeads: 1) }

    func forward(batch: [BatchEntry], kv: KVBlockPool) throws -> [Logits?] {
        batch.map { entry in
            guard let selection = entry.logits else { return nil }
            let tokens = selection == .all ? entry.tokens : [entry.tokens[entry.tokens.count - 1]]
            return Logits(rows: tokens.count, vocabularySize: vocabularySize,
                          values: tokens.flatMap { table[min($0, table.count - 1)] })
        }
    }
}

@Suite("Speculative decoding: sampled output keeps the target distribution")
struct SpeculativeDistributionTests {
    static let vocabulary = 10
    static let masked: Set<Int> = [2, 7]

    /// Row t: a distinct, fairly flat distribution per fed token, masked ids at −∞.
    static func table() -> [[Float]] {
        (0..<vocabulary).map { t in
            (0..<vocabulary).map { id in
                masked.contains(id) ? -Float.infinity : Float(sin(Double(t * 13 + id * 7)) * 1.5)
            }
        }
    }

    static let sampling = SamplingParameters(temperature: 0.7, topK: 0, topP: 0.9, minP: 0)

    /// The target distribution after fed token `t`, from the definition: masked ids out, top-p
    /// over the untempered softmax (smallest best-first prefix reaching 0.9), then temperature.
    static func target(after t: Int) -> [Double] {
        let row = table()[t].map(Double.init)
        let order = (0..<vocabulary).filter { row[$0].isFinite }.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
        let m = row[order[0]]
        let z = order.reduce(0) { $0 + exp(row[$1] - m) }
        var kept: [Int] = [], cum = 0.0
        for id in order {
            kept.append(id)
            cum += exp(row[id] - m) / z
            if cum >= 0.9 { break }
        }
        var p = [Double](repeating: 0, count: vocabulary)
        for id in kept { p[id] = exp((row[id] - m) / 0.7) }
        let total = p.reduce(0, +)
        return p.map { $0 / total }
    }

    enum DraftKind: String, CaseIterable {
        /// Always the same token (a masked one, never acceptable).
        case deterministicMasked
        /// Always the target's most likely token after the last one.
        case deterministicLikely
        /// Uniform over the vocabulary (its own generator).
        case uniform
        /// The least likely surviving token after the last one, then more of the same.
        case adversarial
    }

    /// 10⁵ seeded generations of 2 tokens from fed token 3 with drafts of `kind`: the first
    /// token's frequencies pass a chi-square test against the target (bound 40 for ≤ 7 degrees of
    /// freedom: p < 1e-5 under the null), the pair's total-variation distance from the target
    /// joint is ≤ 0.01, and every run emits exactly what plain decoding with its seed emits.
    @Test(arguments: DraftKind.allCases)
    func firstTokensFollowTheTarget(kind: DraftKind) throws {
        let loaded = try SchedulerFixtures.tiny()
        let table = Self.table()
        loaded.model = TableModel(table: table)
        var generator = Generator(loaded: loaded, contextLength: 64)
        var draftRandom = SystemRandomNumberGenerator()
        let targets = (0..<Self.vocabulary).map { Self.target(after: $0) }
        generator.drafter = { tokens, count in
            let last = tokens[tokens.count - 1]
            switch kind {
            case .deterministicMasked: return Array(repeating: 7, count: count)
            case .deterministicLikely:
                var out: [Int] = [], t = last
                for _ in 0..<count {
                    t = targets[t].indices.max { targets[t][$0] < targets[t][$1] } ?? 0
                    out.append(t)
                }
                return out
            case .uniform: return (0..<count).map { _ in Int.random(in: 0..<Self.vocabulary, using: &draftRandom) }
            case .adversarial:
                var out: [Int] = [], t = last
                for _ in 0..<count {
                    t = targets[t].indices.filter { targets[t][$0] > 0 }.min { targets[t][$0] < targets[t][$1] } ?? 0
                    out.append(t)
                }
                return out
            }
        }
        let trials = 100_000
        var first = [Int](repeating: 0, count: Self.vocabulary)
        var pairs = [Int](repeating: 0, count: Self.vocabulary * Self.vocabulary)
        var mismatches = 0, drafted = 0, accepted = 0
        let plainGenerator = Generator(loaded: loaded, contextLength: 64)
        for trial in 0..<trials {
            var sampling = Self.sampling
            sampling.seed = UInt64(trial)
            var request = GenerationRequest(promptIds: [3], sampling: sampling, maxTokens: 4)
            request.ignoreStopTokens = true
            request.speculative = SpeculativeOptions(mode: .ngram, draftMax: 2, draftMin: 1, adaptive: false)
            let run = try generate(generator, request)
            first[run.ids[0]] += 1
            pairs[run.ids[1] * Self.vocabulary + run.ids[2]] += 1
            drafted += run.stats.draftedTokens
            accepted += run.stats.acceptedTokens
            if trial % 100 == 0 {
                request.speculative = .off
                if try generate(plainGenerator, request).ids != run.ids { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        #expect(drafted >= trials)
        switch kind {
        case .deterministicMasked: #expect(accepted == 0)
        case .deterministicLikely: #expect(accepted > drafted / 4)
        default: #expect(accepted < drafted)
        }
        // Chi-square of the first token against the target after 3.
        let p = targets[3]
        var chi2 = 0.0, cells = 0
        for id in 0..<Self.vocabulary {
            if p[id] == 0 {
                #expect(first[id] == 0, "token \(id) has probability 0 but was drawn")
                continue
            }
            let expected = p[id] * Double(trials)
            chi2 += pow(Double(first[id]) - expected, 2) / expected
            cells += 1
        }
        #expect(cells - 1 <= 7)
        #expect(chi2 < 40, "chi-square \(chi2) over \(cells - 1) degrees of freedom")
        // Joint of the second and third tokens: Σ_a p3(a)·p(b | a)... the second token follows the
        // first, so the pair (t1, t2) has probability Σ_{t0} p3(t0) p_{t0}(t1) p_{t1}(t2).
        var tv = 0.0
        for a in 0..<Self.vocabulary {
            let pa = (0..<Self.vocabulary).reduce(0.0) { $0 + p[$1] * targets[$1][a] }
            for b in 0..<Self.vocabulary {
                let want = pa * targets[a][b]
                tv += abs(Double(pairs[a * Self.vocabulary + b]) / Double(trials) - want)
            }
        }
        tv /= 2
        #expect(tv < 0.01, "total variation \(tv)")
    }
}
