import Foundation
import IQuestConstraints
import IQuestEngine
import IQuestServer
import IQuestTemplates

/// A backend that "generates" a fixed list of token texts, so the HTTP layer (parsers, SSE,
/// errors) is tested deterministically. Token ids are indices into `script`; tokenizing maps
/// each UTF-8 byte to one id.
final class ScriptedBackend: InferenceBackend, @unchecked Sendable {
    private let lock = NSLock()
    private var _state: BackendState
    private var _requests: [GenerationRequest] = []
    private var _cancellations = 0
    private var _running = 0
    private var _failAfter: Int?
    private var _prompts: [String] = []
    private var _engineStats: SchedulerSnapshot?
    /// Prompt tokens each generation reports as served from the prefix cache.
    var cachedPromptTokens = 0
    let script: [String]
    /// Appended to every rendered prompt (e.g. "<think>\n" to open reasoning in the prompt).
    let promptSuffix: String
    /// Pause before each token (cancellation tests).
    let tokenDelay: Duration

    init(script: [String], model: ServedModel = ServedModel(id: "scripted", contextLength: 64, chatTemplate: nil),
         promptSuffix: String = "", tokenDelay: Duration = .zero) {
        self.script = script
        self._state = .ready(model)
        self.promptSuffix = promptSuffix
        self.tokenDelay = tokenDelay
    }

    var state: BackendState {
        get { lock.withLock { _state } }
        set { lock.withLock { _state = newValue } }
    }
    var queueDepth: (waiting: Int, running: Int) { (0, lock.withLock { _running }) }
    var engineStats: SchedulerSnapshot? {
        get { lock.withLock { _engineStats } }
        set { lock.withLock { _engineStats = newValue } }
    }

    var requests: [GenerationRequest] { lock.withLock { _requests } }
    var renderedPrompts: [String] { lock.withLock { _prompts } }
    var cancellations: Int { lock.withLock { _cancellations } }
    /// Generations started and not yet ended (however they ended).
    var running: Int { lock.withLock { _running } }
    /// When set, every generation fails with an engine error after this many tokens.
    var failAfter: Int? {
        get { lock.withLock { _failAfter } }
        set { lock.withLock { _failAfter = newValue } }
    }

    func renderChat(messages: [TemplateValue], tools: [TemplateValue]?, options: [String: TemplateValue]) throws -> String {
        var out = ""
        for m in messages {
            guard case .dictionary(let d) = m, case .string(let role)? = d["role"], case .string(let content)? = d["content"] else {
                throw GenerationError("bad message")
            }
            out += "\(role): \(content)\n"
        }
        if let tools { out += "tools: \(tools.count)\n" }
        for key in options.keys.sorted() { out += "option \(key)\n" }
        out += promptSuffix
        lock.withLock { _prompts.append(out) }
        return out
    }

    func tokenize(_ text: String, addSpecialTokens: Bool) throws -> [Int] { text.utf8.map { Int($0) } }

    func detokenize(_ ids: [Int]) throws -> String {
        String(decoding: ids.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
    }

    func tokenText(_ id: Int) -> String { id < script.count ? script[id] : "" }

    /// The scripted tokenizer's vocabulary: one token per byte, 256 the stop id.
    func tokenVocabulary() throws -> TokenVocabulary {
        TokenVocabulary(bytes: (0..<256).map { [UInt8($0)] } + [nil], stopIds: [256])
    }

    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        lock.withLock { _requests.append(request) }
        let script = self.script
        let delay = tokenDelay
        let failAfter = self.failAfter
        return AsyncThrowingStream { continuation in
            self.lock.withLock { self._running += 1 }
            let task = Task {
                defer { self.lock.withLock { self._running -= 1 } }
                continuation.yield(.started)
                var stats = GenerationStats()
                stats.promptTokens = request.promptIds.count
                stats.cachedPromptTokens = self.cachedPromptTokens
                stats.finishReason = .stop
                for (i, text) in script.enumerated() {
                    if stats.generatedTokens == request.maxTokens {
                        stats.finishReason = .length
                        break
                    }
                    if delay > .zero { try? await Task.sleep(for: delay) }
                    if Task.isCancelled {
                        self.lock.withLock { self._cancellations += 1 }
                        continuation.finish()
                        return
                    }
                    if let failAfter, stats.generatedTokens == failAfter {
                        continuation.finish(throwing: OpenAIError.server("the engine failed (scripted)"))
                        return
                    }
                    // A script token equal to a stop string ends the generation as the engine's matcher does.
                    if request.stopStrings.contains(text) {
                        stats.stopString = text
                        break
                    }
                    stats.generatedTokens += 1
                    let top: [(id: Int, logprob: Float)] = (0..<request.topLogprobs).map { (id: ($0 + i) % script.count, logprob: -Float($0) - 0.25) }
                    continuation.yield(.token(GeneratedToken(id: i, text: text, logprob: request.logprobs ? -0.25 : nil, topLogprobs: top)))
                }
                continuation.yield(.finished(stats))
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
