import Foundation
import IQuestFormats
import IQuestTokenizer

/// Failure with a message, for test helpers that cannot proceed.
struct AssetError: Error, CustomStringConvertible {
    let description: String
}

enum TestAssets {
    /// `$IQUEST_CACHE`, default `~/.cache/iquest`, where tools/fetch-assets.sh puts large assets.
    static var cacheDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["IQUEST_CACHE"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/iquest")
    }

    /// A file under the cache, or an error telling how to fetch it.
    static func cached(_ relativePath: String) throws -> URL {
        let url = cacheDirectory.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw AssetError(description: "missing test asset \(url.path); run tools/fetch-assets.sh to download it")
        }
        return url
    }

    /// Tests/Fixtures/tokenizer, found from this source file (symlinks resolved, so it also works
    /// from a package that links this test directory in).
    static func fixture(_ name: String, filePath: String = #filePath) throws -> URL {
        var dir = URL(fileURLWithPath: filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("Tests/Fixtures/tokenizer/\(name)")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw AssetError(description: "fixture Tests/Fixtures/tokenizer/\(name) not found above \(filePath)")
    }

    static func tokenizer(gguf url: URL) throws -> ByteLevelBPETokenizer {
        try ByteLevelBPETokenizer(gguf: GGUFFile(path: url.path))
    }

    /// One of llama.cpp's tokenizer test cases: input text and expected ids (no BOS).
    struct VocabCase {
        let index: Int
        let text: String
        let expected: [Int]
    }

    /// The cases of `vocab` that `tokenizer` encodes differently (add_special and parse_special off,
    /// as test-tokenizer-0 runs), one line each; also expects the case count.
    static func vectorFailures(_ tokenizer: any Tokenizer, vocab: String, count: Int = 46) throws -> [String] {
        let cases = try vocabCases(vocab)
        guard cases.count == count else { return ["\(vocab): \(cases.count) cases, expected \(count)"] }
        return cases.compactMap { c in
            let got = tokenizer.encode(c.text, addSpecialTokens: false, parseSpecial: false)
            return got == c.expected ? nil : "case \(c.index) \(c.text.debugDescription): expected \(c.expected), got \(got)"
        }
    }

    /// Reads `ggml-vocab-<name>.gguf.inp/.out` the way llama.cpp's test-tokenizer-0 does:
    /// inputs separated by `\n__ggml_vocab_test__\n`, one line of ids per input.
    static func vocabCases(_ name: String) throws -> [VocabCase] {
        let inp = try Data(contentsOf: cached("llama-vocab/ggml-vocab-\(name).gguf.inp"))
        let out = try String(decoding: Data(contentsOf: cached("llama-vocab/ggml-vocab-\(name).gguf.out")), as: UTF8.self)
        let raw = Array(inp)
        let sep = Array("\n__ggml_vocab_test__\n".utf8)
        var inputs: [String] = []
        var pos = 0
        while pos < raw.count {
            var next = pos
            var found = false
            while next + sep.count <= raw.count {
                if raw[next..<(next + sep.count)].elementsEqual(sep) {
                    found = true
                    break
                }
                next += 1
            }
            if !found {
                inputs.append(String(decoding: raw[pos...], as: UTF8.self))
                break
            }
            inputs.append(String(decoding: raw[pos..<next], as: UTF8.self))
            pos = next + sep.count
        }
        var lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard lines.count == inputs.count else {
            throw AssetError(description: "\(name): \(inputs.count) inputs but \(lines.count) output lines")
        }
        return try zip(inputs, lines).enumerated().map { i, pair in
            let ids = try pair.1.split(separator: " ").map { s -> Int in
                guard let v = Int(s) else { throw AssetError(description: "\(name): bad id '\(s)' on line \(i + 1)") }
                return v
            }
            return VocabCase(index: i, text: pair.0, expected: ids)
        }
    }
}
