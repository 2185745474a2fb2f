import ArgumentParser
import Foundation
import IQuestEngine
import IQuestEval
import IQuestKernels

/// `iquest eval`: HumanEval with sandboxed execution, and paired comparison of runs.
struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a model on HumanEval (generated code runs in a bubblewrap sandbox) and compare runs.",
        subcommands: [EvalHumanEval.self, EvalScore.self, EvalCompare.self, EvalSandboxTest.self])
}

extension PromptMode: ExpressibleByArgument {}

/// Sandbox choices shared by `humaneval` and `sandbox-test`.
struct SandboxOptions: ParsableArguments {
    @Option(help: "Wall-clock seconds per program before it is killed.")
    var timeout: Double = 10
    @Option(help: "Programs run at once (each in its own sandbox).")
    var workers: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "HumanEval.jsonl (default: $IQUEST_CACHE/humaneval/HumanEval.jsonl, from tools/fetch-assets.sh humaneval).")
    var data: String?

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
    }

    var limits: SandboxLimits {
        var limits = SandboxLimits()
        limits.wallSeconds = timeout
        limits.cpuSeconds = max(1, Int(timeout.rounded(.up)) / 2)
        return limits
    }

    func problems() throws -> [HumanEvalProblem] { try HumanEvalProblem.load(path: data ?? HumanEvalProblem.defaultPath) }

    /// The self-test over every problem's canonical solution and the negative controls; throws
    /// (after printing why) when the sandbox cannot be trusted.
    func verifiedSandbox(problems: [HumanEvalProblem]) throws -> Sandbox {
        let sandbox: Sandbox
        do {
            sandbox = try Sandbox.bubblewrap(limits: limits)
        } catch {
            throw EvalError("no working sandbox: \(error). Refusing to run generated code; --unsafe-no-sandbox runs it unconfined")
        }
        let report = SandboxSelfTest.run(sandbox: sandbox, problems: problems, workers: workers)
        report.lines.forEach(printError)
        guard report.ok else {
            throw EvalError("the sandbox self-test failed (see above). Refusing to run generated code; --unsafe-no-sandbox runs it unconfined")
        }
        return sandbox
    }
}

struct EvalSandboxTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox-test",
        abstract: "Run the sandbox self-test: every canonical solution must pass, every negative control fail for its own reason.")

    @OptionGroup var sandbox: SandboxOptions

    func run() throws {
        try failingCleanly { _ = try sandbox.verifiedSandbox(problems: try sandbox.problems()) }
    }
}

struct EvalCompare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare runs problem by problem (sample 0 of each): McNemar exact test, identical completions, a pass@1 chart.")

    @Argument(help: "Results JSONL files of `iquest eval humaneval` (or tools/humaneval_transformers.py); each later run is compared with the first.")
    var runs: [String]
    @Option(help: "Write an SVG bar chart of pass@1 per run (95% Wilson whiskers) here.")
    var chart: String?

    func validate() throws {
        guard runs.count >= 2 else { throw ValidationError("give at least two results files") }
    }

    func run() throws {
        try failingCleanly {
            let loaded = try runs.map { try EvalRecord.load(path: $0) }
            let names = runs.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
            for index in 1..<runs.count {
                let comparison = try RunComparison(loaded[0], loaded[index], nameA: names[0], nameB: names[index])
                comparison.lines.forEach { print($0) }
                if index + 1 < runs.count { print("") }
            }
            if let chart {
                let bars = zip(names, loaded).map { name, records in
                    let first = records.filter { $0.sample == 0 }
                    return PassChart.Bar(name: name, passed: first.filter(\.passed).count, total: first.count)
                }
                try PassChart.svg(bars).write(toFile: chart, atomically: true, encoding: .utf8)
                printError("chart written to \(chart)")
            }
        }
    }
}

/// Runs recorded completions again (another tool's output, e.g. tools/humaneval_transformers.py,
/// or a past run), so every score comes from the same sandbox and harness.
struct EvalScore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Execute the completions of a results JSONL in the sandbox and write them scored, with a summary.")

    @Argument(help: "JSONL with task_id, sample, completion (and raw, tokens, finish_reason, generation_seconds).")
    var input: String
    @OptionGroup var sandbox: SandboxOptions
    @Option(name: .shortAndLong, help: "Scored results JSONL.")
    var output: String

    func run() throws {
        try failingCleanly {
            let problems = try sandbox.problems()
            let byId = Dictionary(problems.map { ($0.taskId, $0) }, uniquingKeysWith: { first, _ in first })
            let recorded = try EvalRecord.load(path: input)
            let pairs = try recorded.map { record -> (HumanEvalProblem, String) in
                guard let problem = byId[record.taskId] else { throw EvalError("\(input): unknown task \(record.taskId)") }
                return (problem, record.completion)
            }
            let runner = try sandbox.verifiedSandbox(problems: problems)
            let started = Date()
            let outcomes = HumanEvalRun.executeCompletions(pairs, sandbox: runner, workers: sandbox.workers)
            var records = recorded
            for index in records.indices {
                records[index].passed = outcomes[index].passed
                records[index].error = outcomes[index].error
                records[index].detail = outcomes[index].detail
                records[index].executionSeconds = outcomes[index].seconds
            }
            let summary = EvalSummary.make(records: records, sandbox: runner.kind.rawValue, settings: ["source": input],
                                           generationSeconds: records.reduce(0) { $0 + $1.generationSeconds },
                                           executionSeconds: Date().timeIntervalSince(started))
            try EvalRecord.encodeLines(records).write(to: URL(fileURLWithPath: output))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(summary).write(to: URL(fileURLWithPath: EvalHumanEval.summaryPath(output)))
            summary.lines.forEach { print($0) }
        }
    }
}
