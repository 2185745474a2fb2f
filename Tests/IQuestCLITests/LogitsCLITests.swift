import Foundation
import Testing

/// `iquest logits`: every position's logits as float32, held to transformers' on the SmolLM2
/// parity prompts; and the default int8 prompt rows (int16 decode rows) and `--prompt-products
/// integer` measured against the exact path. Needs the SmolLM2 asset (tools/fetch-assets.sh).
@Suite struct LogitsCLITests {
    struct Prompt: Decodable {
        let name: String
        let ids: [Int]
        let top_ids: [[Int]]
        let top_logits: [[Double]]
    }
    struct Parity: Decodable { let vocab_size: Int; let prompts: [Prompt] }

    static func parity() throws -> Parity {
        try JSONDecoder().decode(Parity.self, from: Data(contentsOf: URL(fileURLWithPath: CLIFixtures.path("smollm2/parity.json"))))
    }

    /// Runs `iquest logits` on the parity prompts and returns one [positions × vocab] array per prompt.
    static func dump(_ model: String, _ parity: Parity, _ flags: [String], in dir: CLITempDirectory) throws -> [[Float]] {
        let ids = dir.path("ids.txt"), out = dir.path("logits-\(flags.joined(separator: "_")).f32")
        try parity.prompts.map { $0.ids.map(String.init).joined(separator: " ") }.joined(separator: "\n")
            .write(toFile: ids, atomically: true, encoding: .utf8)
        let r = try runIQuest(["logits", "-m", model, "--ids", ids, "-o", out, "-t", "2"] + flags, timeout: 300)
        guard r.status == 0 else { throw CLITestFailure(r.summary) }
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        let total = parity.prompts.map(\.ids.count).reduce(0, +)
        #expect(data.count == total * parity.vocab_size * 4, "\(flags): \(data.count) bytes")
        let all = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        var start = 0
        return parity.prompts.map { prompt in
            defer { start += prompt.ids.count * parity.vocab_size }
            return Array(all[start..<min(all.count, start + prompt.ids.count * parity.vocab_size)])
        }
    }

    /// KL(P ‖ Q) between the softmaxes of two logit rows, in double.
    static func kl(_ p: ArraySlice<Float>, _ q: ArraySlice<Float>) -> Double {
        func logSoftmax(_ x: ArraySlice<Float>) -> [Double] {
            let m = Double(x.max() ?? 0)
            let z = log(x.reduce(0.0) { $0 + exp(Double($1) - m) })
            return x.map { Double($0) - m - z }
        }
        let lp = logSoftmax(p), lq = logSoftmax(q)
        return zip(lp, lq).reduce(0.0) { $0 + exp($1.0) * ($1.0 - $1.1) }
    }

    @Test func exactLogitsMatchTransformers() throws {
        let model = try CLIFixtures.cached("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        let parity = try Self.parity(), dir = try CLITempDirectory()
        let rows = try Self.dump(model, parity, ["--activations", "exact", "--kv-cache-type", "f32"], in: dir)
        var worst = 0.0
        for (prompt, logits) in zip(parity.prompts, rows) {
            for p in prompt.ids.indices {
                for (id, expected) in zip(prompt.top_ids[p], prompt.top_logits[p]) {
                    worst = max(worst, abs(Double(logits[p * parity.vocab_size + id]) - expected))
                }
            }
        }
        #expect(worst <= 1e-3, "top-16 logits vs transformers: max |Δ| \(worst)")
    }

    /// By default prompt rows get exactly what `--activations int8` gives them (int8 blocks, one
    /// scheme, llama.cpp's) while decode rows keep int16; `--prompt-products integer` gives them
    /// int16 instead. Each stays within its bounds of SmolLM2ActivationPrecisionTests against the
    /// exact path.
    @Test func defaultPromptRowsAreTheInt8Scheme() throws {
        let model = try CLIFixtures.cached("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        let parity = try Self.parity(), dir = try CLITempDirectory()
        let exact = try Self.dump(model, parity, ["--activations", "exact"], in: dir)
        let standard = try Self.dump(model, parity, [], in: dir)
        let named = try Self.dump(model, parity, ["--prompt-products", "int8"], in: dir)
        let int16 = try Self.dump(model, parity, ["--prompt-products", "integer"], in: dir)
        let int8 = try Self.dump(model, parity, ["--activations", "int8"], in: dir)
        #expect(standard == int8, "default prompt rows differ from --activations int8's")
        #expect(named == standard, "--prompt-products int8 is not the default")
        #expect(int16 != standard, "--prompt-products integer changed nothing")
        let v = parity.vocab_size
        for (name, rows, bound) in [("--prompt-products integer (int16)", int16, (max: 1e-2, mean: 1e-3)),
                                    ("default (int8 prompt rows)", standard, (max: 5e-2, mean: 1e-2))] {
            var worst = 0.0, sum = 0.0, n = 0
            for (reference, got) in zip(exact, rows) {
                for p in 0..<(reference.count / v) {
                    let d = Self.kl(reference[(p * v)..<((p + 1) * v)], got[(p * v)..<((p + 1) * v)])
                    worst = max(worst, d)
                    sum += d
                    n += 1
                }
            }
            #expect(n == parity.prompts.map(\.ids.count).reduce(0, +))
            #expect(worst <= bound.max && sum / Double(n) <= bound.mean, "\(name): KL max \(worst), mean \(sum / Double(n))")
            print("logits \(name) vs exact: KL max \(worst), mean \(sum / Double(n)) over \(n) positions")
        }
    }

    @Test func badIdsFailCleanly() throws {
        let model = try CLIFixtures.tinyF32, dir = try CLITempDirectory()
        for (content, word) in [("1 2 x", "'x'"), ("1 99999", "99999"), ("\n", "no prompt")] {
            try content.write(toFile: dir.path("bad.txt"), atomically: true, encoding: .utf8)
            let r = try runIQuest(["logits", "-m", model, "--ids", dir.path("bad.txt"), "-o", dir.path("out.f32")])
            #expect(r.exitedNormally && r.status != 0 && r.stderr.contains(word), "\(content): \(r.summary)")
        }
        let missing = try runIQuest(["logits", "-m", model, "--ids", dir.path("none.txt"), "-o", dir.path("out.f32")])
        #expect(missing.exitedNormally && missing.status != 0 && missing.stderr.contains("none.txt"), "\(missing.summary)")
    }
}
