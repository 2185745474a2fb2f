import Testing
import IQuestEval

/// How a process ending maps to a verdict, without running anything.
struct OutcomeClassifierTests {
    func classify(status: Int32? = 3, signal: Int32? = nil, timedOut: Bool = false, stdout: String = "", stderr: String = "") -> ExecutionOutcome {
        OutcomeClassifier.classify(status: status, signal: signal, timedOut: timedOut, stdout: stdout, stderr: stderr, seconds: 0.1)
    }

    func marker(_ type: String, _ errno: String = "", _ message: String = "") -> String {
        "Traceback ...\n\(SandboxHarness.errorMarker)\t\(type)\t\(errno)\t\(message)\n"
    }

    @Test func passesOnlyWithExitZeroAndTheMarkerLast() {
        #expect(classify(status: 0, stdout: "hello\n\n\(SandboxHarness.passMarker)\n").passed)
        #expect(!classify(status: 0, stdout: "hello\n").passed)
        #expect(classify(status: 0, stdout: "hello\n").error == .crash)
        #expect(!classify(status: 1, stdout: "\(SandboxHarness.passMarker)\n").passed)
    }

    @Test(arguments: [
        ("AssertionError", "", "", ErrorKind.assertion), ("MemoryError", "", "", .memory), ("SyntaxError", "", "invalid syntax", .syntax),
        ("IndentationError", "", "", .syntax), ("BlockingIOError", "11", "Resource temporarily unavailable", .processLimit),
        ("RuntimeError", "", "can't start new thread", .processLimit), ("OSError", "101", "Network is unreachable", .network),
        ("gaierror", "-3", "Temporary failure in name resolution", .network), ("OSError", "30", "Read-only file system", .fs),
        ("FileNotFoundError", "2", "No such file", .fs), ("PermissionError", "13", "", .fs), ("NameError", "", "name 'x' is not defined", .runtime),
        ("SystemExit", "", "0", .runtime), ("RecursionError", "", "", .runtime),
    ])
    func exceptionKinds(_ type: String, _ errno: String, _ message: String, _ expected: ErrorKind) {
        let outcome = classify(stderr: marker(type, errno, message))
        #expect(outcome.error == expected)
        #expect(!outcome.passed)
        #expect(outcome.detail.hasPrefix(type))
    }

    @Test func signalsAndTimeouts() {
        #expect(classify(status: nil, timedOut: true).error == .timeout)
        #expect(classify(status: nil, signal: 24).error == .timeout)
        #expect(classify(status: 128 + 24).error == .timeout)    // bwrap passes the child's signal on as 128 + N
        #expect(classify(status: 128 + 9).error == .timeout)
        #expect(classify(status: 128 + 25).error == .fs)
        #expect(classify(status: 128 + 11).error == .crash)
        #expect(classify(status: 1, stderr: "bwrap: No permissions to creating new namespace\n").error == .sandbox)
    }

    @Test func theLastMarkerWins() {
        let stderr = marker("AssertionError") + "noise\n" + marker("MemoryError")
        #expect(classify(stderr: stderr).error == .memory)
    }
}
