import Foundation
import IQuestEngine
import Testing

/// Sampler chain, seeded draws, parameter validation and log-probability helpers.
@Suite struct SamplerTests {
    static func params(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0,
                       seed: UInt64 = 7) -> SamplingParameters {
        SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP, seed: seed)
    }

    static func sample(_ p: SamplingParameters, _ logits: [Float], history: [Int] = []) -> Int {
        var s = Sampler(parameters: p)
        return logits.withUnsafeBufferPointer { s.sample(logits: $0, history: history) }
    }

    /// Frequencies of `n` draws from one sampler.
    static func frequencies(_ p: SamplingParameters, _ logits: [Float], n: Int) -> [Double] {
        var s = Sampler(parameters: p)
        var counts = [Int](repeating: 0, count: logits.count)
        logits.withUnsafeBufferPointer { l in
            for _ in 0..<n { counts[s.sample(logits: l, history: [Int]())] += 1 }
        }
        return counts.map { Double($0) / Double(n) }
    }

    /// Ids with zero expected probability must never be drawn; the others must lie within
    /// 5 binomial standard errors (sqrt(p(1-p)/n)) of the analytic probability.
    static func expectMatches(_ freq: [Double], _ expected: [Double], n: Int,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        for (id, (f, p)) in zip(freq, expected).enumerated() {
            if p == 0 {
                #expect(f == 0, "id \(id) drawn with frequency \(f) but was filtered out", sourceLocation: sourceLocation)
            } else {
                let tolerance = 5 * (p * (1 - p) / Double(n)).squareRoot() + 1e-12
                #expect(abs(f - p) <= tolerance, "id \(id): frequency \(f), expected \(p) ± \(tolerance)",
                        sourceLocation: sourceLocation)
            }
        }
    }

    static func normalised(_ w: [Double]) -> [Double] {
        let s = w.reduce(0, +)
        return w.map { $0 / s }
    }

    static func logits(_ probs: [Double]) -> [Float] { probs.map { Float(log($0)) } }

    static let n = 20_000

    // MARK: determinism

    @Test func sameSeedSameSequence() {
        let logits = (0..<1000).map { Float(sin(Double($0) * 0.37)) * 3 }
        func run(_ seed: UInt64) -> [Int] {
            var s = Sampler(parameters: SamplingParameters(seed: seed))
            return logits.withUnsafeBufferPointer { l in (0..<200).map { _ in s.sample(logits: l, history: [Int]()) } }
        }
        let a = run(42), b = run(42), c = run(43)
        #expect(a == b)
        #expect(a != c)
        #expect(Set(a).count > 5)
    }

    @Test func xoshiroIsFixedAcrossPlatforms() {
        var g = Xoshiro256StarStar(seed: 0)
        let first = (0..<3).map { _ in g.next() }
        var h = Xoshiro256StarStar(seed: 0)
        #expect(first == (0..<3).map { _ in h.next() })
        // splitmix64(0) expansion → xoshiro256** first output, computed by hand from the reference algorithm.
        #expect(first[0] == 0x99EC_5F36_CB75_F2B4)
        var u = Xoshiro256StarStar(seed: 9)
        for _ in 0..<1000 {
            let x = u.nextUnitDouble()
            #expect(x >= 0 && x < 1)
        }
    }

    @Test func nilSeedDrawsAFreshSeed() {
        let a = Sampler(parameters: SamplingParameters(seed: nil))
        let b = Sampler(parameters: SamplingParameters(seed: nil))
        #expect(a.seed != b.seed)
        #expect(Sampler(parameters: SamplingParameters(seed: 5)).seed == 5)
    }

    // MARK: greedy

    @Test func greedyIsArgmaxLowestIdOnTies() {
        #expect(Self.sample(.greedy, [0.1, 3, -2, 3, 2.9]) == 1)
        #expect(Self.sample(.greedy, [-5, -1, -1]) == 1)
        #expect(Self.sample(.greedy, [Float.nan, 0, -1]) == 1)
        #expect(Self.sample(.greedy, [7]) == 0)
        #expect(Self.sample(.greedy, []) == -1)
    }

    @Test func topKOneEqualsGreedy() {
        var g = Xoshiro256StarStar(seed: 3)
        for trial in 0..<50 {
            let logits = (0..<500).map { _ in Float(g.nextUnitDouble() * 10 - 5) }
            let p = SamplingParameters(temperature: 1.3, topK: 1, topP: 1, minP: 0, seed: UInt64(trial))
            #expect(Self.sample(p, logits) == Self.sample(.greedy, logits))
        }
    }

    // MARK: filters

    @Test func topKKeepsTheKBest() {
        let probs = [0.15, 0.3, 0.1, 0.25, 0.2]
        let f = Self.frequencies(Self.params(topK: 3), Self.logits(probs), n: Self.n)
        Self.expectMatches(f, Self.normalised([0, 0.3, 0, 0.25, 0.2]), n: Self.n)
    }

    @Test(arguments: [0, 4])  // 0: heap path over all ids; 4: after top-k's sorted selection
    func topPKeepsSmallestPrefixReachingP(topK: Int) {
        // Sorted: id1 .4, id3 .3, id4 .15, id0 .1, id2 .05. Mass .4 < .65 ≤ .7 → {1, 3}
        // (with top-k 4 the renormalised cumulative .42, .74 gives the same set).
        let probs = [0.1, 0.4, 0.05, 0.3, 0.15]
        let f = Self.frequencies(Self.params(topK: topK, topP: 0.65), Self.logits(probs), n: Self.n)
        Self.expectMatches(f, Self.normalised([0, 0.4, 0, 0.3, 0]), n: Self.n)
    }

    @Test func minPDropsTokensBelowFractionOfMax() {
        // threshold .25 × .5 = .125: keeps .5, .2, .16.
        let probs = [0.5, 0.2, 0.1, 0.04, 0.16]
        let f = Self.frequencies(Self.params(minP: 0.25), Self.logits(probs), n: Self.n)
        Self.expectMatches(f, Self.normalised([0.5, 0.2, 0, 0, 0.16]), n: Self.n)
    }

    @Test func fullChainFiltersBeforeTemperature() {
        // top-k 4 → {0,1,2,3}; top-p .8 on the renormalised .412/.294/.176 → {0,1,2};
        // min-p .45 drops id2 (.15/.35 = .43); temperature 2 draws ∝ sqrt(p) among {0,1}.
        let probs = [0.35, 0.25, 0.15, 0.1, 0.08, 0.07]
        let f = Self.frequencies(Self.params(temperature: 2, topK: 4, topP: 0.8, minP: 0.45),
                                 Self.logits(probs), n: Self.n)
        Self.expectMatches(f, Self.normalised([sqrt(0.35), sqrt(0.25), 0, 0, 0, 0]), n: Self.n)
    }

    @Test func temperatureSharpensAndFlattens() {
        let logits: [Float] = [2, 1, 0]
        var topShare: [Double] = []
        for t: Float in [0.5, 1, 2] {
            let f = Self.frequencies(Self.params(temperature: t, seed: 11), logits, n: Self.n)
            let expected = Self.normalised(logits.map { exp(Double($0) / Double(t)) })
            Self.expectMatches(f, expected, n: Self.n)
            topShare.append(f[0])
        }
        #expect(topShare[0] > topShare[1] && topShare[1] > topShare[2])
    }

    @Test func largeVocabularyStaysInsideTheKeptSet() {
        let vocab = 152_064
        var g = Xoshiro256StarStar(seed: 1)
        let logits = (0..<vocab).map { _ in Float(g.nextUnitDouble() * 8) }
        let order = logits.indices.sorted { logits[$0] > logits[$1] }
        let top40 = Set(order.prefix(40))
        var s = Sampler(parameters: SamplingParameters(seed: 2))
        var heap = Sampler(parameters: SamplingParameters(topK: 0, topP: 0.001, minP: 0, seed: 2))
        let history = Array(order.prefix(10)) + [-3, vocab + 5]  // out-of-range ids are ignored
        logits.withUnsafeBufferPointer { l in
            for _ in 0..<20 {
                #expect(top40.contains(s.sample(logits: l, history: history)))
                let id = heap.sample(logits: l, history: [Int]())
                #expect(logits[id] >= logits[order[400]])  // .1% of the mass lies within the top few hundred
            }
        }
    }

    // MARK: penalties

    @Test func repetitionPenaltyDividesPositiveAndMultipliesNegative() {
        var p = SamplingParameters.greedy
        p.repetitionPenalty = 2
        #expect(Self.sample(p, [1.0, 0.9]) == 0)
        #expect(Self.sample(p, [1.0, 0.9], history: [0]) == 1)        // 0.5 < 0.9
        #expect(Self.sample(p, [-1.0, -1.5], history: [0]) == 1)      // -2 < -1.5
        #expect(Self.sample(p, [-1.0, -1.5], history: [1]) == 0)      // -3 < -1
    }

    @Test func repetitionPenaltyAppliesOncePerIdWithinWindow() {
        var p = SamplingParameters.greedy
        p.repetitionPenalty = 1.5
        #expect(Self.sample(p, [3.0, 1.9], history: [0, 0, 0]) == 0)  // 3/1.5 = 2 > 1.9
        p.repetitionLastN = 3
        #expect(Self.sample(p, [1.0, 0.9], history: [0, 2, 2, 2]) == 0)  // id 0 outside the last 3
        #expect(Self.sample(p, [1.0, 0.9], history: [2, 2, 0]) == 1)
        p.repetitionLastN = 0
        #expect(Self.sample(p, [1.0, 0.9], history: [0]) == 0)
        p.repetitionLastN = -1
        #expect(Self.sample(p, [1.0, 0.9], history: [0] + [Int](repeating: 2, count: 500)) == 1)
    }

    @Test func presenceAndFrequencyPenalties() {
        let logits: [Float] = [2, 1.5, 0]
        var p = SamplingParameters.greedy
        p.frequencyPenalty = 0.2
        #expect(Self.sample(p, logits, history: [0, 0, 0]) == 1)  // 2 − 3·0.2 = 1.4
        #expect(Self.sample(p, logits, history: [0, 0]) == 0)     // 2 − 2·0.2 = 1.6
        p.frequencyPenalty = 0
        p.presencePenalty = 0.4
        #expect(Self.sample(p, logits, history: [0, 0, 0]) == 0)  // 1.6
        p.presencePenalty = 0.6
        #expect(Self.sample(p, logits, history: [0]) == 1)        // 1.4
    }

    @Test func repetitionPenaltyShiftsTheDistribution() {
        var p = Self.params(seed: 5)
        p.repetitionPenalty = 2
        let logits: [Float] = [2, 2]
        var s = Sampler(parameters: p)
        var zeros = 0
        logits.withUnsafeBufferPointer { l in
            for _ in 0..<Self.n where s.sample(logits: l, history: [0]) == 0 { zeros += 1 }
        }
        let expected = 1 / (1 + exp(1.0))  // logits 1 vs 2
        let tolerance = 5 * (expected * (1 - expected) / Double(Self.n)).squareRoot()
        #expect(abs(Double(zeros) / Double(Self.n) - expected) <= tolerance)
    }

    // MARK: validation

    @Test func defaultsAreValid() throws {
        try SamplingParameters().validate()
        try SamplingParameters.greedy.validate()
        let d = SamplingParameters()
        #expect(d.temperature == 0.8 && d.topK == 40 && d.topP == 0.95 && d.minP == 0.05)
        #expect(d.repetitionPenalty == 1 && d.repetitionLastN == 64 && d.seed == nil)
    }

    @Test(arguments: [
        ("temperature", SamplingParameters(temperature: -0.1)),
        ("temperature", SamplingParameters(temperature: .nan)),
        ("topK", SamplingParameters(topK: -1)),
        ("topP", SamplingParameters(topP: 0)),
        ("topP", SamplingParameters(topP: 1.01)),
        ("minP", SamplingParameters(minP: -0.01)),
        ("minP", SamplingParameters(minP: 1.5)),
        ("repetitionPenalty", SamplingParameters(repetitionPenalty: 0)),
        ("repetitionPenalty", SamplingParameters(repetitionPenalty: .infinity)),
        ("repetitionLastN", SamplingParameters(repetitionLastN: -2)),
        ("presencePenalty", SamplingParameters(presencePenalty: .nan)),
        ("frequencyPenalty", SamplingParameters(frequencyPenalty: -.infinity)),
    ])
    func invalidParametersAreRejected(name: String, p: SamplingParameters) {
        do {
            try p.validate()
            Issue.record("\(name) was accepted")
        } catch {
            #expect(error.parameter == name)
            #expect(!error.message.isEmpty && error.description == error.message)
        }
    }

    @Test func validationMessagesStateTheRange() {
        #expect(throws: SamplingParametersError(parameter: "topP",
                                                message: "top-p must be in (0, 1] (1 = off), got 0.0")) {
            try SamplingParameters(topP: 0).validate()
        }
    }

    // MARK: log-probabilities

    @Test func logSoftmaxNormalises() {
        let logits: [Float] = [1, 2, 3, -1]
        let lp = logits.withUnsafeBufferPointer { logSoftmax($0) }
        let total = lp.reduce(0.0) { $0 + exp(Double($1)) }
        #expect(abs(total - 1) < 1e-6)
        let z = logits.reduce(0.0) { $0 + exp(Double($1)) }
        #expect(abs(Double(lp[2]) - (3 - log(z))) < 1e-6)
        let big = [Float(1000), 1000].withUnsafeBufferPointer { logSoftmax($0) }
        #expect(big.allSatisfy { abs(Double($0) - log(0.5)) < 1e-6 })
        let masked = [Float(0), -.infinity, .nan].withUnsafeBufferPointer { logSoftmax($0) }
        #expect(masked == [0, -.infinity, -.infinity])
    }

    @Test func topLogprobsSortedDescending() {
        let logits: [Float] = [0.5, 3, 1, 3, -2]
        let top = logits.withUnsafeBufferPointer { topLogprobs($0, k: 3) }
        #expect(top.map(\.id) == [1, 3, 2])
        let lp = logits.withUnsafeBufferPointer { logSoftmax($0) }
        #expect(top.map(\.logprob) == [lp[1], lp[3], lp[2]])
        #expect(logits.withUnsafeBufferPointer { topLogprobs($0, k: 0) }.isEmpty)
        #expect(logits.withUnsafeBufferPointer { topLogprobs($0, k: 10) }.map(\.id) == [1, 3, 2, 0, 4])
        let many = (0..<200).map { Float($0 % 7) }
        let top100 = many.withUnsafeBufferPointer { topLogprobs($0, k: 100) }
        #expect(top100.count == 100 && top100.first?.id == 6 && top100[1].id == 13)
        #expect(zip(top100, top100.dropFirst()).allSatisfy { $0.logprob >= $1.logprob })
    }
}
