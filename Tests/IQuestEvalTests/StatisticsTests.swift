import Foundation
import Testing
import IQuestEval

struct StatisticsTests {
    /// C(n, k) exactly, for small n.
    func binomial(_ n: Int, _ k: Int) -> Double {
        guard k >= 0, k <= n else { return 0 }
        var result: UInt64 = 1
        for i in 0..<UInt64(k) { result = result * (UInt64(n) - i) / (i + 1) }
        return Double(result)
    }

    @Test func passAtKMatchesTheClosedForm() throws {
        for n in 1...20 {
            for c in 0...n {
                for k in 1...n {
                    let estimate = try #require(PassAtK.estimate(n: n, c: c, k: k))
                    let closed = 1 - binomial(n - c, k) / binomial(n, k)
                    #expect(abs(estimate - closed) < 1e-12, "n=\(n) c=\(c) k=\(k): \(estimate) vs \(closed)")
                }
            }
        }
    }

    @Test func passAtKEdgeCases() {
        #expect(PassAtK.estimate(n: 1, c: 1, k: 1) == 1)
        #expect(PassAtK.estimate(n: 1, c: 0, k: 1) == 0)
        #expect(abs((PassAtK.estimate(n: 10, c: 3, k: 1) ?? 0) - 0.3) < 1e-12)
        #expect(PassAtK.estimate(n: 200, c: 0, k: 100) == 0)
        #expect(PassAtK.estimate(n: 5, c: 6, k: 1) == nil)
        #expect(PassAtK.estimate(n: 5, c: 1, k: 6) == nil)
        #expect(PassAtK.estimate(n: 0, c: 0, k: 1) == nil)
    }

    @Test func wilsonIntervalKnownValues() {
        let half = PassAtK.wilson(successes: 5, trials: 10)
        #expect(abs(half.low - 0.2366) < 1e-4 && abs(half.high - 0.7634) < 1e-4)
        let none = PassAtK.wilson(successes: 0, trials: 10)
        #expect(none.low == 0 && abs(none.high - 0.2775) < 1e-4)
        let all = PassAtK.wilson(successes: 164, trials: 164)
        #expect(abs(all.high - 1) < 1e-12 && all.low > 0.97 && all.low < 0.985)
    }

    @Test func bootstrapBracketsTheMeanAndRepeats() {
        let values = (0..<100).map { Double($0 % 4 == 0 ? 1 : 0) }
        let interval = PassAtK.bootstrap(values)
        #expect(interval.low < 0.25 && interval.high > 0.25)
        #expect(interval.low > 0.12 && interval.high < 0.38)
        #expect(PassAtK.bootstrap(values) == interval)
        #expect(PassAtK.bootstrap([1, 1, 1]) == (1, 1))
    }

    @Test func mcNemarExact() {
        #expect(McNemar.exactP(onlyA: 0, onlyB: 0) == 1)
        #expect(abs(McNemar.exactP(onlyA: 0, onlyB: 5) - 2.0 / 32) < 1e-12)
        #expect(abs(McNemar.exactP(onlyA: 1, onlyB: 9) - 2 * 11.0 / 1024) < 1e-12)
        #expect(McNemar.exactP(onlyA: 3, onlyB: 3) == 1)
        #expect(McNemar.exactP(onlyA: 9, onlyB: 1) == McNemar.exactP(onlyA: 1, onlyB: 9))
        // Past Double's 2^-n underflow the log-space sum takes over and agrees in the tail.
        let big = McNemar.exactP(onlyA: 600, onlyB: 500)
        #expect(big > 0.002 && big < 0.004)
        #expect(abs(McNemar.exactPLog(b: 1, c: 9) - 2 * 11.0 / 1024) < 1e-9)
    }
}
