import Foundation
import Hummingbird
import IQuestConstraints
import IQuestEngine
import IQuestOutputParsing
import IQuestTemplates

/// A chat turn ready for the engine: its prompt, the engine's request and how output is parsed.
struct PreparedChat: Sendable {
    var prompt: String
    var request: GenerationRequest
    var setup: OpenAIRoutes.OutputSetup
    var promptTokens: Int { request.promptIds.count }
}

/// What every protocol's encoder consumes: the parsed output of one generation as it streams.
enum ChatEvent: Sendable {
    /// A generated token, before its text goes through the parser (for logprobs; most encoders
    /// ignore it).
    case token(GeneratedToken)
    case reasoning(String)
    case content(String)
    case toolCall(ParsedToolCall)
    /// Nothing else happened for one keep-alive interval.
    case ping
}

/// The parsed output of a whole generation (the non-streamed answer).
struct ChatResult: Sendable {
    var reasoning = ""
    var content = ""
    var toolCalls: [ParsedToolCall] = []
    var tokens: [GeneratedToken] = []
    var stats = GenerationStats()

    mutating func add(_ event: ChatEvent) {
        switch event {
        case .reasoning(let s): reasoning += s
        case .content(let s): content += s
        case .toolCall(let c): toolCalls.append(c)
        case .token(let t): tokens.append(t)
        case .ping: break
        }
    }
}

extension OpenAIRoutes {
    /// Template, tokens, budget and output parser for `turn`: the one path every chat protocol takes.
    /// Throws the 400s (template failure, prompt too long) before any response starts.
    func prepare(_ turn: ChatTurn, model: ServedModel) throws -> PreparedChat {
        let (prompt, ids) = try render(turn)
        let maxTokens = try completionBudget(promptCount: ids.count, requested: turn.maxTokens, model: model)
        var request = GenerationRequest(promptIds: ids, sampling: turn.sampling, maxTokens: maxTokens, stopStrings: turn.stop,
                                        logprobs: turn.logprobs, topLogprobs: turn.topLogprobs)
        request.ignoreStopTokens = turn.ignoreEOS
        let setup = outputSetup(turn, model: model, prompt: prompt, useTools: turn.usesTools)
        try constrain(&request, format: turn.format, logitBias: turn.logitBias,
                      forcedTools: setup.toolSyntax == nil ? nil : turn.forcedTools.map { ($0, setup.toolSyntax ?? .hermes) },
                      startsInReasoning: setup.startsInReasoning,
                      strictTools: setup.toolSyntax == nil ? nil : turn.strictTools.map { ($0, setup.toolSyntax ?? .hermes) })
        request.speculative = turn.speculative
        return PreparedChat(prompt: prompt, request: request, setup: setup)
    }

    /// Compiles the request's structured output (or forced tool call) into the engine request,
    /// with its logit_bias. Schema problems are 400s naming the field; the constraint waits for
    /// the end of the reasoning block when the answer opens inside one. Strict tools under
    /// tool_choice auto constrain each call from its opener to its closer, text around them free
    /// (a response_format, when also given, takes precedence: it governs the whole answer).
    func constrain(_ request: inout GenerationRequest, format: OutputFormat.Located?, logitBias: [Int: Float],
                   forcedTools: ([(name: String, parameters: JSONValue)], ToolCallSyntax)?, startsInReasoning: Bool,
                   strictTools: ([(name: String, parameters: JSONValue)], ToolCallSyntax)? = nil) throws {
        guard format != nil || forcedTools != nil || strictTools != nil || !logitBias.isEmpty else { return }
        let vocabulary = try backend.tokenVocabulary()
        for id in logitBias.keys where id >= vocabulary.size {
            throw OpenAIError.invalid("'logit_bias' names token id \(id), outside the vocabulary (0..<\(vocabulary.size))", param: "logit_bias")
        }
        request.logitBias = logitBias
        let grammar: Grammar
        if let (tools, syntax) = forcedTools {
            grammar = try ToolCallGrammar.grammar(tools: tools, syntax: syntax)
        } else if let format {
            grammar = try format.format.grammar(param: format.param)
        } else if let (tools, syntax) = strictTools, !tools.isEmpty {
            request.constraint = OutputConstraint(grammar: try ToolCallGrammar.grammar(tools: tools, syntax: syntax, single: true),
                                                  vocabulary: vocabulary, startAfter: startsInReasoning ? "</think>" : nil,
                                                  opener: ToolCallGrammar.opener)
            return
        } else {
            return
        }
        request.constraint = OutputConstraint(grammar: grammar, vocabulary: vocabulary,
                                              startAfter: startsInReasoning ? "</think>" : nil)
    }

