import Foundation

/// One line of the results JSONL: one sample of one problem.
public struct EvalRecord: Codable, Sendable, Equatable {
    public var taskId: String
    /// 0 ..< samples.
    public var sample: Int
    /// The code appended to the problem's prompt (what ran).
    public var completion: String
    /// The model's text before stop-string truncation or code extraction.
    public var raw: String
    public var passed: Bool
    /// nil when passed.
    public var error: ErrorKind?
    public var detail: String
    /// Generated tokens (local engine) or the server's usage.completion_tokens (0 when absent).
    public var tokens: Int
    public var finishReason: String
    public var generationSeconds: Double
    public var executionSeconds: Double
    /// The prompt's token ids, when the generator knows them (the local engine and
    /// tools/humaneval_transformers.py do; a server does not). Two runs that differ here did not
    /// answer the same question, which `eval compare` reports.
    public var promptIds: [Int]?
    /// The generated token ids, when known.
    public var tokenIds: [Int]?

    enum CodingKeys: String, CodingKey {
        case taskId = "task_id", sample, completion, raw, passed, error, detail, tokens, finishReason = "finish_reason"
        case generationSeconds = "generation_seconds", executionSeconds = "execution_seconds"
        case promptIds = "prompt_ids", tokenIds = "token_ids"
    }

    public init(taskId: String, sample: Int, completion: String, raw: String, passed: Bool, error: ErrorKind?, detail: String,
                tokens: Int, finishReason: String, generationSeconds: Double, executionSeconds: Double,
                promptIds: [Int]? = nil, tokenIds: [Int]? = nil) {
        self.taskId = taskId
        self.sample = sample
        self.completion = completion
        self.raw = raw
        self.passed = passed
        self.error = error
        self.detail = detail
        self.tokens = tokens
        self.finishReason = finishReason
        self.generationSeconds = generationSeconds
        self.executionSeconds = executionSeconds
        self.promptIds = promptIds
        self.tokenIds = tokenIds
    }

    public static func encodeLines(_ records: [EvalRecord]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for record in records {
            data.append(try encoder.encode(record))
            data.append(UInt8(ascii: "\n"))
        }
        return data
    }

    public static func load(path: String) throws -> [EvalRecord] {
        guard let data = FileManager.default.contents(atPath: path) else { throw EvalError("\(path): no such file") }
        let decoder = JSONDecoder()
        var records: [EvalRecord] = []
        for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            do {
                records.append(try decoder.decode(EvalRecord.self, from: Data(line)))
            } catch {
                throw EvalError("\(path) line \(number + 1) is not an eval record: \(error)")
            }
        }
        guard !records.isEmpty else { throw EvalError("\(path) holds no records") }
        return records
    }
}

/// pass@k over a run's records, with a 95 % interval.
public struct EvalSummary: Codable, Sendable, Equatable {
    public struct Score: Codable, Sendable, Equatable {
        public var k: Int
        public var value: Double
        public var low: Double
        public var high: Double
        /// "wilson" (greedy pass@1: one trial per problem) or "bootstrap" (2000 resamples of problems).
        public var interval: String
    }

    public var problems: Int
    public var samplesPerProblem: Int
    /// Problems whose every sample was scored (k ≤ the smallest sample count).
    public var solved: Int
    public var scores: [Score]
    public var errors: [String: Int]
    public var sandbox: String
    public var settings: [String: String]
    public var generationSeconds: Double
    public var executionSeconds: Double

    enum CodingKeys: String, CodingKey {
        case problems, samplesPerProblem = "samples_per_problem", solved, scores, errors, sandbox, settings
        case generationSeconds = "generation_seconds", executionSeconds = "execution_seconds"
    }

    /// pass@k for k in {1, 10, 100} up to the samples per problem.
    public static func make(records: [EvalRecord], sandbox: String, settings: [String: String],
                            generationSeconds: Double, executionSeconds: Double) -> EvalSummary {
        let byTask = Dictionary(grouping: records, by: \.taskId)
        let n = byTask.values.map(\.count).min() ?? 0
        var scores: [Score] = []
        for k in [1, 10, 100] where k <= n {
            let values = byTask.values.compactMap { PassAtK.estimate(n: $0.count, c: $0.filter(\.passed).count, k: k) }
            let mean = values.reduce(0, +) / Double(max(1, values.count))
            if n == 1 {
                let interval = PassAtK.wilson(successes: values.filter { $0 == 1 }.count, trials: values.count)
                scores.append(Score(k: k, value: mean, low: interval.low, high: interval.high, interval: "wilson"))
            } else {
                let interval = PassAtK.bootstrap(values)
                scores.append(Score(k: k, value: mean, low: interval.low, high: interval.high, interval: "bootstrap"))
            }
        }
        var errors: [String: Int] = [:]
        for record in records { if let error = record.error { errors[error.rawValue, default: 0] += 1 } }
        return EvalSummary(problems: byTask.count, samplesPerProblem: n,
                           solved: byTask.values.filter { $0.contains(where: \.passed) }.count, scores: scores, errors: errors,
                           sandbox: sandbox, settings: settings, generationSeconds: generationSeconds, executionSeconds: executionSeconds)
    }

    public var lines: [String] {
        var out = ["problems \(problems), samples per problem \(samplesPerProblem), solved by any sample \(solved)"]
        for score in scores {
            out.append(String(format: "pass@%d = %.2f%% (95%% %@ interval %.2f–%.2f%%)", score.k, score.value * 100, score.interval,
                              score.low * 100, score.high * 100))
        }
        if !errors.isEmpty {
            out.append("failures: " + errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        out.append(String(format: "generation %.1f s, execution %.1f s, sandbox: %@", generationSeconds, executionSeconds, sandbox))
        return out
    }
}
