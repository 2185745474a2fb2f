import Foundation

/// Settings of one HumanEval run.
public struct EvalSettings: Sendable {
    public var mode: PromptMode = .completion
    public var samples = 1
    public var maxTokens = 512
    /// 0 = greedy.
    public var temperature: Float = 0
    public var topP: Float = 0.95
    public var seed: UInt64 = 0

    public init() {}

    public var description: [String: String] {
        ["mode": mode.rawValue, "samples": "\(samples)", "max_tokens": "\(maxTokens)", "temperature": "\(temperature)",
         "top_p": temperature > 0 ? "\(topP)" : "-", "seed": "\(seed)"]
    }
}

/// The steps of a run: jobs from problems, completions from generated text, verdicts from the
/// sandbox.
public enum HumanEvalRun {
    public static func jobs(_ problems: [HumanEvalProblem], settings: EvalSettings) -> [GenerationJob] {
        var jobs: [GenerationJob] = []
        for problem in problems {
            for sample in 0..<settings.samples {
                jobs.append(GenerationJob(index: jobs.count, problem: problem, sample: sample, mode: settings.mode,
                                          maxTokens: settings.maxTokens, temperature: settings.temperature, topP: settings.topP,
                                          seed: settings.seed &+ UInt64(sample)))
            }
        }
        return jobs
    }

    /// The code appended to the prompt (`CompletionRules`).
    public static func completion(for job: GenerationJob, text: String) -> String {
        switch job.mode {
        case .completion: return CompletionRules.truncate(text)
        case .chat: return CompletionRules.extractChat(text, problem: job.problem)
        }
    }

    /// Verdicts for (problem, completion) pairs, in order.
    public static func executeCompletions(_ pairs: [(HumanEvalProblem, String)], sandbox: Sandbox, workers: Int,
                                          progress: (@Sendable (Int) -> Void)? = nil) -> [ExecutionOutcome] {
        ParallelRunner.map(pairs.map { $0.0.program(completion: $0.1) }, workers: workers, progress: progress) { program, slot in
            sandbox.run(program, slot: slot)
        }
    }

    /// Runs every completion in the sandbox, `workers` at a time.
    public static func execute(_ jobs: [GenerationJob], generated: [GeneratedText], sandbox: Sandbox, workers: Int,
                               progress: (@Sendable (Int) -> Void)? = nil) -> [EvalRecord] {
        let items = zip(jobs, generated).map { job, text in (job: job, text: text, completion: completion(for: job, text: text.text)) }
        let outcomes = executeCompletions(items.map { ($0.job.problem, $0.completion) }, sandbox: sandbox, workers: workers,
                                          progress: progress)
        return zip(items, outcomes).map { item, outcome in
            EvalRecord(taskId: item.job.problem.taskId, sample: item.job.sample, completion: item.completion, raw: item.text.text,
                       passed: outcome.passed, error: outcome.error, detail: outcome.detail, tokens: item.text.tokens,
                       finishReason: item.text.finishReason, generationSeconds: item.text.seconds, executionSeconds: outcome.seconds,
                       promptIds: item.text.promptIds, tokenIds: item.text.tokenIds)
        }
    }
}
