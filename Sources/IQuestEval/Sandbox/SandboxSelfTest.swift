import Foundation

/// What a score needs first: every canonical solution passes, and each hostile program fails for
/// its own reason (a control that fails for another reason means the limit meant for it is not
/// what stopped it).
public struct SandboxSelfTest: Sendable {
    public struct Control: Sendable {
        public let name: String
        public let program: String
        /// nil: the control must pass (writing inside the private /tmp).
        public let expected: ErrorKind?
    }

    public struct ControlResult: Sendable {
        public let control: Control
        public let outcome: ExecutionOutcome
        public var ok: Bool { outcome.error == control.expected && outcome.passed == (control.expected == nil) }
    }

    public struct Report: Sendable {
        public let canonicalPassed: Int
        public let canonicalTotal: Int
        /// Canonical solutions that did not pass, with the outcome.
        public let canonicalFailures: [(taskId: String, outcome: ExecutionOutcome)]
        public let controls: [ControlResult]
        public let seconds: Double
        public var ok: Bool { canonicalPassed == canonicalTotal && controls.allSatisfy(\.ok) }

        public var lines: [String] {
            var out = ["sandbox self-test: canonical solutions \(canonicalPassed)/\(canonicalTotal) pass"]
            for failure in canonicalFailures.prefix(5) {
                out.append("  \(failure.taskId): \(failure.outcome.error?.rawValue ?? "?") (\(failure.outcome.detail))")
            }
            for result in controls {
                let expected = result.control.expected?.rawValue ?? "pass"
                let got = result.outcome.passed ? "pass" : (result.outcome.error?.rawValue ?? "?")
                out.append(String(format: "  %@ %@: expected %@, got %@ (%@)", result.ok ? "ok  " : "FAIL", result.control.name,
                                  expected, got, result.outcome.detail))
            }
            out.append(String(format: "sandbox self-test %@ in %.1f s", ok ? "passed" : "FAILED", seconds))
            return out
        }
    }

    /// The negative controls (and one positive: /tmp is writable). `wrong answer` is built on
    /// HumanEval/0 when given, else a bare failing assert.
    public static func controls(wrongAnswerBase: HumanEvalProblem?) -> [Control] {
        let wrong = wrongAnswerBase.map { $0.program(completion: "    return None\n") } ?? "assert 1 + 1 == 3\n"
        return [
            Control(name: "wrong answer", program: wrong, expected: .assertion),
            Control(name: "infinite loop", program: "while True:\n    pass\n", expected: .timeout),
            Control(name: "network access", program: """
                import socket
                socket.create_connection(("1.1.1.1", 53), timeout=3).close()
                """, expected: .network),
            Control(name: "write outside /tmp", program: """
                with open("/usr/iquest-sandbox-escape", "w") as f:
                    f.write("escaped")
                """, expected: .fs),
            Control(name: "fork bomb", program: "import os\nwhile True:\n    os.fork()\n", expected: .processLimit),
            Control(name: "4 GiB allocation", program: "block = bytearray(4 << 30)\n", expected: .memory),
            Control(name: "write inside /tmp", program: """
                with open("/tmp/scratch.txt", "w") as f:
                    f.write("ok")
                assert open("/tmp/scratch.txt").read() == "ok"
                """, expected: nil),
        ]
    }

    /// Runs the canonical solutions of `problems` and the controls, `workers` at a time.
    public static func run(sandbox: Sandbox, problems: [HumanEvalProblem], workers: Int) -> Report {
        let started = Date()
        let controls = controls(wrongAnswerBase: problems.first)
        let programs = problems.map { $0.program(completion: $0.canonicalSolution) } + controls.map(\.program)
        let outcomes = ParallelRunner.map(programs, workers: workers) { program, slot in sandbox.run(program, slot: slot) }
        let canonical = Array(outcomes.prefix(problems.count))
        let failures = zip(problems, canonical).filter { !$0.1.passed }.map { (taskId: $0.0.taskId, outcome: $0.1) }
        let results = zip(controls, outcomes.suffix(controls.count)).map { ControlResult(control: $0.0, outcome: $0.1) }
        return Report(canonicalPassed: canonical.filter(\.passed).count, canonicalTotal: problems.count,
                      canonicalFailures: failures, controls: results, seconds: Date().timeIntervalSince(started))
    }
}
