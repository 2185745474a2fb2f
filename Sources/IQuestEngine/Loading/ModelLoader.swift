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

    /// Opens a GGUF file: checks the path, parses and validates the header (memory-mapped, no
    /// weight is read), then builds the model and tokenizer. `progress` receives short status
    /// lines for the CLI to show on stderr.
    public static func load(path: String, threads: Int, progress: (String) -> Void = { _ in }) throws -> LoadedModel {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LoadError("\(path): no such file")
        }
        if isDirectory.boolValue {
            throw LoadError("\(path): is a directory; pass a .gguf model file")
        }
        let started = Date()
        let file: GGUFFile
        do {
            file = try GGUFFile(path: path)
        } catch {
            throw LoadError(error.description)
        }
        let model = try ModelRegistry.load(gguf: file, pool: ComputePool(threads: threads))
        let tokenizer: any Tokenizer
        do {
            tokenizer = try ByteLevelBPETokenizer(gguf: file)
        } catch {
            throw LoadError("\(path): cannot build the tokenizer: \(error.description)")
        }
        let template = file.metadata["tokenizer.chat_template"]?.stringValue
        let chat = ChatFormat(template: template, tokenizer: tokenizer)
        var stops = Set(tokenizer.eosTokenIds)
        if let end = chat.endOfTurnTokenId { stops.insert(end) }
        let name = file.metadata["general.name"]?.stringValue ?? URL(fileURLWithPath: path).lastPathComponent
        let elapsed = Date().timeIntervalSince(started)
        if elapsed > 0.5 { progress(String(format: "loaded %@ in %.1f s", name, elapsed)) }
        return LoadedModel(path: path, name: name, model: model, tokenizer: tokenizer, chatFormat: chat, stopTokenIds: stops)
    }
}
