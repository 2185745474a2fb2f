import Foundation
import IQuestConstraints
import IQuestEngine
import IQuestFormats
import IQuestKernels
import IQuestModels
import IQuestTemplates
import IQuestTokenizer
import Synchronization

/// How the engine batches and how much memory its KV cache gets.
public struct EngineOptions: Sendable {
    /// Bytes for the shared KV block pool; nil picks the default rule (`KVCachePlan.serving`).
    public var kvCacheBytes: Int?
    /// The pool's size in tokens instead (takes precedence over bytes).
    public var kvCacheTokens: Int?
    /// Sequences per step (vLLM's --max-num-seqs).
    public var maxRunning = 16
    /// Tokens per step, decode tokens and prompt chunks together (vLLM's --max-num-batched-tokens).
    public var maxBatchTokens = 512
    /// Requests waiting for a slot before the server answers 503.
    public var maxWaiting = 128
    /// How keys and values are stored in the pool.
    public var kvCacheTypes = KVCacheTypes.standard
    /// Speculative decoding for requests that do not choose (`--speculative`).
    public var speculative = SpeculativeOptions.off
    /// A smaller model of the same tokenizer for `SpeculativeMode.draft` (`--model-draft`).
    public var draftModelPath: String?

    public init() {}

    /// Requests the server admits at once (running and waiting), its `AdmissionGate`'s places.
    public var admissionCapacity: Int { maxRunning + maxWaiting }
}

/// The real backend: loads the model on its own thread (the server answers `/health` with 503
/// meanwhile), then runs a `BatchScheduler` there: new requests join between steps, each step is
/// one forward over every running request. Forward passes block for a long time, so they never
/// run on Swift's cooperative executor.
public final class EngineBackend: InferenceBackend, @unchecked Sendable {
    private struct Job {
        let request: GenerationRequest
        let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
        let cancelled: CancelFlag
    }

    private let condition = NSCondition()
    private let options: EngineOptions
    // Guarded by `condition`.
    private var _state: BackendState = .loading("starting")
    private var loaded: LoadedModel?
    /// Built on the first structured-output request (a walk over the vocabulary), then shared.
    private var vocabulary: TokenVocabulary?
    private var jobs: [Job] = []
    private var snapshot = SchedulerSnapshot()
    private var _cancelledCount = 0
    private var stopping = false
    /// Requests the scheduler holds, by id (engine thread only).
    private var live: [Int: Job] = [:]

    /// - Parameters:
    ///   - servedName: the model name clients see (default: the file or directory name).
    ///   - maxModelLen: context cap below the model's own.
    ///   - activations: decode precision on quantized weights (see `ActivationPrecision`).
    ///   - log: load progress and the outcome, one line each.
    ///   - onLoadFailure: called with the reason when the model cannot be loaded or its KV cache
    ///     planned (`iquest serve` exits there); without it the server stays up and answers 503.
    public init(path: String, threads: Int, servedName: String?, maxModelLen: Int?, activations: ActivationPrecision = .standard,
                options: EngineOptions = EngineOptions(), log: @escaping @Sendable (String) -> Void = { _ in },
                onLoadFailure: (@Sendable (String) -> Void)? = nil) {
        self.options = options
        let thread = Thread { [self] in
            guard let scheduler = self.load(path: path, threads: threads, activations: activations, servedName: servedName,
                                            maxModelLen: maxModelLen, log: log) else {
                if case .failed(let reason) = self.state { onLoadFailure?(reason) }
                return
            }
            self.serve(scheduler)
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
        return (jobs.count + snapshot.waiting, snapshot.running)
    }

    public var engineStats: SchedulerSnapshot? {
        condition.lock()
        defer { condition.unlock() }
        return snapshot
    }

    /// Generations stopped because their consumer went away (queued ones dropped included).
    public var cancelledCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return _cancelledCount
    }

    /// Ends the engine thread after the current step; queued and running requests are failed.
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

