import Foundation

/// pass@k and its uncertainty.
public enum PassAtK {
    /// The unbiased estimator of Chen et al. (2021): with n samples of which c passed,
    /// 1 − C(n−c, k) / C(n, k), computed as 1 − ∏_{i=n−c+1}^{n} (1 − k/i) to stay finite for large n.
    /// nil unless 0 ≤ c ≤ n and 1 ≤ k ≤ n.
    public static func estimate(n: Int, c: Int, k: Int) -> Double? {
        guard n >= 1, (0...n).contains(c), (1...n).contains(k) else { return nil }
        if n - c < k { return 1 }
        var product = 1.0
        if c > 0 {
            for i in (n - c + 1)...n { product *= 1 - Double(k) / Double(i) }
        }
        return 1 - product
    }

    /// Wilson score interval for a proportion (successes of trials) at 95 % (z = 1.96): used for
    /// greedy pass@1, where each problem is one pass/fail trial.
    public static func wilson(successes: Int, trials: Int, z: Double = 1.96) -> (low: Double, high: Double) {
        guard trials > 0 else { return (0, 1) }
        let n = Double(trials), p = Double(successes) / n, z2 = z * z
        let center = (p + z2 / (2 * n)) / (1 + z2 / n)
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / (1 + z2 / n)
        return (max(0, center - half), min(1, center + half))
    }

    /// Percentile bootstrap over problems (95 %, `resamples` draws with a fixed seed so a report
    /// is reproducible): the interval of the mean of per-problem pass@k values.
    public static func bootstrap(_ values: [Double], resamples: Int = 2000, seed: UInt64 = 0x1E57) -> (low: Double, high: Double) {
        guard !values.isEmpty else { return (0, 1) }
        var state = seed
        func next() -> UInt64 {   // splitmix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var means: [Double] = []
        means.reserveCapacity(resamples)
        for _ in 0..<resamples {
            var sum = 0.0
            for _ in values.indices { sum += values[Int(next() % UInt64(values.count))] }
            means.append(sum / Double(values.count))
        }
        means.sort()
        return (means[Int(0.025 * Double(resamples - 1))], means[Int((0.975 * Double(resamples - 1)).rounded(.up))])
    }
}

/// McNemar's exact test on paired pass/fail results: under "the two runs are equally good", each
/// discordant problem (solved by exactly one run) is a fair coin; the two-sided p-value is
/// min(1, 2 · P[Binomial(b + c, ½) ≤ min(b, c)]).
public enum McNemar {
    public static func exactP(onlyA b: Int, onlyB c: Int) -> Double {
        let n = b + c
        guard n > 0 else { return 1 }
        var term = pow(0.5, Double(n))   // C(n, 0) / 2^n; n ≤ a few thousand stays above the underflow limit
        var tail = 0.0
        if term == 0 { return exactPLog(b: b, c: c) }
        for i in 0...min(b, c) {
            tail += term
            term *= Double(n - i) / Double(i + 1)
        }
        return min(1, 2 * tail)
    }

    /// The same sum in log space for very many discordant pairs.
    public static func exactPLog(b: Int, c: Int) -> Double {
        let n = b + c
        let logHalf = Double(n) * log(0.5)
        var tail = 0.0
        for i in 0...min(b, c) {
            tail += exp(lgamma(Double(n + 1)) - lgamma(Double(i + 1)) - lgamma(Double(n - i + 1)) + logHalf)
        }
        return min(1, 2 * tail)
    }
}
