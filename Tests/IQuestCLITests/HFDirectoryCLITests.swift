import Foundation
import Testing

/// Every `iquest` command on a Hugging Face checkpoint directory (tiny-iquest/dense), checked
/// against the transformers / sentencepiece / jinja2 references committed beside it.
@Suite struct HFDirectoryCLITests {
    static func dense() throws -> String { try CLIFixtures.path("tiny-iquest/dense") }
    static let stopIds: Set<Int> = [2, 979, 984]

    /// expected.json's prompt `name`: its ids and greedy continuation.
    static func prompt(_ name: String) throws -> (ids: [Int], greedy: [Int]) {
        let root = try CLIFixtures.json("tiny-iquest/dense/expected.json") as! [String: Any]
        let config = root["config"] as! [String: Any]
        #expect(config["eos_token_ids"] as? [Int] == [2, 979, 984])
        let prompts = root["prompts"] as! [[String: Any]]
        let p = try #require(prompts.first { $0["name"] as? String == name })
        return (p["ids"] as! [Int], p["greedy_ids"] as! [Int])
    }

    /// The greedy ids up to and including the first stop id.
    static func untilStop(_ ids: [Int]) -> [Int] {
        var out: [Int] = []
        for id in ids {
            out.append(id)
            if stopIds.contains(id) { break }
        }
        return out
    }

    /// Runs `generate --json` and returns the streamed token ids and the summary object.
    static func generateJSON(_ arguments: [String]) throws -> (ids: [Int], done: [String: Any]) {
        let r = try runIQuest(["generate"] + arguments + ["--json"])
        #expect(r.status == 0 && r.exitedNormally, "\(r.summary)")
        var ids: [Int] = []
        var done: [String: Any] = [:]
        for line in r.stdoutLines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "line: \(line)")
            if object["done"] as? Bool == true { done = object } else { ids.append(try #require(object["id"] as? Int)) }
        }
        #expect(!done.isEmpty, "no summary line\n\(r.summary)")
        return (ids, done)
    }

    @Test func generateJSONReproducesTheGreedyIds() throws {
        let code = try Self.prompt("code")
        let (ids, done) = try Self.generateJSON(["-m", Self.dense(), "--prompt-ids", code.ids.map(String.init).joined(separator: ","),
                                                 "--temperature", "0", "-n", "8", "-t", "2"])
        let want = Array(Self.untilStop(code.greedy).prefix(8))
        #expect(ids == want)
        #expect(done["prompt_ids"] as? [Int] == code.ids)
        #expect(done["generated_tokens"] as? Int == want.count)
        #expect(done["finish_reason"] as? String == "length")
    }

    /// The "chat" continuation reaches id 2 (EOS in config.json) after 8 tokens: generation stops there.
    @Test func generateStopsOnTheConfiguredEOS() throws {
        let chat = try Self.prompt("chat")
        let (ids, done) = try Self.generateJSON(["-m", Self.dense(), "--prompt-ids", chat.ids.map(String.init).joined(separator: ","),
                                                 "--temperature", "0", "-n", "16", "-t", "2"])
        let want = Self.untilStop(chat.greedy)
        #expect(want.count < chat.greedy.count && want.last == 2)
        #expect(ids == want)
        #expect(done["finish_reason"] as? String == "stop")
    }

    /// `iquest template` on template-expected.json cases; the messages/tools/kwargs files are the
    /// fixture's own JSON text (key order kept, which tools' `tojson` output depends on).
    @Test(arguments: [("no_system", true), ("multi_turn_closed", false), ("tools_and_tool_calls", true),
                      ("enable_thinking_false", true)])
    func templateCommandMatchesTheReference(name: String, addGenerationPrompt: Bool) throws {
        let path = try CLIFixtures.path("tiny-iquest/dense/template-expected.json")
        let raw = try String(contentsOfFile: path, encoding: .utf8)
        let root = try CLIFixtures.json("tiny-iquest/dense/template-expected.json") as! [String: Any]
        let c = try #require((root["cases"] as! [[String: Any]]).first { $0["name"] as? String == name })
        #expect(c["add_generation_prompt"] as? Bool == addGenerationPrompt)
        let expected = try #require(c["text"] as? String)

        let span = try rawCaseFields(raw, name: name)
        let tmp = try CLITempDirectory()
        try Data(span.messages.utf8).write(to: tmp.url.appendingPathComponent("messages.json"))
        var arguments = ["template", "-m", try Self.dense(), "--messages", tmp.path("messages.json")]
        if addGenerationPrompt { arguments.append("--add-generation-prompt") }
        if let tools = span.tools {
            try Data(tools.utf8).write(to: tmp.url.appendingPathComponent("tools.json"))
            arguments += ["--tools", tmp.path("tools.json")]
        }
        if span.kwargs != "{}" { arguments += ["--template-kwargs", span.kwargs] }
        let r = try runIQuest(arguments)
        #expect(r.status == 0, "\(r.summary)")
        #expect(Array(r.stdout.utf8) == Array(expected.utf8), "case \(name):\n\(r.stdout)\n--- expected ---\n\(expected)")
    }

