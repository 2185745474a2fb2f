/// Why a program failed, read from how its process ended. The kinds are what the sandbox's negative
/// controls must tell apart: each control fails for its own reason or the self-test fails.
public enum ErrorKind: String, Codable, Sendable, CaseIterable {
    /// An `assert` in the tests failed: a wrong answer.
    case assertion
    /// The wall-clock or CPU-time limit ended it.
    case timeout
    /// A socket operation failed for lack of a network (no route, no name resolution).
    case network
    /// A write outside the private /tmp (read-only or absent path), or the file-size limit.
    case fs
    /// fork/thread creation refused by the process limit.
    case processLimit = "process_limit"
    /// An allocation refused by the address-space limit.
    case memory
    /// The program does not parse.
    case syntax
    /// Any other Python exception (NameError, TypeError, IndexError, …).
    case runtime
    /// Killed by another signal, or exited without a verdict.
    case crash
    /// The sandbox itself failed to start the program.
    case sandbox
}

/// The verdict on one program.
public struct ExecutionOutcome: Sendable, Equatable {
    public var passed: Bool
    public var error: ErrorKind?
    /// Exception type and message, signal, or the sandbox's complaint: one line.
    public var detail: String
    public var seconds: Double

    public init(passed: Bool, error: ErrorKind?, detail: String, seconds: Double) {
        self.passed = passed
        self.error = error
        self.detail = detail
        self.seconds = seconds
    }
}

/// Reads the verdict from the exit status, the signal and the harness's marker lines
/// (`SandboxHarness`). Errnos are Linux's.
public enum OutcomeClassifier {
    static let networkErrnos: Set<Int> = [99, 101, 110, 111, 113]           // EADDRNOTAVAIL ENETUNREACH ETIMEDOUT ECONNREFUSED EHOSTUNREACH
    static let filesystemErrnos: Set<Int> = [1, 2, 13, 27, 28, 30]          // EPERM ENOENT EACCES EFBIG ENOSPC EROFS
    static let networkTypes: Set<String> = ["gaierror", "herror", "ConnectionRefusedError", "ConnectionError"]

    public static func classify(status: Int32?, signal: Int32?, timedOut: Bool, stdout: String, stderr: String,
                         seconds: Double) -> ExecutionOutcome {
        func outcome(_ kind: ErrorKind?, _ detail: String) -> ExecutionOutcome {
            ExecutionOutcome(passed: kind == nil, error: kind, detail: detail, seconds: seconds)
        }
        if timedOut { return outcome(.timeout, String(format: "killed after %.1f s of wall-clock time", seconds)) }
        // bwrap reports its child's death by signal N as exit status 128 + N.
        let signal = signal ?? status.flatMap { $0 > 128 && $0 < 160 ? $0 - 128 : nil }
        if let signal {
            switch signal {
            case 24: return outcome(.timeout, "CPU-time limit (SIGXCPU)")
            case 9: return outcome(.timeout, "killed (SIGKILL) at the CPU-time hard limit")
            case 25: return outcome(.fs, "file-size limit (SIGXFSZ)")
            default: return outcome(.crash, "killed by signal \(signal)")
            }
        }
        if let marker = stderr.split(separator: "\n").last(where: { $0.hasPrefix(SandboxHarness.errorMarker) }) {
            let fields = marker.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            let type = fields.count > 1 ? fields[1] : "?"
            let number = fields.count > 2 ? Int(fields[2]) : nil
            let message = fields.count > 3 ? fields[3] : ""
            let detail = message.isEmpty ? type : "\(type): \(message)"
            return outcome(kind(type: type, errno: number, message: message), detail)
        }
        if status == 0, stdout.split(separator: "\n").last.map(String.init) == SandboxHarness.passMarker {
            return outcome(nil, "passed")
        }
        if stderr.hasPrefix("bwrap:") || stderr.contains("\nbwrap:") || stderr.hasPrefix("prlimit:") || stderr.hasPrefix("setpriv:") {
            return outcome(.sandbox, firstLine(stderr))
        }
        if stderr.contains("MemoryError") { return outcome(.memory, "MemoryError before the harness ran") }
        return outcome(.crash, "exit status \(status.map(String.init) ?? "?") without a verdict: \(firstLine(stderr))")
    }

    static func kind(type: String, errno: Int?, message: String) -> ErrorKind {
        switch type {
        case "AssertionError": return .assertion
        case "MemoryError": return .memory
        case "SyntaxError", "IndentationError", "TabError": return .syntax
        case "RecursionError": return .runtime
        default: break
        }
        if type == "BlockingIOError" && errno == 11 { return .processLimit }       // EAGAIN from fork
        if type == "RuntimeError" && message.contains("can't start new thread") { return .processLimit }
        if networkTypes.contains(type) { return .network }
        if let errno, networkErrnos.contains(errno) { return .network }
        if let errno, filesystemErrnos.contains(errno) { return .fs }
        return .runtime
    }

    static func firstLine(_ text: String) -> String {
        String(text.split(separator: "\n").first(where: { !$0.isEmpty })?.prefix(200) ?? "")
    }
}
