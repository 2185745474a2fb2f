import Foundation
import IQuestFormats
import IQuestKernels
import IQuestModels
import IQuestTokenizer

/// Why a model path could not be opened; one sentence naming the path.
public struct LoadError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A model with everything needed to talk to it: weights, tokenizer, stop ids, chat format.
public final class LoadedModel {
    public let path: String
    public let name: String
    public var model: any LanguageModel
    public let tokenizer: any Tokenizer
    public let chatFormat: ChatFormat
    /// Ids that end generation (EOS, end-of-turn).
    public let stopTokenIds: Set<Int>

    init(path: String, name: String, model: any LanguageModel, tokenizer: any Tokenizer, chatFormat: ChatFormat,
         stopTokenIds: Set<Int>) {
        self.path = path
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        self.chatFormat = chatFormat
        self.stopTokenIds = stopTokenIds
    }

    /// Opens a GGUF file or a Hugging Face checkpoint directory. Paths are checked first; headers
    /// and configs are validated before any weight is touched (weights are memory-mapped, not
    /// read). `activations`: how decoding treats activations against q8_0/q4_0/q4_1/q4_K/q6_K weights
    /// (`ActivationPrecision`). `progress` receives short status lines for the CLI to show on stderr.
    public static func load(path: String, threads: Int, activations: ActivationPrecision = .standard,
                            progress: (String) -> Void = { _ in }) throws -> LoadedModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LoadError("\(path): no such file or directory")
        }
        let started = Date()
        let loaded = isDirectory.boolValue
            ? try loadDirectory(path, threads: threads, activations: activations)
            : try loadGGUF(path, threads: threads, activations: activations)
        let elapsed = Date().timeIntervalSince(started)
        if elapsed > 0.5 { progress(String(format: "loaded %@ in %.1f s", loaded.name, elapsed)) }
        return loaded
    }

    /// Only the model, for commands that feed token ids (bench): works on checkpoints that ship
    /// no tokenizer.
    public static func loadModel(path: String, threads: Int, activations: ActivationPrecision = .standard) throws -> any LanguageModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LoadError("\(path): no such file or directory")
        }
        let pool = ComputePool(threads: threads)
        if isDirectory.boolValue { return try ModelRegistry.load(directory: path, pool: pool, activations: activations) }
        return try ModelRegistry.load(gguf: openGGUF(path), pool: pool, activations: activations)
    }

    private static func openGGUF(_ path: String) throws -> GGUFFile {
        do { return try GGUFFile(path: path) } catch { throw LoadError(error.description) }
    }

    private static func loadGGUF(_ path: String, threads: Int, activations: ActivationPrecision) throws -> LoadedModel {
        let file = try openGGUF(path)
        let model = try ModelRegistry.load(gguf: file, pool: ComputePool(threads: threads), activations: activations)
        let tokenizer: any Tokenizer
        do {
            tokenizer = try GGUFTokenizer.load(file)
        } catch {
            throw LoadError("\(path): cannot build the tokenizer: \(error.description)")
        }
        let chat = try chatFormat(file.metadata[GGUFTokenizerKey.chatTemplate]?.stringValue, tokenizer, path)
        let name = file.metadata["general.name"]?.stringValue ?? URL(fileURLWithPath: path).lastPathComponent
        return LoadedModel(path: path, name: name, model: model, tokenizer: tokenizer, chatFormat: chat,
                           stopTokenIds: stopIds(tokenizer, chat, extra: []))
    }

    private static func loadDirectory(_ path: String, threads: Int, activations: ActivationPrecision) throws -> LoadedModel {
        let model = try ModelRegistry.load(directory: path, pool: ComputePool(threads: threads), activations: activations)
        let tokenizer: any Tokenizer
        do {
            tokenizer = try AddedTokensTokenizer.load(directory: path)
        } catch {
            throw LoadError("\(path): cannot build the tokenizer: \(error.description)")
        }
        let config = try HFConfig(directory: path)
        let chat = try chatFormat(try directoryTemplate(path), tokenizer, path)
        return LoadedModel(path: path, name: URL(fileURLWithPath: path).lastPathComponent, model: model,
                           tokenizer: tokenizer, chatFormat: chat,
                           stopTokenIds: stopIds(tokenizer, chat, extra: config.eosTokenIds))
    }

    /// `chat_template.jinja`, else tokenizer_config.json's `chat_template` (a string, or a list of
    /// named templates of which "default" is used).
    static func directoryTemplate(_ directory: String) throws -> String? {
        let dir = URL(fileURLWithPath: directory)
        let jinja = dir.appendingPathComponent("chat_template.jinja")
        if FileManager.default.fileExists(atPath: jinja.path) {
            return try String(contentsOf: jinja, encoding: .utf8)
        }
        let configURL = dir.appendingPathComponent("tokenizer_config.json")
        guard let data = try? Data(contentsOf: configURL),
              let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        if let text = config["chat_template"] as? String { return text }
        if let list = config["chat_template"] as? [[String: Any]] {
            return list.first { $0["name"] as? String == "default" }?["template"] as? String
        }
        return nil
    }

    private static func chatFormat(_ template: String?, _ tokenizer: any Tokenizer, _ path: String) throws -> ChatFormat {
        ChatFormat(template: template, tokenizer: tokenizer)
    }

    private static func stopIds(_ tokenizer: any Tokenizer, _ chat: ChatFormat, extra: [Int]) -> Set<Int> {
        var stops = Set(tokenizer.eosTokenIds).union(extra)
        if let end = chat.endOfTurnTokenId { stops.insert(end) }
        return stops
    }
}
