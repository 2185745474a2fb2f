import Foundation

/// Paired comparison of two runs over the problems both cover, on each problem's first sample
/// (sample 0: the greedy answer in a greedy run).
public struct RunComparison: Sendable, Equatable {
    public var nameA: String
    public var nameB: String
    public var problems: Int
    public var bothSolved: Int
    public var onlyA: [String]
    public var onlyB: [String]
    public var neither: Int
    /// Problems whose completions are byte-identical.
    public var identical: Int
    /// Problems in one run only (left out of the comparison).
    public var unpaired: Int
    /// Problems where both runs recorded prompt token ids, and those whose ids differ (the two
    /// runs tokenized the prompt differently, so their answers are not comparable token for token).
    public var promptIdsCompared: Int
    public var promptIdsDiffer: [String]
    public var pValue: Double { McNemar.exactP(onlyA: onlyA.count, onlyB: onlyB.count) }
    public var passA: Double { Double(bothSolved + onlyA.count) / Double(max(1, problems)) }
    public var passB: Double { Double(bothSolved + onlyB.count) / Double(max(1, problems)) }

    public init(_ a: [EvalRecord], _ b: [EvalRecord], nameA: String, nameB: String) throws {
        func first(_ records: [EvalRecord]) -> [String: EvalRecord] {
            var out: [String: EvalRecord] = [:]
            for record in records where record.sample == 0 { out[record.taskId] = record }
            return out
        }
        let left = first(a), right = first(b)
        let shared = Set(left.keys).intersection(right.keys).sorted(by: Self.taskOrder)
        guard !shared.isEmpty else { throw EvalError("\(nameA) and \(nameB) share no problem (sample 0)") }
        self.nameA = nameA
        self.nameB = nameB
        problems = shared.count
        unpaired = Set(left.keys).symmetricDifference(right.keys).count
        var both = 0, neither = 0, same = 0
        var onlyA: [String] = [], onlyB: [String] = []
        var idsCompared = 0
        var idsDiffer: [String] = []
        for task in shared {
            guard let x = left[task], let y = right[task] else { continue }
            switch (x.passed, y.passed) {
            case (true, true): both += 1
            case (true, false): onlyA.append(task)
            case (false, true): onlyB.append(task)
            case (false, false): neither += 1
            }
            if x.completion == y.completion { same += 1 }
            if let p = x.promptIds, let q = y.promptIds {
                idsCompared += 1
                if p != q { idsDiffer.append(task) }
            }
        }
        bothSolved = both
        self.neither = neither
        self.onlyA = onlyA
        self.onlyB = onlyB
        identical = same
        promptIdsCompared = idsCompared
        promptIdsDiffer = idsDiffer
    }

    /// "HumanEval/9" before "HumanEval/10".
    public static func taskOrder(_ a: String, _ b: String) -> Bool {
        let na = Int(a.split(separator: "/").last ?? ""), nb = Int(b.split(separator: "/").last ?? "")
        if let na, let nb, a.split(separator: "/").first == b.split(separator: "/").first { return na < nb }
        return a < b
    }

    public var lines: [String] {
        [String(format: "%@ vs %@ on %d problems%@", nameA, nameB, problems, unpaired > 0 ? " (\(unpaired) in one run only, left out)" : ""),
         String(format: "pass@1 %.2f%% vs %.2f%%; both solved %d, only %@ %d, only %@ %d, neither %d", passA * 100, passB * 100,
                bothSolved, nameA, onlyA.count, nameB, onlyB.count, neither),
         String(format: "McNemar exact test on the %d discordant problems: p = %.4g", onlyA.count + onlyB.count, pValue),
         String(format: "identical completions: %d/%d (%.1f%%)", identical, problems, Double(identical) * 100 / Double(max(1, problems))),
         "only \(nameA): " + (onlyA.isEmpty ? "-" : onlyA.joined(separator: " ")),
         "only \(nameB): " + (onlyB.isEmpty ? "-" : onlyB.joined(separator: " "))]
            + (promptIdsCompared == 0 ? ["prompt token ids: not recorded by both runs"]
               : [String(format: "same prompt token ids: %d/%d", promptIdsCompared - promptIdsDiffer.count, promptIdsCompared)
                  + (promptIdsDiffer.isEmpty ? "" : " (differ: " + promptIdsDiffer.joined(separator: " ") + ")")])
    }
}
