import Foundation
import IQuestEval

struct EvalTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum EvalAssets {
    /// The 164 problems, or an error saying how to fetch them.
    static func problems() throws -> [HumanEvalProblem] {
        guard FileManager.default.fileExists(atPath: HumanEvalProblem.defaultPath) else {
            throw EvalTestFailure("missing \(HumanEvalProblem.defaultPath); run tools/fetch-assets.sh humaneval")
        }
        return try HumanEvalProblem.load()
    }

    /// A synthetic problem for extraction tests.
    static let addProblem = HumanEvalProblem(
        taskId: "Test/0", prompt: "def add(a: int, b: int) -> int:\n    \"\"\"Sum of a and b.\"\"\"\n",
        canonicalSolution: "    return a + b\n", test: "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
        entryPoint: "add")
}
