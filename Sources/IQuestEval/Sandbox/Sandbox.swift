import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Limits on one program run. The defaults let every canonical HumanEval solution pass with room
/// on a loaded 2-core machine, and stop each negative control quickly.
public struct SandboxLimits: Sendable, Equatable {
    /// Wall-clock time per program (the process is SIGKILLed after it).
    public var wallSeconds: Double = 10
    /// CPU time (RLIMIT_CPU soft; SIGXCPU).
    public var cpuSeconds: Int = 5
    /// Address space (RLIMIT_AS): below 4 GiB so the 4 GiB control fails with MemoryError.
    public var memoryBytes: Int = 1 << 30
    /// Largest file the program may write (RLIMIT_FSIZE; also bounds its stdout/stderr files).
    public var fileBytes: Int = 16 << 20
    /// Processes of the sandbox's user (RLIMIT_NPROC).
    public var processes: Int = 32

    public init() {}
}

public struct SandboxError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a Python program under bubblewrap:
/// - as an unprivileged user: when we are root, `setpriv` first drops to a uid/gid of its own
///   (`SandboxUIDs`: RLIMIT_NPROC is not enforced for root, and counts per uid, so concurrent runs,
///   of this process or another, must not share one or a fork bomb starves the others); inside, a
///   new user namespace maps it to 65534;
/// - new network, pid, ipc, uts and cgroup namespaces: no network (not even loopback), the
///   program sees only its own processes, and `--die-with-parent` plus the pid namespace take
///   every descendant down when the outer process is killed;
/// - the root is empty and read-only; /usr is bound read-only (with the /bin, /lib, /lib64 links),
///   /proc and a minimal /dev are fresh, /tmp is a private tmpfs (the working directory);
/// - `prlimit` sets CPU, address space, file size, process and core limits before bwrap starts,
///   and they are inherited by everything inside; the environment is cleared.
/// `unsafeNoSandbox` runs the same harness directly under the same rlimits (nothing else).
public struct Sandbox: Sendable {
    public enum Kind: String, Sendable { case bubblewrap, unsafeNoSandbox = "none (--unsafe-no-sandbox)" }

    public let kind: Kind
    public let limits: SandboxLimits
    let bwrap: String?
    let prlimit: String
    let setpriv: String?
    let python: String

    /// Finds bwrap, prlimit (and setpriv when root) and /usr/bin/python3, or says what is missing
    /// and how to get it.
    public static func bubblewrap(limits: SandboxLimits = SandboxLimits()) throws -> Sandbox {
        // IQUEST_BWRAP names another bwrap binary (an unusual install, or a test of the refusal).
        let override = ProcessInfo.processInfo.environment["IQUEST_BWRAP"]
        guard let bwrap = override.map({ FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }) ?? executable("bwrap") else {
            throw SandboxError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap (Debian/Ubuntu), or pass --unsafe-no-sandbox to run generated code unconfined")
        }
        guard let prlimit = executable("prlimit") else { throw SandboxError("prlimit (util-linux) is not installed") }
        let root = geteuid() == 0
        let setpriv = root ? executable("setpriv") : nil
        if root && setpriv == nil { throw SandboxError("running as root needs setpriv (util-linux) to drop to an unprivileged user") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
            throw SandboxError("the sandbox runs /usr/bin/python3 (only /usr is visible inside): apt-get install python3")
        }
        return Sandbox(kind: .bubblewrap, limits: limits, bwrap: bwrap, prlimit: prlimit, setpriv: setpriv, python: "/usr/bin/python3")
    }

    /// No isolation: the harness runs as this user with the rlimits only.
    public static func unsafeNoSandbox(limits: SandboxLimits = SandboxLimits()) throws -> Sandbox {
        guard let prlimit = executable("prlimit") else { throw SandboxError("prlimit (util-linux) is not installed") }
        guard let python = executable("python3") else { throw SandboxError("python3 is not installed") }
        return Sandbox(kind: .unsafeNoSandbox, limits: limits, bwrap: nil, prlimit: prlimit, setpriv: nil, python: python)
    }

    /// Runs `program`. `slot` is the caller's worker number (kept for callers; the uid comes from
    /// `SandboxUIDs`, so concurrent runs never share one).
    public func run(_ program: String, slot: Int = 0) -> ExecutionOutcome {
        let argv = command(slot: slot)
        do {
            let result = try ChildProcess.run(argv, stdin: Data(program.utf8), timeout: limits.wallSeconds)
            return OutcomeClassifier.classify(status: result.status, signal: result.signal, timedOut: result.timedOut,
                                              stdout: result.stdout, stderr: result.stderr, seconds: result.seconds)
        } catch {
            return ExecutionOutcome(passed: false, error: .sandbox, detail: "\(error)", seconds: 0)
        }
    }

    func command(slot: Int) -> [String] {
        let asRoot = setpriv != nil
        // A non-root user's process count includes all its other processes: the limit is on top.
        let processes = asRoot || kind == .unsafeNoSandbox ? limits.processes : Self.processCount(uid: getuid()) + limits.processes
        var argv = [prlimit, "--cpu=\(limits.cpuSeconds):\(limits.cpuSeconds + 1)", "--as=\(limits.memoryBytes)",
                    "--fsize=\(limits.fileBytes)", "--nproc=\(processes)", "--core=0", "--"]
        let harness = [python, "-I", "-S", "-c", SandboxHarness.script]
        guard let bwrap else { return argv + harness }
        if let setpriv {
            let uid = SandboxUIDs.shared.next()
            argv += [setpriv, "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--"]
        }
        argv += [bwrap, "--unshare-user", "--uid", "65534", "--gid", "65534",
                 "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                 "--die-with-parent", "--new-session",
                 "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
                 "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                 "--chdir", "/tmp", "--remount-ro", "/", "--clearenv", "--setenv", "PATH", "/usr/bin",
                 "--setenv", "HOME", "/tmp", "--"]
        return argv + harness
    }

    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in (path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin", "/usr/sbin"]) {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Processes whose real uid is `uid` (from /proc/*/status).
    static func processCount(uid: uid_t) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.reduce(0) { count, pid in
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }) else { return count }
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            return fields.count > 1 && fields[1] == "\(uid)" ? count + 1 : count
        }
    }
}

/// Unprivileged uids for sandboxes started as root: a block of 64 per process (from its pid, so two
/// eval processes on one machine use different blocks), handed out in turn, so runs in flight at
/// once (at most the worker count, well under 64) never share a uid. A uid is reused only after 63
/// other runs, by which time its run, and its pid namespace with every process in it, has ended.
final class SandboxUIDs: @unchecked Sendable {
    static let shared = SandboxUIDs(base: 100_000 + UInt32(getpid() % 20_000) * 64)
    private let lock = NSLock()
    private let base: UInt32
    private var counter: UInt32 = 0

    init(base: UInt32) { self.base = base }

    func next() -> UInt32 {
        lock.lock()
        defer { lock.unlock() }
        counter = (counter + 1) % 64
        return base + counter
    }
}
