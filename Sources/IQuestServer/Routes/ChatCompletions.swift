import Foundation
import Hummingbird
import IQuestEngine
import IQuestOutputParsing
import IQuestTemplates
import Logging

/// `POST /v1/chat/completions`.
extension OpenAIRoutes {
    /// How the model's output is split into content, reasoning and tool calls for this request.
    struct OutputSetup {
        var reasoning: Bool
        var startsInReasoning: Bool
        var toolSyntax: ToolCallSyntax?
        var parameterTypes: [String: [String: String]]

        func makeParser() -> ChatOutputParser {
            ChatOutputParser(reasoning: reasoning, startsInReasoning: startsInReasoning, toolSyntax: toolSyntax,
                             parameterTypes: parameterTypes)
        }
    }

    func chatCompletions(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        let chat = try ChatRequest(try await readJSON(request), defaults: model.samplingDefaults)
        // Held until the response is written; any error below releases it as it goes away.
        let admission = try admit(context)
        let prepared = try prepare(chat.turn, model: model)
        let setup = prepared.setup
        let base = prepared.request
        let id = OpenAIShapes.newID("chatcmpl-")
        let created = Int(Date().timeIntervalSince1970)
        if chat.fields.stream {
            return streamChat(chat, prepared: prepared, id: id, created: created, model: model, admission: admission,
                              logger: context.logger)
        }
        let routes = self
        let n = chat.fields.n
        let promptCount = base.promptIds.count
        return jsonResponse(route: "/v1/chat/completions", admission: admission, logger: context.logger) { writer, body in
            var choices: [JSONOut] = []
            var completionTokens = 0
            var cached: Int?
            for index in 0..<n {
                var choice = prepared
                choice.request.sampling = routes.sampling(base.sampling, choice: index)
                let result = try await routes.collectChat(choice, admission: admission, body: body, writer: &writer)
                completionTokens += result.stats.generatedTokens
                // The prompt is counted once, so its cached share is the first choice's.
                if cached == nil { cached = result.stats.cachedPromptTokens }
                choices.append(routes.chatChoice(index: index, result: result, setup: setup, logprobs: chat.logprobs))
            }
            return [
                "id": .string(id), "object": "chat.completion", "created": .int(created), "model": .string(model.id),
                "system_fingerprint": .string(OpenAIShapes.systemFingerprint), "choices": .array(choices),
                "usage": OpenAIShapes.usage(prompt: promptCount, completion: completionTokens, cached: cached ?? 0),
            ]
        }
    }

    func outputSetup(_ chat: ChatTurn, model: ServedModel, prompt: String, useTools: Bool) -> OutputSetup {
        var reasoning: Bool
        switch configuration.reasoningParser {
        case .auto: reasoning = OutputSyntaxDetection.usesThinkTags(chatTemplate: model.chatTemplate)
        case .qwen3: reasoning = true
        case .none: reasoning = false
        }
        // Thinking switched off by the template (`enable_thinking: false` renders an empty,
        // closed block): the answer is all content, streamed without waiting for a tag.
        if prompt.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("</think>") { reasoning = false }
        var syntax: ToolCallSyntax?
        if useTools {
            switch configuration.toolCallParser {
            case .auto: syntax = OutputSyntaxDetection.toolSyntax(chatTemplate: model.chatTemplate) ?? .hermes
            case .syntax(let s): syntax = s
            case .none: syntax = nil
            }
        }
        return OutputSetup(reasoning: reasoning,
                           startsInReasoning: reasoning && OutputSyntaxDetection.promptOpensReasoning(prompt),
                           toolSyntax: syntax, parameterTypes: chat.parameterTypes)
    }

