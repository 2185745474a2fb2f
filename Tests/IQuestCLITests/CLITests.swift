import Foundation
import IQuestFormats
import Testing

/// The `iquest` executable run as a subprocess: clean one-line errors, JSON streaming against the
/// transformers reference, tokenize, context limits, a real chat completion and the bench table.
@Suite struct CLITests {
    /// The contract for a failure the CLI handles: exit status ≠ 0 by exit (not a signal), and
    /// exactly one stderr line, starting with "error:".
    static func expectCleanError(_ r: CLIResult, mentioning words: [String] = [], _ what: String,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.exitedNormally, "\(what): crashed\n\(r.summary)", sourceLocation: sourceLocation)
        #expect(r.status != 0, "\(what): exit status 0\n\(r.summary)", sourceLocation: sourceLocation)
        // One error line, after at most the start-up line that states the context and KV cache plan.
        let lines = r.stderrLines
        #expect(lines.count == 1 || (lines.count == 2 && lines[0].hasPrefix("context ")),
                "\(what): expected one error line\n\(r.summary)", sourceLocation: sourceLocation)
        #expect(lines.last?.hasPrefix("error:") == true, "\(what): \(r.summary)", sourceLocation: sourceLocation)
        #expect(r.stdout.isEmpty, "\(what): nothing should reach stdout\n\(r.summary)", sourceLocation: sourceLocation)
        for word in words {
            #expect(r.stderr.contains(word), "\(what): stderr should mention '\(word)'\n\(r.summary)", sourceLocation: sourceLocation)
        }
    }

    enum BadModel: String, CaseIterable, Sendable {
        case missing, directory, notGGUF, truncatedGGUF, unsupportedArchitecture
    }

    @Test(arguments: BadModel.allCases)
    func badModelPathsFailCleanly(kind: BadModel) throws {
        let dir = try CLITempDirectory()
        let path: String
        var words: [String] = []
        switch kind {
        case .missing:
            path = dir.path("no-such-model.gguf")
            words = ["no-such-model.gguf"]
        case .directory:
            path = dir.url.path
            words = ["directory"]
        case .notGGUF:
            path = dir.path("notes.gguf")
            try Data(String(repeating: "this is not a model file\n", count: 40).utf8).write(to: URL(fileURLWithPath: path))
            words = ["notes.gguf"]
        case .truncatedGGUF:
            path = dir.path("truncated.gguf")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: CLIFixtures.tinyF32))
            try bytes.prefix(3000).write(to: URL(fileURLWithPath: path))
            words = ["truncated.gguf"]
        case .unsupportedArchitecture:
            path = dir.path("neox.gguf")
            try copyGGUF(from: CLIFixtures.tinyF32, to: path, replacing: ["general.architecture": .string("gpt-neox")])
            words = ["gpt-neox"]
        }
        let generate = try runIQuest(["generate", "-m", path, "--prompt", "hello", "-n", "2", "-t", "1"])
        Self.expectCleanError(generate, mentioning: words, "generate with \(kind)")
        let tokenize = try runIQuest(["tokenize", "-m", path, "hello"])
        Self.expectCleanError(tokenize, mentioning: words, "tokenize with \(kind)")
        let bench = try runIQuest(["bench", "-m", path, "-p", "4", "-n", "2", "-r", "1"])
        Self.expectCleanError(bench, mentioning: words, "bench with \(kind)")
    }

    @Test func jsonGenerationMatchesTheReference() throws {
        let expected = try #require(CLIFixtures.json("tiny-llama/expected-f32.json") as? [String: Any])
        let prompts = try #require(expected["prompts"] as? [[String: Any]])
        let prompt = try #require(prompts.first { $0["name"] as? String == "short" })
        let ids = try #require(prompt["ids"] as? [Int])
        let greedy = try #require(prompt["greedy_ids"] as? [Int])
        let logits = try #require(prompt["logits"] as? [[Double]])
        let r = try runIQuest(["generate", "-m", CLIFixtures.tinyF32, "--json", "--prompt-ids", ids.map(String.init).joined(separator: ","),
                               "--temperature", "0", "-n", "5", "--top-logprobs", "3", "-t", "2",
                               "--kv-cache-type", "f32"])  // exact storage: the reference is f32
        #expect(r.exitedNormally && r.status == 0, "\(r.summary)")
        let lines = r.stdoutLines
        try #require(lines.count == 6, "expected 5 token lines and a summary\n\(r.summary)")
        let objects = try lines.map { line in
            try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
        }
        // Reference log-softmax at the last prompt position, for the first token's logprobs.
        let last = logits[ids.count - 1]
        let m = last.max()!
        let logZ = m + log(last.reduce(0) { $0 + exp($1 - m) })
        for (i, o) in objects.prefix(5).enumerated() {
            #expect(Set(o.keys) == ["id", "text", "logprob", "top_logprobs"], "line \(i): \(o.keys.sorted())")
            #expect(o["id"] as? Int == greedy[i], "line \(i): id \(o["id"] ?? "nil") vs \(greedy[i])")
            #expect(o["text"] is String)
            let logprob = try #require(o["logprob"] as? Double)
            #expect(logprob <= 0)
            let top = try #require(o["top_logprobs"] as? [[String: Any]])
            #expect(top.count == 3, "line \(i)")
            #expect(top.allSatisfy { Set($0.keys) == ["id", "logprob"] })
            // Greedy: the chosen token is the most likely one.
            #expect(top.first?["id"] as? Int == greedy[i])
            #expect(abs((top.first?["logprob"] as? Double ?? 1) - logprob) <= 1e-6)
            if i == 0 {
                #expect(abs(logprob - (last[greedy[0]] - logZ)) <= 1e-4, "first logprob \(logprob) vs \(last[greedy[0]] - logZ)")
                let order = last.indices.sorted { last[$0] > last[$1] }
                #expect(top.compactMap { $0["id"] as? Int } == Array(order.prefix(3)))
            }
        }
        let done = objects[5]
        #expect(done["done"] as? Bool == true, "\(done)")
        #expect(done["prompt_ids"] as? [Int] == ids)
        #expect(done["finish_reason"] as? String == "length")
        #expect(done["generated_tokens"] as? Int == 5)
        // Speed goes to stderr, one stats line.
        #expect(r.stderr.contains("prefill") && r.stderr.contains("decode"), "\(r.summary)")
    }

    @Test func tokenizeMatchesTheReferenceTokenizer() throws {
        let cases = try #require(CLIFixtures.json("tiny-llama/tokenizer-cases.json") as? [String: Any])
        let all = try #require(cases["cases"] as? [[String: Any]])
        let text = "the little engine hummed along the track."
        let chosen = try #require(all.first { $0["text"] as? String == text })
        let expectedIds = try #require(chosen["ids"] as? [Int])

        let json = try runIQuest(["tokenize", "-m", CLIFixtures.tinyF32, "--json", text])
        #expect(json.exitedNormally && json.status == 0, "\(json.summary)")
        let entries = try #require(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], "\(json.summary)")
        #expect(entries.compactMap { $0["id"] as? Int } == expectedIds)
        #expect(entries.allSatisfy { $0["piece"] is String && $0["text"] is String })
        #expect(entries.compactMap { $0["text"] as? String }.joined() == text)

        let plain = try runIQuest(["tokenize", "-m", CLIFixtures.tinyF32, text])
        #expect(plain.status == 0, "\(plain.summary)")
        #expect(plain.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == expectedIds.map(String.init).joined(separator: " "))

        // Special-token text is split into characters unless --parse-special.
        let chat = "<|im_start|>user\nhi there<|im_end|>"
        let special = try runIQuest(["tokenize", "-m", CLIFixtures.tinyF32, "--parse-special", chat])
        let ordinary = try runIQuest(["tokenize", "-m", CLIFixtures.tinyF32, chat])
        let specialIds = special.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        let ordinaryIds = ordinary.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        #expect(specialIds.first == 318 && specialIds.last == 319, "\(special.summary)")
        #expect(!ordinaryIds.contains(318) && !ordinaryIds.contains(319), "\(ordinary.summary)")
    }

    @Test func promptLongerThanContextFailsCleanly() throws {
        let r = try runIQuest(["generate", "-m", CLIFixtures.tinyF32, "--prompt-ids", "1,2,3,4,5,6", "--ctx-size", "4", "-n", "2",
                               "--temperature", "0"])
        Self.expectCleanError(r, mentioning: ["context"], "prompt of 6 tokens in --ctx-size 4")
        // An out-of-vocabulary prompt id is refused the same way.
        let oov = try runIQuest(["generate", "-m", CLIFixtures.tinyF32, "--prompt-ids", "1,2,99999", "-n", "2", "--temperature", "0"])
        Self.expectCleanError(oov, mentioning: ["99999"], "prompt id outside the vocabulary")
    }

    /// generate states the context and KV cache plan on stderr (f16 by default), takes
    /// --kv-cache-type / -ctk / -ctv, and refuses a type the model's heads cannot hold (q8_0
    /// stores blocks of 32; the tiny model's heads have 16) with one error line.
    @Test func kvCacheTypeIsChosenAndStated() throws {
        let tiny = try CLIFixtures.tinyF32
        let base = ["generate", "-m", tiny, "--prompt-ids", "1,2,3", "-n", "2", "--temperature", "0", "--ctx-size", "64"]
        let standard = try runIQuest(base)
        #expect(standard.status == 0, "\(standard.summary)")
        #expect(standard.stderr.contains("context 64 tokens; KV cache f16"), "\(standard.summary)")
        let mixed = try runIQuest(base + ["--ctk", "bf16", "--cache-type-v", "f32"])
        #expect(mixed.status == 0, "\(mixed.summary)")
        #expect(mixed.stderr.contains("KV cache k=bf16,v=f32"), "\(mixed.summary)")
        let refused = try runIQuest(base + ["--kv-cache-type", "q8_0"])
        Self.expectCleanError(refused, mentioning: ["q8_0", "32", "16"], "q8_0 KV on heads of 16")
        let unknown = try runIQuest(base + ["--kv-cache-type", "q5_1"])
        #expect(unknown.exitedNormally && unknown.status != 0 && unknown.stderr.contains("q5_1"), "\(unknown.summary)")
    }

    /// bench --depth: a row per test and depth (`pp8 @ d32`), the KV cache type stated, the
    /// depth filled by a prefill or, with --synthetic-fill, by random rows, and the share of
    /// the bytes read that are keys/values on tg rows at depth.
    @Test func benchMeasuresAtDepth() throws {
        let tiny = try CLIFixtures.tinyF32
        for (flags, fill) in [([String](), "untimed prefill"), (["--synthetic-fill"], "synthetic fill")] {
            let r = try runIQuest(["bench", "-m", tiny, "-p", "8", "-n", "4", "-r", "1", "-t", "2", "-d", "0,32",
                                   "--kv-cache-type", "f16"] + flags)
            #expect(r.status == 0, "\(r.summary)")
            let rows = r.stdoutLines.filter { $0.hasPrefix("| tiny-f32.gguf") }
            let tests = rows.map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }[3] }
            #expect(tests == ["pp8", "tg4", "pp8 @ d32", "tg4 @ d32"], "\(r.summary)")
            #expect(rows.last?.contains("(KV ") == true, "\(r.summary)")
            #expect(r.stdout.contains("KV cache: f16") && r.stdout.contains(fill), "\(r.summary)")
        }
        let deep = try runIQuest(["bench", "-m", tiny, "-p", "8", "-n", "4", "-d", "1000000"])
        #expect(deep.exitedNormally && deep.status != 0 && deep.stderr.contains("context"), "\(deep.summary)")
    }

    @Test func invalidArgumentsAreRejectedWithoutCrashing() throws {
        let tiny = try CLIFixtures.tinyF32
        for args in [["generate", "-m", tiny],
                     ["generate", "-m", tiny, "--prompt", "x", "--prompt-ids", "1"],
                     ["generate", "-m", tiny, "--prompt-ids", "1,two"],
                     ["generate", "-m", tiny, "--prompt", "x", "--temperature", "-1"],
                     ["bench", "-m", tiny, "-r", "0"],
                     ["no-such-command"]] {
            let r = try runIQuest(args)
            #expect(r.exitedNormally, "\(args): \(r.summary)")
            #expect(r.status != 0, "\(args): \(r.summary)")
            #expect(!r.stderr.isEmpty, "\(args): \(r.summary)")
        }
    }

    /// SmolLM2 (tools/fetch-assets.sh) answering a chat prompt greedily: `--chat` renders the GGUF's
    /// own template, and the text is the start of transformers' greedy answer for the prompt
    /// transformers' apply_chat_template makes (parity.json "chat_template").
    @Test func smolLM2ChatGeneration() throws {
        let model = try CLIFixtures.cached("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        let parity = try #require(CLIFixtures.json("smollm2/parity.json") as? [String: Any])
        let prompts = try #require(parity["prompts"] as? [[String: Any]])
        let chatCode = try #require(prompts.first { $0["name"] as? String == "chat_template" })
        let promptIds = try #require(chatCode["ids"] as? [Int])
        // The prompt --chat builds is token for token the one transformers rendered.
        let json = try runIQuest(["generate", "-m", model, "--prompt", "Write a Python function that returns the sum of a list.",
                                  "--chat", "--json", "--temperature", "0", "-n", "1", "-t", "2"])
        let done = try #require(json.stdoutLines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any])
        #expect(done["prompt_ids"] as? [Int] == promptIds, "\(json.summary)")
        let referenceText = try #require(chatCode["greedy_text"] as? String)
        let r = try runIQuest(["generate", "-m", model, "--prompt", "Write a Python function that returns the sum of a list.",
                               "--chat", "--temperature", "0", "-n", "24", "-t", "2"])
        #expect(r.exitedNormally && r.status == 0, "\(r.summary)")
        #expect(r.stdout.hasPrefix("```python"), "\(r.summary)")
        var text = r.stdout
        if text.hasSuffix("\n") { text.removeLast() }
        #expect(text.count > 20 && referenceText.hasPrefix(text), "got: \(text)\nreference: \(referenceText)")
        let stats = r.stderrLines.filter { $0.contains("prefill") && $0.contains("decode") }
        #expect(stats.count == 1, "\(r.summary)")
        #expect(!r.stderr.contains("error"), "\(r.summary)")
    }

    @Test func benchPrintsPromptAndGenerationRows() throws {
        let r = try runIQuest(["bench", "-m", CLIFixtures.tinyF32, "-p", "16", "-n", "4", "-r", "1", "-t", "2"])
        #expect(r.exitedNormally && r.status == 0, "\(r.summary)")
        let rows = r.stdoutLines.filter { $0.hasPrefix("|") }
        let pp = rows.filter { $0.contains("pp16") }, tg = rows.filter { $0.contains("tg4") }
        #expect(pp.count == 1 && tg.count == 1, "\(r.summary)")
        // Each row's t/s column holds a positive rate.
        for line in pp + tg {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let rate = cells.count >= 5 ? Double(cells[4].split(separator: " ").first ?? "") : nil
            #expect((rate ?? 0) > 0, "row: \(line)")
        }
    }
}
