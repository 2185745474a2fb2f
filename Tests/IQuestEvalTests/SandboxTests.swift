import Foundation
import Testing
import IQuestEval

/// The sandbox's promises, each checked by a program that breaks it; these run in CI (the setup
/// installs bubblewrap).
@Suite(.serialized) struct SandboxTests {
    let sandbox: Sandbox

    init() throws {
        var limits = SandboxLimits()
        limits.wallSeconds = 6
        limits.cpuSeconds = 3
        sandbox = try Sandbox.bubblewrap(limits: limits)
    }

    @Test func everyCanonicalSolutionPasses() throws {
        let problems = try EvalAssets.problems()
        #expect(problems.count == 164)
        let outcomes = ParallelRunner.map(problems, workers: 4) { problem, slot in
            sandbox.run(problem.program(completion: problem.canonicalSolution), slot: slot)
        }
        let failures = zip(problems, outcomes).filter { !$0.1.passed }.map { "\($0.0.taskId): \($0.1.detail)" }
        #expect(failures.isEmpty, "\(failures)")
        #expect(outcomes.filter(\.passed).count == 164)
    }

    @Test(arguments: SandboxSelfTest.controls(wrongAnswerBase: nil).map(\.name))
    func negativeControlFailsForItsOwnReason(_ name: String) throws {
        let problems = try EvalAssets.problems()
        let control = try #require(SandboxSelfTest.controls(wrongAnswerBase: problems.first).first { $0.name == name })
        let outcome = sandbox.run(control.program)
        #expect(outcome.error == control.expected, "\(name): \(outcome.detail)")
        #expect(outcome.passed == (control.expected == nil))
    }

    @Test func runsAsAnUnprivilegedUserInAnEmptyReadOnlyWorld() {
        let outcome = sandbox.run("""
            import os
            assert os.getuid() == 65534 and os.getgid() == 65534, (os.getuid(), os.getgid())
            for path in ("/root", "/home", "/etc", "/work", "/var"):
                assert not os.path.exists(path), path
            assert sorted(os.listdir("/tmp")) == [], os.listdir("/tmp")
            assert os.getcwd() == "/tmp"
            assert "IQUEST_CACHE" not in os.environ and set(os.environ) <= {"PATH", "HOME", "PWD", "LC_CTYPE"}, dict(os.environ)
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
            assert len(pids) <= 3, pids   # bwrap's init, python (and nothing of the host)
            """)
        #expect(outcome.passed, "\(outcome.detail)")
    }

    @Test func loopbackIsUnreachableToo() {
        let outcome = sandbox.run("import socket\nsocket.create_connection((\"127.0.0.1\", 22), timeout=2)\n")
        #expect(outcome.error == .network, "\(outcome.detail)")
    }

    @Test func selfTestPassesAndReportsEachControl() throws {
        let problems = try EvalAssets.problems()
        let report = SandboxSelfTest.run(sandbox: sandbox, problems: Array(problems.prefix(8)), workers: 4)
        #expect(report.ok, "\(report.lines)")
        #expect(report.canonicalPassed == 8)
        #expect(report.controls.count == 7)
        #expect(report.lines.last?.contains("passed") == true)
    }

    @Test func aWrongCompletionOfARealProblemIsAnAssertion() throws {
        let problem = try #require(try EvalAssets.problems().first { $0.taskId == "HumanEval/2" })   // truncate_number
        let outcome = sandbox.run(problem.program(completion: "    return number\n"))
        #expect(outcome.error == .assertion, "\(outcome.detail)")
        let syntax = sandbox.run(problem.program(completion: "    return (number %\n"))
        #expect(syntax.error == .syntax, "\(syntax.detail)")
        let name = sandbox.run(problem.program(completion: "    return undefined_name\n"))
        #expect(name.error == .runtime && name.detail.hasPrefix("NameError"), "\(name.detail)")
    }
}
