import Foundation
import Hummingbird
import IQuestEngine

/// Anthropic Messages: `POST /v1/messages` (also `?beta=true`), `POST /v1/messages/count_tokens`.
/// `anthropic-version` and `anthropic-beta` headers are accepted and not needed.
extension OpenAIRoutes {
    func anthropicMessages(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        let body = try AnthropicRequest(try await readJSON(request), defaults: model.samplingDefaults)
        // Held until the response is written; any error below releases it as it goes away.
        let admission = try admit(context)
        let prepared = try prepare(body.turn, model: model)
        let id = OpenAIShapes.newID("msg_")
        let name = reportedName(body.model, model)
        let routes = self
        let route = "/v1/messages"
        if body.stream {
            return eventStreamResponse(route: route, admission: admission, logger: context.logger, kind: .namedEvents,
                                       shape: .anthropic) { writer, started in
                var encoder = AnthropicStreamEncoder()
                try await started.write(ByteBuffer(string: encoder.start(id: id, model: name, promptTokens: prepared.promptTokens)),
                                        to: &writer)
                let stats = try await routes.drive(prepared, admission: admission, pingInterval: routes.configuration.pingInterval,
                                                   writer: &writer) { event, writer in
                    try await started.write(ByteBuffer(string: encoder.encode(event)), to: &writer)
                }
                try await started.write(ByteBuffer(string: encoder.finish(stats)), to: &writer)
            }
        }
        return jsonResponse(route: route, admission: admission, logger: context.logger, shape: .anthropic) { writer, started in
            let result = try await routes.collectChat(prepared, admission: admission, body: started, writer: &writer)
            return AnthropicShapes.message(id: id, model: name, result: result, promptTokens: prepared.promptTokens)
        }
    }

    /// `{"input_tokens": N}`: the rendered prompt's tokens, tools included.
    func anthropicCountTokens(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        let body = try AnthropicRequest(try await readJSON(request), defaults: model.samplingDefaults, countOnly: true)
        let ids = try render(body.turn).ids
        return jsonResponse(["input_tokens": .int(ids.count)])
    }

    /// `GET /` and `HEAD /`: Claude Code checks that its base URL answers.
    func root(_ request: Request, context: some RequestContext) async throws -> Response {
        jsonResponse(["status": "ok", "name": "iquest"])
    }
}