    fileprivate func chatChoice(index: Int, result: ChatResult, setup: OutputSetup, logprobs: Bool) -> JSONOut {
        let (content, reasoning, calls, tokens, stats) = (result.content, result.reasoning, result.toolCalls, result.tokens, result.stats)
        var message: [(String, JSONOut)] = [("role", "assistant"),
                                           ("content", calls.isEmpty || !content.isEmpty ? .string(content) : .null)]
        if setup.reasoning {
            let r: JSONOut = reasoning.isEmpty ? .null : .string(reasoning)
            message += [("reasoning_content", r), ("reasoning", r)]
        }
        if !calls.isEmpty {
            message.append(("tool_calls", .array(calls.map { OpenAIShapes.toolCall($0, index: nil) })))
        }
        let logprobsJSON: JSONOut = logprobs
            ? ["content": .array(tokens.map { TokenLogprob($0, text: backend.tokenText).chatJSON })]
            : .null
        return ["index": .int(index), "message": .object(message), "logprobs": logprobsJSON,
                "finish_reason": .string(OpenAIShapes.finishReason(stats.finishReason, toolCalls: !calls.isEmpty))]
    }

    private func streamChat(_ chat: ChatRequest, prepared: PreparedChat, id: String, created: Int,
                            model: ServedModel, admission: Admission, logger: Logger) -> Response {
        let routes = self
        return eventStreamResponse(route: "/v1/chat/completions", admission: admission, logger: logger) { writer, body in
            func chunk(_ index: Int, delta: JSONOut, logprobs: JSONOut = .null, finish: JSONOut = .null) -> JSONOut {
                ["id": .string(id), "object": "chat.completion.chunk", "created": .int(created), "model": .string(model.id),
                 "system_fingerprint": .string(OpenAIShapes.systemFingerprint),
                 "choices": [["index": .int(index), "delta": delta, "logprobs": logprobs, "finish_reason": finish]]]
            }
            var completionTokens = 0
            var cached: Int?
            for index in 0..<chat.fields.n {
                var choice = prepared
                choice.request.sampling = routes.sampling(prepared.request.sampling, choice: index)
                try await body.write(Self.sse(chunk(index, delta: ["role": "assistant", "content": ""])), to: &writer)
                // Log-probabilities of the tokens since the last delta ride on the next delta.
                var pendingLogprobs: [JSONOut] = []
                var toolIndex = 0
                let stats = try await routes.drive(choice, admission: admission, pingInterval: routes.configuration.pingInterval,
                                                   writer: &writer) { event, writer in
                    let d: JSONOut
                    switch event {
                    case .ping:
                        try await body.write(ByteBuffer(string: ": ping\n\n"), to: &writer)
                        return
                    case .token(let token):
                        if chat.logprobs { pendingLogprobs.append(TokenLogprob(token, text: routes.backend.tokenText).chatJSON) }
                        return
                    case .content(let s): d = ["content": .string(s)]
                    case .reasoning(let s): d = ["reasoning_content": .string(s), "reasoning": .string(s)]
                    case .toolCall(let c):
                        d = ["tool_calls": [OpenAIShapes.toolCall(c, index: toolIndex)]]
                        toolIndex += 1
                    }
                    let lp: JSONOut = chat.logprobs ? ["content": .array(pendingLogprobs)] : .null
                    pendingLogprobs.removeAll()
                    try await body.write(Self.sse(chunk(index, delta: d, logprobs: lp)), to: &writer)
                }
                completionTokens += stats.generatedTokens
                if cached == nil { cached = stats.cachedPromptTokens }
                let reason = OpenAIShapes.finishReason(stats.finishReason, toolCalls: toolIndex > 0)
                try await body.write(Self.sse(chunk(index, delta: [:], finish: .string(reason))), to: &writer)
            }
            if chat.fields.includeUsage {
                let usage: JSONOut = ["id": .string(id), "object": "chat.completion.chunk", "created": .int(created),
                                      "model": .string(model.id), "system_fingerprint": .string(OpenAIShapes.systemFingerprint),
                                      "choices": [], "usage": OpenAIShapes.usage(prompt: prepared.promptTokens, completion: completionTokens,
                                                                                      cached: cached ?? 0)]
                try await body.write(Self.sse(usage), to: &writer)
            }
            try await body.write(ByteBuffer(string: "data: [DONE]\n\n"), to: &writer)
        }
    }
}
