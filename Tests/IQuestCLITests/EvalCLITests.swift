import Foundation
import IQuestEval
import Testing

/// `iquest eval` end to end: the real binary, the real sandbox, SmolLM2 from the asset cache.
@Suite(.serialized) struct EvalCLITests {
    /// Ten problems greedily with SmolLM2 Q4_1: the run completes, every JSONL line is a whole
    /// record, and re-executing each recorded completion in a fresh sandbox gives the same verdicts
    /// (so the pass count is the completions' own, not an artefact of the run).
    @Test func tenProblemGreedyRunOnSmolLM2() throws {
        let model = try CLIFixtures.cached("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        let problems = try HumanEvalProblem.load()
        let dir = try CLITempDirectory()
        let output = dir.path("q4_1.jsonl")
        let result = try runIQuest(["eval", "humaneval", "--model", model, "--limit", "10", "--max-tokens", "128",
                                    "--threads", "2", "--quiet", "--output", output], timeout: 1800)
        #expect(result.status == 0, "\(result.summary)")
        #expect(result.stderr.contains("canonical solutions 164/164 pass"), "\(result.summary)")
        #expect(result.stderr.contains("sandbox self-test passed"))

        let lines = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 10)
        for (index, line) in lines.enumerated() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["task_id"] as? String == "HumanEval/\(index)")
            let passed = try #require(object["passed"] as? Bool)
            #expect((object["error"] is NSNull || object["error"] == nil) == passed)
            #expect(object["completion"] is String && object["raw"] is String && object["generation_seconds"] is Double)
        }
        let records = try EvalRecord.load(path: output)
        for record in records {
            #expect(!CompletionRules.stopStrings.contains { record.completion.contains($0) }, "\(record.taskId) not cut")
            #expect(record.raw.hasPrefix(record.completion))
            #expect(record.tokens >= 1 && record.tokens <= 128)
            // The ids the engine saw and wrote are recorded, so another engine's run can be checked
            // against them (eval compare's "same prompt token ids").
            #expect((record.promptIds?.count ?? 0) > 0, "\(record.taskId) has no prompt ids")
            #expect(record.tokenIds?.count == record.tokens, "\(record.taskId): token ids vs tokens")
        }

        let sandbox = try Sandbox.bubblewrap()
        let rerun = records.map { record in
            sandbox.run(problems.first { $0.taskId == record.taskId }?.program(completion: record.completion) ?? "")
        }
        #expect(rerun.map(\.passed) == records.map(\.passed))
        #expect(rerun.map(\.error) == records.map(\.error))

        let summary = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: dir.path("q4_1.summary.json")))) as? [String: Any])
        let scores = try #require(summary["scores"] as? [[String: Any]])
        let passed = records.filter(\.passed).count
        #expect(scores.first?["value"] as? Double == Double(passed) / 10)
        #expect(summary["sandbox"] as? String == "bubblewrap")
        #expect(result.stdout.contains(String(format: "pass@1 = %.2f%%", Double(passed) * 10)))

        // The same run compared with itself: all concordant, every completion identical.
        let compared = try runIQuest(["eval", "compare", output, output, "--chart", dir.path("chart.svg")])
        #expect(compared.status == 0, "\(compared.summary)")
        #expect(compared.stdout.contains("identical completions: 10/10"))
        #expect(compared.stdout.contains("same prompt token ids: 10/10"))
        #expect(compared.stdout.contains("p = 1"))
        #expect(FileManager.default.fileExists(atPath: dir.path("chart.svg")))
    }

    @Test func refusesWithoutASandbox() throws {
        let dir = try CLITempDirectory()
        let result = try runIQuest(["eval", "humaneval", "--url", "http://127.0.0.1:9", "--limit", "1", "--output", dir.path("r.jsonl")],
                                   environment: ["IQUEST_BWRAP": "/nonexistent/bwrap", "PATH": "/nonexistent"])
        #expect(result.status == 1, "\(result.summary)")
        #expect(result.stderr.contains("no working sandbox"))
        #expect(result.stderr.contains("--unsafe-no-sandbox"))
        #expect(!FileManager.default.fileExists(atPath: dir.path("r.jsonl")))
    }

    @Test(arguments: [
        (["--limit", "1"], "exactly one of --model or --url"),
        (["--url", "http://x:1", "--model", "m.gguf"], "exactly one of --model or --url"),
        (["--url", "http://x:1", "--samples", "5"], "needs --temperature > 0"),
        (["--url", "http://x:1", "--limit", "0"], "--limit must be at least 1"),
        (["--url", "http://x:1", "--mode", "poem"], "poem"),
    ])
    func badArgumentsAreRefused(_ arguments: [String], _ message: String) throws {
        let result = try runIQuest(["eval", "humaneval"] + arguments)
        #expect(result.status == 64, "\(result.summary)")
        #expect(result.stderr.contains(message), "\(result.summary)")
    }
}