    @Test func tokenizeParsesAddedTokens() throws {
        let root = try CLIFixtures.json("tiny-iquest/dense/tokenizer-expected.json") as! [String: Any]
        let cases = root["cases"] as! [[String: Any]]
        for text in ["a<think>b", "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n"] {
            let want = try #require(cases.first { $0["text"] as? String == text }?["ids"] as? [Int])
            let r = try runIQuest(["tokenize", "-m", Self.dense(), "--parse-special", text])
            #expect(r.status == 0, "\(r.summary)")
            let ids = r.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
            #expect(ids == want, "tokenize \(text.debugDescription): \(r.stdout)")
        }
    }

    @Test func chatAnswersAndPrintsStats() throws {
        let r = try runIQuestWithInput(["chat", "-m", Self.dense(), "-n", "4", "--temperature", "0", "-t", "2"],
                                       stdin: "hello\n/exit\n")
        #expect(r.status == 0 && r.exitedNormally, "\(r.summary)")
        let stats = r.stderrLines.filter { $0.hasPrefix("prompt ") && $0.contains("tokens/s") && $0.contains("finish:") }
        #expect(stats.count == 1, "\(r.summary)")
        #expect(stats.first?.contains("generated 4 tokens") == true || stats.first?.contains("finish: stop") == true, "\(r.summary)")
        #expect(!r.stderr.contains("error:"), "\(r.summary)")
    }

    /// The chat command on expected.json's "chat" conversation: the prompt it builds has the
    /// reference's 46 ids, and the answer stops at id 2 after 9 tokens, as transformers' greedy run does.
    @Test func chatPromptAndStopMatchTheReference() throws {
        let chat = try Self.prompt("chat")
        let want = Self.untilStop(chat.greedy)
        let r = try runIQuestWithInput(["chat", "-m", Self.dense(), "-n", "16", "--temperature", "0", "-t", "2"],
                                       stdin: "Reverse a string in Python.\n/exit\n")
        #expect(r.status == 0 && r.exitedNormally, "\(r.summary)")
        let stats = try #require(r.stderrLines.first { $0.hasPrefix("prompt ") }, "\(r.summary)")
        #expect(stats.hasPrefix("prompt \(chat.ids.count) tokens,"), "\(stats)")
        #expect(stats.contains("generated \(want.count) tokens"), "\(stats)")
        #expect(stats.hasSuffix("finish: stop"), "\(stats)")
    }

