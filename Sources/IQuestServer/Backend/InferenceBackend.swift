import Foundation
import IQuestConstraints
import IQuestEngine
import IQuestTemplates

/// What the HTTP layer needs to know about the model being served.
public struct ServedModel: Sendable {
    /// The name clients pass as `model` and see in responses.
    public var id: String
    /// Tokens one sequence may hold (prompt + completion).
    public var contextLength: Int
    /// The checkpoint's Jinja chat template, nil when it ships none (ChatML is used then).
    public var chatTemplate: String?
    /// Sampling settings a request gets for the fields it leaves out.
    public var samplingDefaults: SamplingDefaults
    /// Fill-in-the-middle marker texts, when the vocabulary has them (`suffix` needs them).
    public var fim: FIMTokens?
    /// The checkpoint's architecture name (Ollama's `/api/show` reports it).
    public var architecture = "llama"

    public init(id: String, contextLength: Int, chatTemplate: String?, samplingDefaults: SamplingDefaults = .init(),
                fim: FIMTokens? = nil) {
        self.id = id
        self.contextLength = contextLength
        self.chatTemplate = chatTemplate
        self.samplingDefaults = samplingDefaults
        self.fim = fim
    }

    /// The served name when none is given: the file or directory name, which is what a user typed
    /// and tells quantizations apart (GGUF `general.name` is often the base model's for all of them).
    public static func defaultName(path: String) -> String {
        let name = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
        return name.isEmpty ? "model" : name
    }
}

/// Defaults from the model (generation_config.json, the model card); nil leaves OpenAI's default.
public struct SamplingDefaults: Sendable, Equatable {
    public var temperature: Float?
    public var topP: Float?
    public var topK: Int?
    public var minP: Float?
    public var repetitionPenalty: Float?

    public init(temperature: Float? = nil, topP: Float? = nil, topK: Int? = nil, minP: Float? = nil,
                repetitionPenalty: Float? = nil) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
    }
}

public struct FIMTokens: Sendable, Equatable {
    public var prefix: String
    public var suffix: String
    public var middle: String
    /// Repository-level markers (`<|repo_name|>`, `<|file_sep|>`), when the vocabulary has them:
    /// `/infill` lays out `input_extra` files with them.
    public var repoName: String?
    public var fileSeparator: String?

    public init(prefix: String, suffix: String, middle: String, repoName: String? = nil, fileSeparator: String? = nil) {
        self.prefix = prefix
        self.suffix = suffix
        self.middle = middle
        self.repoName = repoName
        self.fileSeparator = fileSeparator
    }
}

/// Where the backend is in its life: the server answers 503 until `ready`.
public enum BackendState: Sendable {
    case loading(String)
    case ready(ServedModel)
    case failed(String)
}

/// One streamed event of a generation.
public enum GenerationEvent: Sendable {
    /// The request left the queue and its prompt is being processed.
    case started
    case token(GeneratedToken)
    case finished(GenerationStats)
}

/// The engine as the server sees it: one owner runs generations one after another (batching
/// slots in behind this protocol). A scripted implementation drives the route tests.
public protocol InferenceBackend: AnyObject, Sendable {
    var state: BackendState { get }
    /// Requests waiting for the engine and running on it (for `/metrics`).
    var queueDepth: (waiting: Int, running: Int) { get }

    /// The prompt text for JSON-shaped `messages` and `tools` (nil: no tools in the prompt).
    func renderChat(messages: [TemplateValue], tools: [TemplateValue]?, options: [String: TemplateValue]) throws -> String
    func tokenize(_ text: String, addSpecialTokens: Bool) throws -> [Int]
    func detokenize(_ ids: [Int]) throws -> String
    /// The text of one token, as logprobs report it.
    func tokenText(_ id: Int) -> String
    /// The batching engine's counters (KV blocks, prefix cache, batch sizes); nil when the
    /// backend has none.
    var engineStats: SchedulerSnapshot? { get }
    /// Queues a generation. The HTTP layer's `AdmissionGate` bounds how many run or wait, so a
    /// backend must not refuse one for lack of room (the response has already started). Ending the stream's consumption (client gone, task cancelled) cancels
    /// it: a queued request is dropped, a running one stops within one step.
    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error>
    /// Every token's bytes and the stop ids, for structured outputs (built once per model).
    func tokenVocabulary() throws -> TokenVocabulary
}

extension InferenceBackend {
    public var engineStats: SchedulerSnapshot? { nil }
    public func tokenVocabulary() throws -> TokenVocabulary {
        throw OpenAIError.invalid("structured outputs are not available on this backend", param: "response_format")
    }
}
