import Foundation

public enum PromptMode: String, Sendable, CaseIterable, Codable {
    /// The raw problem prompt; stop strings end the body (`CompletionRules`).
    case completion
    /// One user turn through the chat template; the code is extracted from the reply.
    case chat
}

/// One sample to generate.
public struct GenerationJob: Sendable {
    public var index: Int
    public var problem: HumanEvalProblem
    public var sample: Int
    public var mode: PromptMode
    public var maxTokens: Int
    public var temperature: Float
    /// Nucleus cut when sampling (ignored when greedy).
    public var topP: Float
    /// The run's seed + the sample number, so samples of one problem differ and reruns repeat.
    public var seed: UInt64?

    /// The text sent to a completions endpoint, or the user message of a chat.
    public var text: String { mode == .completion ? problem.prompt : CompletionRules.chatMessage(for: problem) }
    public var stopStrings: [String] { mode == .completion ? CompletionRules.stopStrings : [] }
}

/// The model's answer to one job.
public struct GeneratedText: Sendable {
    public var text: String
    public var tokens: Int
    public var finishReason: String
    public var seconds: Double
    /// Token ids of the prompt and the answer, when the source knows them (the local engine).
    public var promptIds: [Int]?
    public var tokenIds: [Int]?

    public init(text: String, tokens: Int, finishReason: String, seconds: Double, promptIds: [Int]? = nil, tokenIds: [Int]? = nil) {
        self.text = text
        self.tokens = tokens
        self.finishReason = finishReason
        self.seconds = seconds
        self.promptIds = promptIds
        self.tokenIds = tokenIds
    }
}

/// Something that answers jobs: the local engine's batch scheduler or an OpenAI-compatible server.
/// `progress` is called with the number of finished jobs.
public protocol CompletionSource {
    var name: String { get }
    func generate(_ jobs: [GenerationJob], progress: @escaping @Sendable (Int) -> Void) async throws -> [GeneratedText]
}
