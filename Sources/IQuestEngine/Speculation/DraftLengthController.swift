import Foundation

/// Chooses how many tokens a request drafts from its recent acceptance. With a per-token
/// acceptance rate α, k drafts yield (1 − α^(k+1)) / (1 − α) tokens for a step that costs
/// `1 + rowCost · k` single-token steps; the controller picks the k (0 = no draft) that yields
/// most per unit of cost. α is a decayed count of verified drafts (each accepted draft a
/// success, the first rejected one a failure), so a request that stops matching stops drafting
/// within a few steps; while not drafting the count fades back toward its prior, so drafting is
/// tried again now and then instead of being switched off for good.
public struct DraftLengthController: Sendable {
    /// Marginal cost of one more decode row relative to a one-row step (T(k+1)/T(1) − 1 per
    /// row). Set before each proposal from `RowCostEstimator` (measured per model and context:
    /// SmolLM2 0.2–0.3, the 7B shape under 0.1); this is only the value before any step ran.
    public var rowCost = 0.2
    private var successes = 0.0
    private var trials = 0.0
    private let decay = 0.85
    private let prior = 0.6
    private let priorWeight = 2.0

    public init() {}

    /// The estimated probability that a draft token is accepted.
    public var acceptance: Double { (successes + prior * priorWeight) / (trials + priorWeight) }

    public mutating func record(drafted: Int, accepted: Int) {
        guard drafted > 0 else { return }
        successes = successes * decay + Double(accepted)
        trials = trials * decay + Double(accepted + (accepted < drafted ? 1 : 0))
    }

    /// A step drafted nothing: the evidence ages.
    public mutating func idle() {
        successes *= 0.97
        trials *= 0.97
    }

    /// Draft length in 0…maximum with the best expected tokens per cost.
    public func length(maximum: Int) -> Int {
        let a = min(acceptance, 0.999)
        var best = 0, bestGain = 1.0
        var yield = 1.0, power = 1.0
        for k in stride(from: 1, through: maximum, by: 1) {
            power *= a
            yield += power
            let gain = yield / (1 + rowCost * Double(k))
            if gain > bestGain * 1.0001 {
                best = k
                bestGain = gain
            }
        }
        return best
    }
}
