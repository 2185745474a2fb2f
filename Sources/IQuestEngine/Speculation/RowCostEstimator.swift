/// What one more decode row costs on this model and machine, learnt from the steps that ran.
///
/// A decode step of n rows takes about T(n) = a + b·n: `a` is what every step pays once (reading
/// the weights, the threads' start), `b` what each row adds (its share of the products, its own
/// attention over the context, its logits). Both vary by model and context (SmolLM2's output matrix
/// is a fifth of its weights and every verified row needs its logits, so b/a is several times the
/// 7B's; attention makes b grow with the context), so they are fitted online by least squares
/// over recent steps, older steps fading, instead of assumed. Until steps of two different widths
/// have been seen the prior holds.
public struct RowCostEstimator: Sendable {
    /// Relative cost of one draft row in a one-row step before anything is measured.
    public var prior: Double
    private let decay: Double
    // Decayed sums over (rows x, seconds y) for the least-squares line y = a + b·x.
    private var s0 = 0.0, sx = 0.0, sxx = 0.0, sy = 0.0, sxy = 0.0

    public init(prior: Double = 0.2, decay: Double = 0.95) {
        self.prior = prior
        self.decay = decay
    }

    /// One pure decode step (no prompt rows): `rows` decode rows in `seconds`.
    public mutating func record(rows: Int, seconds: Double) {
        guard rows > 0, seconds > 0, seconds.isFinite else { return }
        let x = Double(rows)
        s0 = s0 * decay + 1
        sx = sx * decay + x
        sxx = sxx * decay + x * x
        sy = sy * decay + seconds
        sxy = sxy * decay + x * seconds
    }

    /// (a, b) in seconds, or nil while the recorded widths are too alike to separate them.
    public var line: (fixed: Double, perRow: Double)? {
        guard s0 > 0 else { return nil }
        let variance = sxx / s0 - (sx / s0) * (sx / s0)
        // Widths that barely differ (spread < 0.3 rows) make the slope mostly noise.
        guard variance > 0.09 else { return nil }
        let perRow = (sxy / s0 - (sx / s0) * (sy / s0)) / variance
        let fixed = sy / s0 - perRow * sx / s0
        return (fixed, perRow)
    }

    /// Seconds of a one-row step: the line's T(1), or the mean step while there is no line; nil
    /// before any step.
    public var oneRowSeconds: Double? {
        guard s0 > 0 else { return nil }
        guard let (a, b) = line, a + b > 0 else { return sy / s0 }
        return a + b
    }

    /// What a draft row costs relative to the average token of a step where `decoding` sequences
    /// decode one row each: b / ((a + b·n) / n). One sequence: b / (a + b) = T(2)/T(1) − 1. As
    /// the batch widens a row costs as much as a token it might save (→ 1), which switches
    /// drafting off by itself once the batch saturates the machine.
    public func rowCost(decoding: Int = 1) -> Double {
        let n = Double(max(1, decoding))
        guard let (a, b) = line else {
            // The prior is for one sequence; scale it the same way with the batch.
            let b = prior, a = 1 - prior
            return min(1, b * n / (a + b * n))
        }
        // A noisy fit can give a negative slope or intercept: a row is never free, nor dearer than a step.
        let perRow = max(b, 0.01 * max(a + b, 1e-9))
        let fixed = max(a, 0)
        return min(1, max(0.01, perRow * n / (fixed + perRow * n)))
    }
}
