import Foundation
import Hummingbird
import IQuestEngine
import Logging

/// Ollama's API (`/api/…`), as VS Code's Ollama provider, Zed and Continue call it. Answers are
/// NDJSON streams by default; errors are `{"error": "…"}`.
extension OpenAIRoutes {
    func ollamaVersion(_ request: Request, context: some RequestContext) async throws -> Response {
        jsonResponse(["version": .string(OllamaShapes.version)])
    }

    func ollamaTags(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        let names = [model.id] + configuration.modelAliases.filter { $0 != model.id }
        return jsonResponse(["models": .array(names.map { OllamaShapes.listEntry($0, model) })])
    }

    func ollamaPS(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        guard case .object(var entry) = OllamaShapes.listEntry(model.id, model) else { return jsonResponse(["models": []]) }
        entry += [("expires_at", "2099-01-01T00:00:00Z"), ("size_vram", 0), ("context_length", .int(model.contextLength))]
        return jsonResponse(["models": [.object(entry)]])
    }

    func ollamaShow(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        let body = try await readJSON(request)
        let name = try body.string("model") ?? body.string("name") ?? model.id
        return jsonResponse([
            "license": "", "modelfile": "", "parameters": "", "template": .string(model.chatTemplate ?? ""),
            "details": OllamaShapes.details(model),
            "model_info": ["general.architecture": .string(model.architecture), "general.basename": .string(name),
                           "\(model.architecture).context_length": .int(model.contextLength)],
            "capabilities": .array(OllamaShapes.capabilities(model).map { .string($0) }),
            "modified_at": .string(OllamaShapes.now()),
        ])
    }

    func ollamaChat(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        let body = try OllamaChatRequest(try await readJSON(request), defaults: model.samplingDefaults)
        let admission = try admit(context)
        let prepared = try prepare(body.turn, model: model)
        let name = reportedName(body.common.model, model)
        return ollamaAnswer(prepared, name: name, stream: body.common.stream, route: "/api/chat", admission: admission,
                            logger: context.logger) { event in
            switch event {
            case .content(let s): return ("message", OllamaShapes.message(content: s, thinking: "", calls: []))
            case .reasoning(let s): return ("message", OllamaShapes.message(content: "", thinking: s, calls: []))
            case .toolCall(let c): return ("message", OllamaShapes.message(content: "", thinking: "", calls: [c]))
            case .ping, .token: return nil
            }
        } whole: { result in
            ("message", OllamaShapes.message(content: result.content, thinking: result.reasoning, calls: result.toolCalls))
        }
    }

    func ollamaGenerate(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        let body = try OllamaGenerateRequest(try await readJSON(request), defaults: model.samplingDefaults)
        let name = reportedName(body.common.model, model)
        // An empty prompt loads the model (Ollama's way to warm it up); it is always loaded here.
        if body.prompt.isEmpty && body.suffix == nil {
            return jsonResponse(["model": .string(name), "created_at": .string(OllamaShapes.now()), "response": "", "done": true,
                                 "done_reason": "load"])
        }
        let admission = try admit(context)
        var prepared: PreparedChat
        if let suffix = body.suffix {
            guard let fim = model.fim else {
                throw OpenAIError.invalid("'suffix' needs a model with fill-in-the-middle tokens; this one has none", param: "suffix")
            }
            let c = body.common
            prepared = try prepareText(fim.prompt(prefix: body.prompt, suffix: suffix), sampling: c.sampling, maxTokens: c.maxTokens,
                                       stop: c.stop, model: model)
        } else if body.raw {
            let c = body.common
            prepared = try prepareText(body.prompt, sampling: c.sampling, maxTokens: c.maxTokens, stop: c.stop, model: model)
        } else {
            var turn = ChatTurn(messages: (body.system.map { [ChatTurn.message(role: "system", content: $0)] } ?? [])
                                    + [ChatTurn.message(role: "user", content: body.prompt)], sampling: body.common.sampling)
            body.common.apply(to: &turn)
            prepared = try prepare(turn, model: model)
        }
        if body.suffix != nil || body.raw {
            try constrain(&prepared.request, format: body.common.format, logitBias: [:], forcedTools: nil, startsInReasoning: false)
        }
        return ollamaAnswer(prepared, name: name, stream: body.common.stream, route: "/api/generate", admission: admission,
                            logger: context.logger) { event in
            switch event {
            case .content(let s): return ("response", .string(s))
            case .reasoning(let s): return ("thinking", .string(s))
            case .toolCall, .ping, .token: return nil
            }
        } whole: { result in
            ("response", .string(result.content))
        }
    }

    /// One answer as NDJSON lines (`{model, created_at, <key>: part, done: false}` … then the
    /// closing counters) or one object. `part` maps an event to its key and value (nil: nothing
    /// to send); `whole` does the same for the collected answer.
    private func ollamaAnswer(_ prepared: PreparedChat, name: String, stream: Bool, route: String, admission: Admission,
                              logger: Logger,
                              part: @escaping @Sendable (ChatEvent) -> (String, JSONOut)?,
                              whole: @escaping @Sendable (ChatResult) -> (String, JSONOut)) -> Response {
        let routes = self
        @Sendable func line(_ fields: [(String, JSONOut)], done: Bool) -> [(String, JSONOut)] {
            [("model", .string(name)), ("created_at", .string(OllamaShapes.now()))] + fields + [("done", .bool(done))]
        }
        if stream {
            return eventStreamResponse(route: route, admission: admission, logger: logger, kind: .ndjson, shape: .ollama) { writer, started in
                let stats = try await routes.drive(prepared, admission: admission, pingInterval: routes.configuration.pingInterval,
                                                   writer: &writer) { event, writer in
                    guard let field = part(event) else { return }
                    try await started.write(ByteBuffer(string: JSONOut.object(line([field], done: false)).text + "\n"), to: &writer)
                }
                let closing: (String, JSONOut) = route == "/api/chat" ? ("message", ["role": "assistant", "content": ""]) : ("response", "")
                let last = JSONOut.object(line([closing], done: true) + OllamaShapes.stats(stats))
                try await started.write(ByteBuffer(string: last.text + "\n"), to: &writer)
            }
        }
        return jsonResponse(route: route, admission: admission, logger: logger, shape: .ollama) { writer, started in
            let result = try await routes.collectChat(prepared, admission: admission, body: started, writer: &writer)
            return .object(line([whole(result)], done: true) + OllamaShapes.stats(result.stats))
        }
    }
}
