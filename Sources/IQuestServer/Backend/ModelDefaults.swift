import Foundation
import IQuestFormats
import IQuestTokenizer

/// Per-model defaults the server applies when a request leaves a field out.
enum ModelDefaults {
    /// IQuest model card: temperature 0.6, top_p 0.85, top_k 20 (generation_config.json holds only
    /// ids). Other models: generation_config.json (HF directory) or `general.sampling.*` (GGUF).
    static func sampling(path: String, architecture: String) -> SamplingDefaults {
        var d = SamplingDefaults()
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let url = URL(fileURLWithPath: path).appendingPathComponent("generation_config.json")
            if let data = try? Data(contentsOf: url),
               let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
                d.temperature = (config["temperature"] as? NSNumber)?.floatValue
                d.topP = (config["top_p"] as? NSNumber)?.floatValue
                d.topK = (config["top_k"] as? NSNumber)?.intValue
                d.minP = (config["min_p"] as? NSNumber)?.floatValue
                d.repetitionPenalty = (config["repetition_penalty"] as? NSNumber)?.floatValue
            }
        } else if let file = try? GGUFFile(path: path) {
            d.temperature = file.metadata["general.sampling.temp"]?.doubleValue.map(Float.init)
            d.topP = file.metadata["general.sampling.top_p"]?.doubleValue.map(Float.init)
            d.topK = file.metadata["general.sampling.top_k"]?.intValue
            d.minP = file.metadata["general.sampling.min_p"]?.doubleValue.map(Float.init)
        }
        if architecture.lowercased().contains("iquest") {
            d.temperature = d.temperature ?? 0.6
            d.topP = d.topP ?? 0.85
            d.topK = d.topK ?? 20
        }
        return d
    }

    /// Fill-in-the-middle markers in either common spelling.
    static func fimTokens(_ tokenizer: any Tokenizer) -> FIMTokens? {
        // Qwen/IQuest spelling, then StarCoder's (SmolLM2); each family with its repository markers.
        for (p, s, m, r, f) in [("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|repo_name|>", "<|file_sep|>"),
                                ("<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<repo_name>", "<file_sep>")] {
            if tokenizer.tokenId(for: p) != nil, tokenizer.tokenId(for: s) != nil, tokenizer.tokenId(for: m) != nil {
                return FIMTokens(prefix: p, suffix: s, middle: m, repoName: tokenizer.tokenId(for: r) != nil ? r : nil,
                                 fileSeparator: tokenizer.tokenId(for: f) != nil ? f : nil)
            }
        }
        return nil
    }
}
