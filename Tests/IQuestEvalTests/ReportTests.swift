import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import IQuestEval

struct ReportTests {
    func record(_ task: Int, _ passed: Bool, sample: Int = 0, completion: String = "x") -> EvalRecord {
        EvalRecord(taskId: "HumanEval/\(task)", sample: sample, completion: completion, raw: completion, passed: passed,
                   error: passed ? nil : .assertion, detail: passed ? "passed" : "AssertionError", tokens: 3, finishReason: "stop",
                   generationSeconds: 0.5, executionSeconds: 0.1)
    }

    @Test func recordsRoundTripThroughJSONL() throws {
        let records = [record(0, true), record(1, false, completion: "    return \"\\n\"\n")]
        let data = try EvalRecord.encodeLines(records)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(object["task_id"] as? String == "HumanEval/1" && object["error"] as? String == "assertion" && object["passed"] as? Bool == false)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("records-\(UUID().uuidString).jsonl").path
        try data.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try EvalRecord.load(path: path) == records)
    }

    @Test func loadRefusesABrokenLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).jsonl").path
        try Data("{\"task_id\": 1}\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: EvalError.self) { try EvalRecord.load(path: path) }
    }

    @Test func greedySummaryUsesWilson() throws {
        let records = (0..<10).map { record($0, $0 < 5) }
        let summary = EvalSummary.make(records: records, sandbox: "bubblewrap", settings: [:], generationSeconds: 1, executionSeconds: 1)
        #expect(summary.problems == 10 && summary.samplesPerProblem == 1 && summary.solved == 5)
        let score = try #require(summary.scores.first)
        #expect(summary.scores.count == 1 && score.k == 1 && score.value == 0.5 && score.interval == "wilson")
        #expect(abs(score.low - 0.2366) < 1e-4)
        #expect(summary.errors == ["assertion": 5])
    }

    @Test func sampledSummaryAveragesPerProblemEstimates() throws {
        // Problem 0: 2 of 10 samples pass; problem 1: none.
        let records = (0..<10).map { record(0, $0 < 2, sample: $0) } + (0..<10).map { record(1, false, sample: $0) }
        let summary = EvalSummary.make(records: records, sandbox: "bubblewrap", settings: [:], generationSeconds: 1, executionSeconds: 1)
        #expect(summary.scores.map(\.k) == [1, 10])
        #expect(abs(summary.scores[0].value - 0.1) < 1e-12)       // (0.2 + 0) / 2
        #expect(abs(summary.scores[1].value - 0.5) < 1e-12)       // (1 + 0) / 2
        #expect(summary.scores[0].interval == "bootstrap")
    }

    @Test func comparisonFlagsPromptsTokenizedDifferently() throws {
        func withIds(_ task: Int, _ ids: [Int]?) -> EvalRecord {
            var r = record(task, false)
            r.promptIds = ids
            return r
        }
        let a = [withIds(0, [198, 198, 1604]), withIds(1, [472, 216, 35]), withIds(2, nil)]
        let b = [withIds(0, [198, 198, 1604]), withIds(1, [2367, 35]), withIds(2, [1])]
        let comparison = try RunComparison(a, b, nameA: "engine", nameB: "hf")
        #expect(comparison.promptIdsCompared == 2 && comparison.promptIdsDiffer == ["HumanEval/1"])
        #expect(comparison.lines.contains("same prompt token ids: 1/2 (differ: HumanEval/1)"))
        // Ids survive the JSONL round trip under their snake_case keys; records without them omit the keys.
        let line = String(decoding: try EvalRecord.encodeLines([a[0], a[2]]), as: UTF8.self).split(separator: "\n")
        #expect(line[0].contains("\"prompt_ids\":[198,198,1604]") && !line[1].contains("prompt_ids"))
        let plain = try RunComparison([record(0, true)], [record(0, true)], nameA: "a", nameB: "b")
        #expect(plain.lines.contains("prompt token ids: not recorded by both runs"))
    }

    @Test func comparisonCountsDiscordantPairs() throws {
        let a = [record(0, true), record(1, true), record(2, false), record(3, true, completion: "y"), record(4, false)]
        let b = [record(0, true), record(1, false), record(2, true), record(3, false), record(5, true)]
        let comparison = try RunComparison(a, b, nameA: "a", nameB: "b")
        #expect(comparison.problems == 4 && comparison.unpaired == 2)
        #expect(comparison.bothSolved == 1 && comparison.onlyA == ["HumanEval/1", "HumanEval/3"] && comparison.onlyB == ["HumanEval/2"])
        #expect(comparison.neither == 0 && comparison.identical == 3)
        #expect(comparison.pValue == 1)
        #expect(comparison.lines.contains { $0.contains("McNemar") })
        #expect(throws: EvalError.self) { try RunComparison(a, [record(9, true)], nameA: "a", nameB: "b") }
    }

    @Test func taskOrderIsNumeric() {
        #expect(RunComparison.taskOrder("HumanEval/9", "HumanEval/10"))
        #expect(!RunComparison.taskOrder("HumanEval/10", "HumanEval/9"))
    }

    @Test func chartIsWellFormedSVG() throws {
        let svg = PassChart.svg([.init(name: "q4_1 <a&b>", passed: 10, total: 164), .init(name: "f32", passed: 12, total: 164)])
        let document = try XMLDocument(xmlString: svg)
        #expect(document.rootElement()?.name == "svg")
        #expect(svg.contains("q4_1 &lt;a&amp;b&gt;") && svg.contains("6.1% (10/164)") && svg.contains("7.3% (12/164)"))
        #expect(svg.components(separatedBy: "<rect").count == 4)   // background + 2 bars
    }

    @Test func progressLine() {
        let line = ProgressBar.line(label: "generate", done: 41, total: 164, elapsed: 60, width: 8)
        #expect(line.hasPrefix("generate [##......] 41/164  25%  1m00s, ETA 3m00s"))
        #expect(!ProgressBar.line(label: "x", done: 5, total: 5, elapsed: 3).contains("ETA"))
    }
}
