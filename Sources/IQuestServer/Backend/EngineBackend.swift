import Foundation
import IQuestEngine
import IQuestFormats
import IQuestKernels
import IQuestTemplates
import IQuestTokenizer
import Synchronization

/// The real backend: loads the model on its own thread (the server answers `/health` with 503
/// meanwhile), then runs queued generations one after another on that thread. Forward passes
/// block for a long time, so they never run on Swift's cooperative executor.
public final class EngineBackend: InferenceBackend, @unchecked Sendable {
    private struct Job {
        let request: GenerationRequest
        let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
        let cancelled: CancelFlag
    }

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var _state: BackendState = .loading("starting")
    private var loaded: LoadedModel?
    private var jobs: [Job] = []
    private var runningCount = 0
    private var _cancelledCount = 0
    private var stopping = false

    /// - Parameters:
    ///   - servedName: the model name clients see (default: the checkpoint's name).
    ///   - maxModelLen: context cap below the model's own.
    ///   - activations: decode precision on quantized weights (see `ActivationPrecision`).
    ///   - log: load progress and the outcome, one line each.
    public init(path: String, threads: Int, servedName: String?, maxModelLen: Int?, activations: ActivationPrecision = .standard,
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        let thread = Thread { [self] in
            self.load(path: path, threads: threads, activations: activations, servedName: servedName,
                      maxModelLen: maxModelLen, log: log)
            self.serveJobs(maxModelLen: maxModelLen)
        }
        thread.name = "iquest-engine"
        thread.stackSize = 16 << 20
        thread.start()
    }

    public var state: BackendState {
        condition.lock()
        defer { condition.unlock() }
        return _state
    }

    public var queueDepth: (waiting: Int, running: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (jobs.count, runningCount)
    }

    /// Generations stopped because their consumer went away (queued ones dropped included).
    public var cancelledCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return _cancelledCount
    }

    /// Ends the engine thread after the running job; queued jobs are failed.
    public func shutdown() {
        condition.lock()
        stopping = true
        let dropped = jobs
        jobs.removeAll()
        condition.broadcast()
        condition.unlock()
        for job in dropped { job.continuation.finish(throwing: OpenAIError.unavailable("the server is shutting down")) }
    }

    private func model() throws -> LoadedModel {
        condition.lock()
        defer { condition.unlock() }
        guard let loaded else { throw OpenAIError.unavailable("the model is not loaded yet") }
        return loaded
    }

    public func renderChat(messages: [TemplateValue], tools: [TemplateValue]?, options: [String: TemplateValue]) throws -> String {
        let m = try model()
        if m.chatFormat.template == nil {
            // No template shipped: ChatML over the plain text of each message.
            let plain = messages.map { value -> ChatMessage in
                guard case .dictionary(let d) = value, case .string(let role)? = d["role"] else { return ChatMessage(role: "user", content: "") }
                if case .string(let text)? = d["content"] { return ChatMessage(role: role, content: text) }
                return ChatMessage(role: role, content: "")
            }
            return try m.chatFormat.prompt(for: plain, options: options)
        }
        return try m.chatFormat.render(messages: messages, tools: tools, addGenerationPrompt: true, options: options)
    }

    public func tokenize(_ text: String, addSpecialTokens: Bool) throws -> [Int] {
        let tokenizer = try model().tokenizer
        // A template that already wrote the BOS text must not get a second BOS.
        if addSpecialTokens, let bos = tokenizer.bosTokenId, let bosText = tokenizer.piece(for: bos), text.hasPrefix(bosText) {
            return tokenizer.encode(text, addSpecialTokens: false, parseSpecial: true)
        }
        return tokenizer.encode(text, addSpecialTokens: addSpecialTokens, parseSpecial: addSpecialTokens)
    }

    public func detokenize(_ ids: [Int]) throws -> String {
        let tokenizer = try model().tokenizer
        for id in ids where id < 0 || id >= tokenizer.vocabularySize {
            throw OpenAIError.invalid("token id \(id) is outside the vocabulary (0..<\(tokenizer.vocabularySize))", param: "tokens")
        }
        return tokenizer.decode(ids, skipSpecialTokens: false)
    }

    public func tokenText(_ id: Int) -> String {
        guard let tokenizer = try? model().tokenizer else { return "" }
        return String(decoding: tokenizer.tokenBytes(id), as: UTF8.self)
    }

    public func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
        let flag = CancelFlag()
        continuation.onTermination = { _ in flag.cancel() }
        condition.lock()
        if stopping {
            condition.unlock()
            continuation.finish(throwing: OpenAIError.unavailable("the server is shutting down"))
            return stream
        }
        jobs.append(Job(request: request, continuation: continuation, cancelled: flag))
        condition.signal()
        condition.unlock()
        return stream
    }

    // MARK: engine thread

    private func load(path: String, threads: Int, activations: ActivationPrecision, servedName: String?, maxModelLen: Int?,
                      log: @Sendable (String) -> Void) {
        do {
            let loaded = try LoadedModel.load(path: path, threads: threads, activations: activations) { [self] line in
                log(line)
                setState(.loading(line))
            }
            let description = ServedModel(
                id: servedName ?? loaded.name,
                contextLength: min(maxModelLen ?? loaded.model.contextLength, loaded.model.contextLength),
                chatTemplate: loaded.chatFormat.template,
                samplingDefaults: ModelDefaults.sampling(path: path, architecture: loaded.model.architecture),
                fim: ModelDefaults.fimTokens(loaded.tokenizer))
            condition.lock()
            self.loaded = loaded
            _state = .ready(description)
            condition.unlock()
            log("serving \(description.id) (context \(description.contextLength) tokens)")
        } catch {
            log("error: \(error)")
            setState(.failed("\(error)"))
        }
    }

    private func countCancelled() {
        condition.lock()
        _cancelledCount += 1
        condition.unlock()
    }

    private func setState(_ state: BackendState) {
        condition.lock()
        _state = state
        condition.unlock()
    }

    private func serveJobs(maxModelLen: Int?) {
        condition.lock()
        let loaded = self.loaded
        condition.unlock()
        guard let loaded else { return }
        let generator = Generator(loaded: loaded, contextLength: maxModelLen)
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            runningCount = 1
            condition.unlock()
            run(job, generator)
            condition.lock()
            runningCount = 0
            condition.unlock()
        }
    }

    private func run(_ job: Job, _ generator: Generator) {
        guard !job.cancelled.isCancelled else {
            countCancelled()
            job.continuation.finish()
            return
        }
        job.continuation.yield(.started)
        do {
            let stats = try generator.generate(job.request, isCancelled: { job.cancelled.isCancelled }) { token in
                job.continuation.yield(.token(token))
                return !job.cancelled.isCancelled
            }
            if stats.finishReason == .cancelled { countCancelled() }
            job.continuation.yield(.finished(stats))
            job.continuation.finish()
        } catch {
            job.continuation.finish(throwing: error)
        }
    }
}

/// Set once when the consumer of a generation goes away.
final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}