    /// bench needs no tokenizer: a copy of the Loop fixture without its tokenizer files.
    @Test func benchRunsOnALoopCheckpointWithoutTokenizer() throws {
        let source = try CLIFixtures.path("tiny-loop/hf")
        let tmp = try CLITempDirectory()
        let loop = tmp.path("hf")
        try FileManager.default.createDirectory(atPath: loop, withIntermediateDirectories: true)
        let tokenizerFiles: Set = ["tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"]
        for name in try FileManager.default.contentsOfDirectory(atPath: source) where !tokenizerFiles.contains(name) {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: loop + "/" + name)
        }
        let generate = try runIQuest(["generate", "-m", loop, "--prompt", "hello", "-n", "1", "-t", "1"])
        #expect(generate.exitedNormally && generate.status != 0 && generate.stderr.contains("tokenizer"), "\(generate.summary)")
        let r = try runIQuest(["bench", "-m", loop, "-p", "16", "-n", "4", "-r", "1", "-t", "2"])
        #expect(r.status == 0, "\(r.summary)")
        let rows = r.stdoutLines.filter { $0.hasPrefix("| hf |") }
        #expect(rows.count == 2, "\(r.stdout)")
        #expect(rows.contains { $0.contains("| pp16 |") }, "\(r.stdout)")
        #expect(rows.contains { $0.contains("| tg4 |") }, "\(r.stdout)")
    }

    @Test(arguments: ["{\"architectures\": [", "refused"])
    func brokenConfigFailsWithOneErrorLine(kind: String) throws {
        let tmp = try CLITempDirectory()
        let source = try Self.dense()
        for name in try FileManager.default.contentsOfDirectory(atPath: source) where !name.hasSuffix("expected.json") {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: tmp.path(name))
        }
        let configPath = tmp.path("config.json")
        if kind == "refused" {
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
            config["rope_scaling"] = ["rope_type": "yarn", "factor": 4.0] as [String: Any]
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        } else {
            try Data(kind.utf8).write(to: URL(fileURLWithPath: configPath))
        }
        let r = try runIQuest(["generate", "-m", tmp.url.path, "--prompt", "hello", "-n", "2", "-t", "1"])
        #expect(r.exitedNormally && r.status != 0, "\(r.summary)")
        #expect(r.stderrLines.count == 1, "\(r.summary)")
        #expect(r.stderrLines.first?.hasPrefix("error:") == true, "\(r.summary)")
        #expect(r.stderr.contains(configPath), "\(r.summary)")
        if kind == "refused" { #expect(r.stderr.contains("rope_scaling"), "\(r.summary)") }
        #expect(r.stdout.isEmpty, "\(r.summary)")
    }
}

/// The raw JSON text of a template-expected.json case's messages, tools (nil when null) and
/// template_kwargs, cut from the file so that object key order is exactly the fixture's.
func rawCaseFields(_ raw: String, name: String) throws -> (messages: String, tools: String?, kwargs: String) {
    let bytes = Array(raw.utf8)
    guard let start = find(Array("\"name\": \"\(name)\"".utf8), in: bytes, from: 0) else {
        throw CLITestFailure("template-expected.json: no case \(name)")
    }
    func value(_ key: String) throws -> String? {
        guard let k = find(Array("\"\(key)\": ".utf8), in: bytes, from: start) else {
            throw CLITestFailure("template-expected.json: case \(name) has no \(key)")
        }
        var i = k + key.utf8.count + 4
        if bytes[i...].starts(with: Array("null".utf8)) { return nil }
        let begin = i
        var depth = 0, inString = false
        repeat {
            let b = bytes[i]
            if inString {
                if b == UInt8(ascii: "\\") { i += 1 } else if b == UInt8(ascii: "\"") { inString = false }
            } else if b == UInt8(ascii: "\"") {
                inString = true
            } else if b == UInt8(ascii: "[") || b == UInt8(ascii: "{") {
                depth += 1
            } else if b == UInt8(ascii: "]") || b == UInt8(ascii: "}") {
                depth -= 1
            }
            i += 1
        } while depth > 0 && i < bytes.count
        return String(decoding: bytes[begin..<i], as: UTF8.self)
    }
    guard let messages = try value("messages"), let kwargs = try value("template_kwargs") else {
        throw CLITestFailure("template-expected.json: case \(name): messages or template_kwargs is null")
    }
    return (messages, try value("tools"), kwargs)
}

private func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
    guard needle.count <= haystack.count else { return nil }
    var i = from
    while i + needle.count <= haystack.count {
        if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        i += 1
    }
    return nil
}

/// `runIQuest` with `stdin` fed to the process (for `chat`).
func runIQuestWithInput(_ arguments: [String], stdin: String, timeout: TimeInterval = 120) throws -> CLIResult {
    let binary = try IQuestBinary.locate()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let inURL = dir.appendingPathComponent("stdin")
    let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
    try Data(stdin.utf8).write(to: inURL)
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let input = try FileHandle(forReadingFrom: inURL)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.standardInput = input
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw CLITestFailure("iquest \(arguments.joined(separator: " ")) ran longer than \(timeout) s")
    }
    process.waitUntilExit()
    try input.close()
    try out.close()
    try err.close()
    return CLIResult(status: process.terminationStatus,
                     exitedNormally: process.terminationReason == .exit,
                     stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                     stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}