    /// The prompt text and ids of `turn` (also what token-counting routes report).
    func render(_ turn: ChatTurn) throws -> (prompt: String, ids: [Int]) {
        let prompt: String
        do {
            prompt = try backend.renderChat(messages: turn.messages, tools: turn.usesTools ? turn.tools : nil,
                                            options: turn.templateOptions)
        } catch let error as OpenAIError {
            throw error
        } catch {
            throw OpenAIError.invalid("the model's chat template failed on these messages: \(error)", param: "messages")
        }
        return (prompt, try backend.tokenize(prompt, addSpecialTokens: true))
    }

    /// Runs one generation, handing each parsed event (and a `.ping` per keep-alive interval) to
    /// `handle` with the response writer; returns the engine's stats. Latency metrics are
    /// recorded here, once for every protocol.
    func drive(_ prepared: PreparedChat, admission: Admission, pingInterval: Duration, writer: inout any ResponseBodyWriter,
               handle: (ChatEvent, inout any ResponseBodyWriter) async throws -> Void) async throws -> GenerationStats {
        var parser = prepared.setup.makeParser()
        var timing = LatencyTracker(metrics: metrics)
        var finished: GenerationStats?
        func emit(_ deltas: [ChatOutputDelta], _ writer: inout any ResponseBodyWriter) async throws {
            for delta in deltas {
                switch delta {
                case .content(let s): try await handle(.content(s), &writer)
                case .reasoning(let s): try await handle(.reasoning(s), &writer)
                case .toolCall(let c): try await handle(.toolCall(c), &writer)
                }
            }
        }
        do {
            for try await event in pumpEvents(backend.generate(prepared.request), pingInterval: pingInterval, admission: admission) {
                switch event {
                case .ping: try await handle(.ping, &writer)
                case .generation(.started): break
                case .generation(.token(let token)):
                    timing.token()
                    try await handle(.token(token), &writer)
                    try await emit(parser.feed(token.text), &writer)
                case .generation(.finished(let stats)):
                    timing.finished(stats)
                    finished = stats
                }
            }
        } catch {
            if finished == nil { timing.aborted() }
            throw error
        }
        try await emit(parser.finish(), &writer)
        guard let stats = finished else { throw OpenAIError.server("the generation ended without a result") }
        return stats
    }

    /// The whole parsed answer, writing a space per heartbeat interval while it runs (see `collect`).
    func collectChat(_ prepared: PreparedChat, admission: Admission, body: StartedResponse,
                     writer: inout any ResponseBodyWriter) async throws -> ChatResult {
        var result = ChatResult()
        let stats = try await drive(prepared, admission: admission, pingInterval: configuration.heartbeatInterval,
                                       writer: &writer) { event, writer in
            if case .ping = event { try await body.write(ByteBuffer(string: " "), to: &writer) }
            result.add(event)
        }
        result.stats = stats
        return result
    }
}

extension OpenAIRoutes {
    /// A prompt that is sent as text, not through the chat template (raw generate, infill): no
    /// reasoning or tool parsing, the output is all content.
    func prepareText(_ text: String, sampling: SamplingParameters, maxTokens: Int?, stop: [String],
                     model: ServedModel) throws -> PreparedChat {
        let ids = try backend.tokenize(text, addSpecialTokens: true)
        let budget = try completionBudget(promptCount: ids.count, requested: maxTokens, model: model)
        return PreparedChat(prompt: text, request: GenerationRequest(promptIds: ids, sampling: sampling, maxTokens: budget, stopStrings: stop),
                            setup: OutputSetup(reasoning: false, startsInReasoning: false, toolSyntax: nil, parameterTypes: [:]))
    }
}

extension FIMTokens {
    /// Prefix-suffix-middle order, the one IQuest-Coder and Qwen2.5-Coder are trained on.
    func prompt(prefix: String, suffix: String) -> String { self.prefix + prefix + self.suffix + suffix + middle }
}
