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

    /// 10⁵ seeded generations of 4 tokens from fed token 3 with drafts of `kind` (2 per step,
    /// so the second and third tokens come out of a verification step): the second token's
    /// frequencies pass a chi-square test against its target marginal (bound 40 for ≤ 7 degrees
    /// of freedom: p < 1e-5 under the null), the (second, third) pair's total-variation distance
    /// from the target joint is ≤ 0.01, and every run emits exactly what plain decoding with its
    /// seed emits (deterministic drafts are verified against the target's own draws).
    @Test(arguments: DraftKind.allCases)
    func tokensFollowTheTarget(kind: DraftKind) throws {
        let loaded = try SchedulerFixtures.tiny()
        loaded.model = TableModel(table: Self.table())
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
        let counts = try Self.sampleRuns(generator, mode: .ngram, checkAgainstPlain: true)
        #expect(counts.drafted >= 100_000)
        switch kind {
        case .deterministicMasked: #expect(counts.accepted == 0)
        case .deterministicLikely: #expect(counts.accepted > counts.drafted / 4)
        default: #expect(counts.accepted < counts.drafted)
        }
        try Self.checkDistribution(counts, targets: targets)
    }

    /// Draft models: a table model with another distribution (q ≠ p everywhere, mass on ids
    /// the target masks) and a flat one; accepted with min(1, p/q), residual max(0, p − q).
    @Test(arguments: ["other", "flat"])
    func modelDraftsFollowTheTarget(draft: String) throws {
        let loaded = try SchedulerFixtures.tiny()
        loaded.model = TableModel(table: Self.table())
        let drafter = try SchedulerFixtures.tiny()
        let v = Self.vocabulary
        drafter.model = TableModel(table: (0..<v).map { t in
            (0..<v).map { id in draft == "flat" ? 0 : Float(cos(Double(t * 5 + id * 3)) * 2) }
        })
        var generator = Generator(loaded: loaded, contextLength: 64)
        generator.draftModel = drafter
        let counts = try Self.sampleRuns(generator, mode: .draft, checkAgainstPlain: false)
        #expect(counts.drafted >= 100_000)
        #expect(counts.accepted > 0 && counts.accepted < counts.drafted)
        try Self.checkDistribution(counts, targets: (0..<v).map { Self.target(after: $0) })
    }

    struct Counts {
        var second: [Int]
        var pairs: [Int]
        var drafted = 0, accepted = 0
        let trials: Int
    }

    static func sampleRuns(_ generator: Generator, mode: SpeculativeMode, checkAgainstPlain: Bool) throws -> Counts {
        let trials = 100_000
        var counts = Counts(second: [Int](repeating: 0, count: vocabulary), pairs: [Int](repeating: 0, count: vocabulary * vocabulary),
                            trials: trials)
        var plainGenerator = generator
        plainGenerator.drafter = nil
        var mismatches = 0
        for trial in 0..<trials {
            var sampling = Self.sampling
            sampling.seed = UInt64(trial)
            var request = GenerationRequest(promptIds: [3], sampling: sampling, maxTokens: 4)
            request.ignoreStopTokens = true
            request.speculative = SpeculativeOptions(mode: mode, draftMax: 2, draftMin: 1, adaptive: false)
            let run = try generate(generator, request)
            counts.second[run.ids[1]] += 1
            counts.pairs[run.ids[1] * vocabulary + run.ids[2]] += 1
            counts.drafted += run.stats.draftedTokens
            counts.accepted += run.stats.acceptedTokens
            if checkAgainstPlain && trial % 100 == 0 {
                request.speculative = .off
                if try generate(plainGenerator, request).ids != run.ids { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        return counts
    }

    static func checkDistribution(_ counts: Counts, targets: [[Double]]) throws {
        let v = vocabulary, n = Double(counts.trials)
        // Second token: Σ_t0 p3(t0) p_t0(a). Pair (a, b): that times p_a(b).
        let second = (0..<v).map { a in (0..<v).reduce(0.0) { $0 + targets[3][$1] * targets[$1][a] } }
        var chi2 = 0.0, cells = 0
        for a in 0..<v {
            if second[a] == 0 {
                #expect(counts.second[a] == 0, "token \(a) has probability 0 but was drawn")
                continue
            }
            let expected = second[a] * n
            chi2 += pow(Double(counts.second[a]) - expected, 2) / expected
            cells += 1
        }
        #expect(cells - 1 <= 7)
        #expect(chi2 < 40, "chi-square \(chi2) over \(cells - 1) degrees of freedom")
        var tv = 0.0
        for a in 0..<v {
            for b in 0..<v { tv += abs(Double(counts.pairs[a * v + b]) / n - second[a] * targets[a][b]) }
        }
        tv /= 2
        #expect(tv < 0.01, "total variation \(tv)")
    }
}
