#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// How one child process ended, with its output (each stream cut to `outputLimit` bytes).
struct ChildResult: Sendable {
    /// Exit status when it exited normally.
    var status: Int32?
    /// Signal that ended it.
    var signal: Int32?
    /// The wall-clock limit passed and the child was killed.
    var timedOut: Bool
    var stdout: String
    var stderr: String
    var seconds: Double
}

struct ChildProcessError: Error, CustomStringConvertible {
    let description: String
}

/// posix_spawn with stdin from bytes and stdout/stderr to files (not pipes: nothing to drain while
/// waiting, and the sandbox's file-size limit bounds them), then a polling wait that SIGKILLs the
/// child at the deadline. The pid is reaped only by us, so the kill can never hit a reused pid.
enum ChildProcess {
    static func run(_ argv: [String], environment: [String] = ["PATH=/usr/bin:/bin"], stdin: Data,
                    timeout: Double, outputLimit: Int = 64 << 10) throws -> ChildResult {
        guard let executable = argv.first else { throw ChildProcessError(description: "empty command") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let inPath = dir.appendingPathComponent("stdin").path, outPath = dir.appendingPathComponent("stdout").path
        let errPath = dir.appendingPathComponent("stderr").path
        try stdin.write(to: URL(fileURLWithPath: inPath))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let started = Date()
        let spawned = posix_spawn(&pid, executable, &actions, nil, cArgs, cEnv)
        guard spawned == 0 else {
            throw ChildProcessError(description: "cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        var timedOut = false
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0 && errno != EINTR {
                throw ChildProcessError(description: "waitpid failed: \(String(cString: strerror(errno)))")
            }
            if Date().timeIntervalSince(started) > timeout {
                kill(pid, SIGKILL)
                timedOut = true
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                break
            }
            usleep(2_000)
        }
        let seconds = Date().timeIntervalSince(started)
        // The wait status layout (glibc and Darwin): low 7 bits = terminating signal, 0 = exited.
        let signal = status & 0x7f
        func read(_ path: String) -> String {
            guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
            defer { try? handle.close() }
            let data = (try? handle.read(upToCount: outputLimit)) ?? nil
            return String(decoding: data ?? Data(), as: UTF8.self)
        }
        return ChildResult(status: signal == 0 ? (status >> 8) & 0xff : nil, signal: signal == 0 ? nil : signal,
                           timedOut: timedOut, stdout: read(outPath), stderr: read(errPath), seconds: seconds)
    }
}
