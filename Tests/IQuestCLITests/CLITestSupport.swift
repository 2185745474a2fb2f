import Foundation
import IQuestFormats

struct CLITestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum CLIFixtures {
    /// The repository root: the first directory above this source file holding Package.swift.
    static func repoRoot(filePath: String = #filePath) throws -> URL {
        var dir = URL(fileURLWithPath: filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        throw CLITestFailure("no Package.swift above \(filePath)")
    }

    static func path(_ relative: String) throws -> String {
        let url = try repoRoot().appendingPathComponent("Tests/Fixtures").appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else { throw CLITestFailure("fixture \(url.path) is missing") }
        return url.path
    }

    static var tinyF32: String { get throws { try path("tiny-llama/tiny-f32.gguf") } }

    /// `$IQUEST_CACHE` (default ~/.cache/iquest)/relative, or an error saying how to fetch it.
    static func cached(_ relative: String) throws -> String {
        let env = ProcessInfo.processInfo.environment["IQUEST_CACHE"]
        let base = (env?.isEmpty == false) ? URL(fileURLWithPath: env!)
            : FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/iquest")
        let url = base.appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CLITestFailure("missing test asset \(url.path); run tools/fetch-assets.sh to download it")
        }
        return url.path
    }

    static func json(_ relative: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }
}

/// Finds the `iquest` executable built alongside this test bundle: the build products directory
/// is the one holding the test executable (Linux: <scratch>/<triple>/<config>/xxx.xctest; macOS:
/// …/<config>/xxx.xctest/Contents/MacOS/xxx), whatever the scratch path. Falls back to the
/// usual products directories under the repository.
enum IQuestBinary {
    static func locate() throws -> URL {
        var starts: [URL] = []
        if let exe = Bundle.main.executableURL { starts.append(exe) }
        starts.append(URL(fileURLWithPath: CommandLine.arguments[0]))
        starts.append(URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath())
        starts += Bundle.allBundles.map(\.bundleURL).filter { $0.pathExtension == "xctest" }
        var tried: [String] = []
        for start in starts {
            var dir = start.resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<5 {
                let candidate = dir.appendingPathComponent("iquest")
                tried.append(candidate.path)
                if isExecutableFile(candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
                if dir.path == "/" { break }
            }
        }
        let root = try CLIFixtures.repoRoot()
        for scratch in [".build-tests", ".build"] {
            for config in ["release", "debug"] {
                let candidate = root.appendingPathComponent("\(scratch)/\(config)/iquest")
                tried.append(candidate.path)
                if isExecutableFile(candidate) { return candidate.resolvingSymlinksInPath() }
            }
        }
        throw CLITestFailure("the iquest executable was not found (build it with `swift build`); looked at: \(tried.joined(separator: ", "))")
    }

    static func isExecutableFile(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && FileManager.default.isExecutableFile(atPath: url.path)
    }
}

struct CLIResult {
    let status: Int32
    /// Exited normally (not killed by a signal such as a crash).
    let exitedNormally: Bool
    let stdout: String
    let stderr: String

    var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    var summary: String { "exit \(status) (normal: \(exitedNormally))\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// Runs `iquest` with `arguments`; output goes through files (no pipe can fill up), and the
/// process is killed after `timeout` seconds.
func runIQuest(_ arguments: [String], timeout: TimeInterval = 120, environment: [String: String] = [:]) throws -> CLIResult {
    let binary = try IQuestBinary.locate()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw CLITestFailure("iquest \(arguments.joined(separator: " ")) ran longer than \(timeout) s")
    }
    process.waitUntilExit()
    try out.close()
    try err.close()
    return CLIResult(status: process.terminationStatus,
                     exitedNormally: process.terminationReason == .exit,
                     stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                     stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// A temporary directory removed on deinit.
final class CLITempDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-cli-fixture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Copies a GGUF with some metadata values replaced.
func copyGGUF(from source: String, to destination: String, replacing changes: [String: GGUFValue]) throws {
    let file = try GGUFFile(path: source)
    let writer = try GGUFWriter()
    for key in file.metadataKeys { try writer.addMetadata(key, changes[key] ?? file.metadata[key]!) }
    for t in file.tensors { try writer.addTensor(name: t.name, shape: t.shape, type: t.type, data: Array(file.data(for: t))) }
    try writer.write(to: destination)
}
