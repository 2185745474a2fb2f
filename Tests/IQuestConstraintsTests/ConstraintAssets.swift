import Foundation
import IQuestConstraints
import IQuestFormats
import IQuestTokenizer

struct AssetError: Error, CustomStringConvertible { let description: String }

/// Test assets from tools/fetch-assets.sh and the vocabularies built from them (loaded once).
enum ConstraintAssets {
    static var cacheDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["IQUEST_CACHE"], !env.isEmpty { return URL(fileURLWithPath: env) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/iquest")
    }

    static func cached(_ relativePath: String) throws -> URL {
        let url = cacheDirectory.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw AssetError(description: "missing test asset \(url.path); run tools/fetch-assets.sh to download it")
        }
        return url
    }

    /// A GGUF tokenizer and its vocabulary as the engine builds it (special tokens excluded, EOS
    /// ids as stops).
    static func vocabulary(_ relativePath: String) throws -> (any Tokenizer, TokenVocabulary) {
        let file = try GGUFFile(path: try cached(relativePath).path)
        let tokenizer = try GGUFTokenizer.load(file)
        var bytes: [[UInt8]?] = []
        for id in 0..<tokenizer.vocabularySize {
            bytes.append(tokenizer.isSpecial(id) ? nil : tokenizer.tokenBytes(id))
        }
        return (tokenizer, TokenVocabulary(bytes: bytes, stopIds: tokenizer.eosTokenIds))
    }

    nonisolated(unsafe) static var smollm2Cache: (any Tokenizer, TokenVocabulary)?
    static func smollm2() throws -> (any Tokenizer, TokenVocabulary) {
        if let c = smollm2Cache { return c }
        let c = try vocabulary("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        smollm2Cache = c
        return c
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Validates (schema, instance text) pairs with Python's `jsonschema` (Draft 2020-12);
    /// returns the indices that fail, with messages.
    static func pythonValidate(_ pairs: [(schema: String, instance: String)]) throws -> [(Int, String)] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iquest-constraints-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var lines = ""
        for p in pairs { lines += "{\"schema\":\(p.schema),\"instance\":\(JSONValue.quoted(p.instance))}\n" }
        try lines.write(to: dir.appendingPathComponent("pairs.jsonl"), atomically: true, encoding: .utf8)
        let script = """
        import json, sys, jsonschema
        bad = []
        for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
            d = json.loads(line)
            try:
                v = json.loads(d["instance"])
                jsonschema.Draft202012Validator(d["schema"], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(v)
            except Exception as e:
                bad.append([i, str(e)[:200]])
        print(json.dumps(bad))
        """
        try script.write(to: dir.appendingPathComponent("check.py"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", dir.appendingPathComponent("check.py").path, dir.appendingPathComponent("pairs.jsonl").path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw AssetError(description: "python3 jsonschema check failed (status \(process.terminationStatus)); pip install jsonschema")
        }
        let result = try JSONValue.parse(Array(data))
        return (result.arrayValue ?? []).map { ($0.arrayValue?[0].numberValue.map { Int($0) } ?? -1, $0.arrayValue?[1].stringValue ?? "") }
    }
}
