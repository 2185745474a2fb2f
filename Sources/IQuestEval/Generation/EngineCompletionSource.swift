import Foundation
import IQuestEngine
import IQuestKernels

/// Generates with the local engine: every job is submitted to one `BatchScheduler` and stepped
/// together (continuous batching; decode kernels are batch invariant, so a greedy answer does
/// not depend on what else is in flight). The pool holds `maxRunning` whole sequences, so
/// nothing is preempted.
public final class EngineCompletionSource: CompletionSource {
    public let loaded: LoadedModel
    public let kvTypes: KVCacheTypes
    public let maxRunning: Int
    public var name: String { loaded.name }

    public init(loaded: LoadedModel, kvTypes: KVCacheTypes, maxRunning: Int) {
        self.loaded = loaded
        self.kvTypes = kvTypes
        self.maxRunning = max(1, maxRunning)
    }

    func promptIds(_ job: GenerationJob) throws -> [Int] {
        switch job.mode {
        case .completion:
            return loaded.tokenizer.encode(job.text, addSpecialTokens: true, parseSpecial: false)
        case .chat:
            let rendered = try loaded.chatFormat.prompt(for: [ChatMessage(role: "user", content: job.text)])
            return loaded.tokenizer.encode(rendered, addSpecialTokens: true, parseSpecial: true)
        }
    }

    public func generate(_ jobs: [GenerationJob], progress: @escaping @Sendable (Int) -> Void) async throws -> [GeneratedText] {
        let prompts = try jobs.map(promptIds)
        let longest = (zip(prompts, jobs).map { $0.0.count + $0.1.maxTokens }.max() ?? 1) + 1
        let context = min(loaded.model.contextLength, longest)
        if let job = zip(prompts, jobs).first(where: { $0.0.count + 1 > loaded.model.contextLength })?.1 {
            throw EvalError("\(job.problem.taskId)'s prompt does not fit the model's context of \(loaded.model.contextLength) tokens")
        }
        let blockSize = 16
        let blocksPerSequence = (context + blockSize - 1) / blockSize + 1
        let scheduler = try BatchScheduler(
            model: loaded.model, tokenizer: loaded.tokenizer, stopTokenIds: loaded.stopTokenIds,
            blocks: blocksPerSequence * maxRunning, blockSize: blockSize, kvTypes: kvTypes,
            configuration: SchedulerConfiguration(maxRunning: maxRunning, maxBatchTokens: 512, maxWaiting: jobs.count + 1,
                                                  contextLength: context))
        var texts = Array(repeating: "", count: jobs.count)
        var tokenIds = Array(repeating: [Int](), count: jobs.count)
        var results = Array(repeating: GeneratedText(text: "", tokens: 0, finishReason: "", seconds: 0), count: jobs.count)
        var started = Array(repeating: Date(), count: jobs.count)
        var finished = 0
        var failure: String?
        for (index, job) in jobs.enumerated() {
            let sampling = job.temperature == 0 ? SamplingParameters.greedy
                : SamplingParameters(temperature: job.temperature, topK: 0, topP: job.topP, minP: 0, seed: job.seed)
            let request = GenerationRequest(promptIds: prompts[index], sampling: sampling, maxTokens: job.maxTokens,
                                            stopStrings: job.stopStrings)
            try scheduler.submit(request) { event in
                switch event {
                case .started: started[index] = Date()
                case .token(let token):
                    texts[index] += token.text
                    tokenIds[index].append(token.id)
                case .finished(let stats):
                    results[index] = GeneratedText(text: texts[index], tokens: stats.generatedTokens,
                                                   finishReason: stats.finishReason.rawValue,
                                                   seconds: Date().timeIntervalSince(started[index]),
                                                   promptIds: prompts[index], tokenIds: tokenIds[index])
                    finished += 1
                    progress(finished)
                case .failed(let message):
                    failure = "\(job.problem.taskId): \(message)"
                }
            }
        }
        while !scheduler.isIdle && failure == nil { scheduler.step() }
        if let failure { throw EvalError("generation failed: \(failure)") }
        return results
    }
}
