import IQuestEngine
import Testing

/// The price of a verify row is learnt from step times (`RowCostEstimator`) and decides the
/// draft length (`DraftLengthController`): drafting must switch itself off where rows are dear,
/// acceptance is low, or the batch is already wide.
struct SpeculativeCostTests {
    /// Steps of 1…9 rows timed as 50 ms + 10 ms per row.
    private func fitted(fixed: Double = 0.05, perRow: Double = 0.01, into estimator: inout RowCostEstimator, steps: Int = 60) {
        for i in 0..<steps {
            let rows = 1 + i % 9
            estimator.record(rows: rows, seconds: fixed + perRow * Double(rows))
        }
    }

    @Test func recoversTheLineFromStepTimes() throws {
        var estimator = RowCostEstimator()
        fitted(into: &estimator)
        let line = try #require(estimator.line)
        #expect(abs(line.fixed - 0.05) < 1e-9 && abs(line.perRow - 0.01) < 1e-9, "\(line)")
        // One sequence: T(2)/T(1) − 1 = 0.01 / 0.06.
        #expect(abs(estimator.rowCost() - 0.01 / 0.06) < 1e-9)
        #expect(abs((estimator.oneRowSeconds ?? 0) - 0.06) < 1e-9)
        // Sixteen sequences decoding: a row costs 0.16 / 0.21 of an average token.
        #expect(abs(estimator.rowCost(decoding: 16) - 0.16 / 0.21) < 1e-9)
    }

    @Test func holdsThePriorUntilTwoWidthsAreSeen() {
        var estimator = RowCostEstimator(prior: 0.2)
        #expect(estimator.line == nil && estimator.oneRowSeconds == nil)
        #expect(abs(estimator.rowCost() - 0.2) < 1e-12)
        for _ in 0..<20 { estimator.record(rows: 1, seconds: 0.04) }
        #expect(estimator.line == nil)
        #expect(abs(estimator.rowCost() - 0.2) < 1e-12)
        #expect(abs((estimator.oneRowSeconds ?? 0) - 0.04) < 1e-12)
        // Bad samples are ignored rather than bending the fit.
        estimator.record(rows: 0, seconds: 1)
        estimator.record(rows: 3, seconds: -1)
        estimator.record(rows: 3, seconds: .nan)
        #expect(estimator.line == nil)
    }

    @Test func followsAChangeOfCost() throws {
        // The context grows (attention per row) or the machine gets busier: old steps fade.
        var estimator = RowCostEstimator()
        fitted(fixed: 0.05, perRow: 0.005, into: &estimator)
        fitted(fixed: 0.05, perRow: 0.02, into: &estimator, steps: 180)
        let line = try #require(estimator.line)
        #expect(abs(line.perRow - 0.02) < 0.001, "\(line)")
    }

    @Test func noisyFitsStayInRange() {
        // A slope below zero (timing noise) must not make rows free or drafting unbounded.
        var estimator = RowCostEstimator()
        for i in 0..<40 {
            let rows = 1 + i % 5
            estimator.record(rows: rows, seconds: 0.1 - 0.005 * Double(rows))
        }
        let cost = estimator.rowCost()
        #expect(cost >= 0.01 && cost <= 0.02, "\(cost)")
        for i in 0..<40 { estimator.record(rows: 1 + i % 5, seconds: 0.001 * Double(1 + i % 5)) }
        #expect(estimator.rowCost() <= 1)
    }

    @Test func controllerDraftsOnlyWhereItPays() {
        var copying = DraftLengthController()
        for _ in 0..<20 { copying.record(drafted: 8, accepted: 8) }
        copying.rowCost = 0.02
        #expect(copying.length(maximum: 16) == 16)
        // SmolLM2-like rows (0.25 each) still pay for long drafts when nearly all are accepted…
        copying.rowCost = 0.25
        #expect(copying.length(maximum: 16) >= 8)
        // …but not when a row costs a whole token (a saturated batch).
        copying.rowCost = 1
        #expect(copying.length(maximum: 16) == 0)

        var rejected = DraftLengthController()
        for _ in 0..<20 { rejected.record(drafted: 2, accepted: 0) }
        rejected.rowCost = 0.25
        #expect(rejected.acceptance < 0.2)
        #expect(rejected.length(maximum: 16) == 0)
        // Idle steps let the evidence fade, so drafting is tried again later.
        for _ in 0..<200 { rejected.idle() }
        #expect(rejected.length(maximum: 16) > 0)
    }

    @Test func aWideBatchSwitchesDraftingOff() {
        var estimator = RowCostEstimator()
        fitted(into: &estimator)
        var controller = DraftLengthController()
        for _ in 0..<5 { controller.record(drafted: 4, accepted: 2) }
        controller.rowCost = estimator.rowCost(decoding: 1)
        #expect(controller.length(maximum: 8) > 0)
        controller.rowCost = estimator.rowCost(decoding: 16)
        #expect(controller.length(maximum: 8) == 0)
    }
}