    public func tokenVocabulary() throws -> TokenVocabulary {
        let m = try model()
        condition.lock()
        defer { condition.unlock() }
        if let v = vocabulary { return v }
        let v = TokenVocabulary(tokenizer: m.tokenizer, stopIds: Array(m.stopTokenIds).sorted())
        vocabulary = v
        return v
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
                      log: @Sendable (String) -> Void) -> BatchScheduler? {
        do {
            let loaded = try LoadedModel.load(path: path, threads: threads, activations: activations) { [self] line in
                log(line)
                setState(.loading(line))
            }
            let plan = try KVCachePlan.serving(
                layout: loaded.model.kvLayout, types: options.kvCacheTypes, modelContext: loaded.model.contextLength,
                requestedContext: maxModelLen, poolTokens: options.kvCacheTokens, poolBytes: options.kvCacheBytes,
                available: ProcessMemory.available())
            let contextLength = plan.contextLength
            var draft: LoadedModel?
            if let draftPath = options.draftModelPath {
                let model = try LoadedModel.load(path: draftPath, threads: threads, activations: activations) { log("draft: " + $0) }
                if let reason = DraftModelCheck.refusal(target: loaded, draft: model) {
                    throw GenerationError("--model-draft \(draftPath): \(reason)")
                }
                draft = model
            }
            let scheduler = try BatchScheduler(
                model: loaded.model, tokenizer: loaded.tokenizer, stopTokenIds: loaded.stopTokenIds, blocks: plan.blocks,
                blockSize: plan.blockSize, kvTypes: plan.types,
                configuration: SchedulerConfiguration(maxRunning: options.maxRunning, maxBatchTokens: options.maxBatchTokens,
                                                      // The server's AdmissionGate bounds waiting requests; the scheduler
                                                      // must never refuse one it admitted (its response has started).
                                                      maxWaiting: .max, contextLength: contextLength,
                                                      speculative: options.speculative),
                draftModel: draft?.model)
            var description = ServedModel(
                id: servedName ?? ServedModel.defaultName(path: path),
                contextLength: contextLength,
                chatTemplate: loaded.chatFormat.template,
                samplingDefaults: ModelDefaults.sampling(path: path, architecture: loaded.model.architecture),
                fim: ModelDefaults.fimTokens(loaded.tokenizer))
            description.architecture = loaded.model.architecture
            condition.lock()
            self.loaded = loaded
            snapshot = scheduler.snapshot
            _state = .ready(description)
            condition.unlock()
            if let repack = loaded.model.repackReport { log(repack.summary) }
            log(plan.summary)
            log("up to \(options.maxRunning) sequences and \(options.maxBatchTokens) tokens per step")
            log("serving \(description.id) (context \(description.contextLength) tokens)")
            return scheduler
        } catch {
            log("error: \(error)")
            setState(.failed("\(error)"))
            return nil
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

    /// The step loop: take new jobs, run one step, publish the counters; sleep when idle.
    private func serve(_ scheduler: BatchScheduler) {
        while true {
            condition.lock()
            while jobs.isEmpty && scheduler.isIdle && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                for job in live.values { job.continuation.finish(throwing: OpenAIError.unavailable("the server is shutting down")) }
                return
            }
            let incoming = jobs
            jobs.removeAll()
            condition.unlock()
            for job in incoming { submit(job, to: scheduler) }
            scheduler.step()
            let current = scheduler.snapshot
            condition.lock()
            snapshot = current
            condition.unlock()
        }
    }

    private func submit(_ job: Job, to scheduler: BatchScheduler) {
        guard !job.cancelled.isCancelled else {
            countCancelled()
            job.continuation.finish()
            return
        }
        let continuation = job.continuation
        let flag = job.cancelled
        let box = RequestId()
        do {
            box.id = try scheduler.submit(job.request, isCancelled: { flag.isCancelled }) { [self] event in
                switch event {
                case .started: continuation.yield(.started)
                case .token(let token): continuation.yield(.token(token))
                case .finished(let stats):
                    if stats.finishReason == .cancelled { countCancelled() }
                    continuation.yield(.finished(stats))
                    continuation.finish()
                    live[box.id] = nil
                case .failed(let message):
                    continuation.finish(throwing: OpenAIError.server(message))
                    live[box.id] = nil
                }
            }
            live[box.id] = job
        } catch {
            continuation.finish(throwing: OpenAIError.invalid("\(error)"))
        }
    }
}

/// The scheduler's id of a request, known after `submit` returns (engine thread only).
private final class RequestId {
    var id = -1
}

/// Set once when the consumer of a generation goes away.
final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}
