import Foundation
import Hummingbird
import IQuestEngine

/// OpenAI Responses, stateless: `POST /v1/responses` (what Codex CLI speaks).
extension OpenAIRoutes {
    func responses(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        let body = try ResponsesRequest(try await readJSON(request), defaults: model.samplingDefaults)
        // Held until the response is written; any error below releases it as it goes away.
        let admission = try admit(context)
        let prepared = try prepare(body.turn, model: model)
        let shapes = ResponsesShapes(id: OpenAIShapes.newID("resp_"), model: reportedName(body.model, model),
                                     createdAt: Int(Date().timeIntervalSince1970), request: body)
        let routes = self
        let route = "/v1/responses"
        if body.stream {
            return eventStreamResponse(route: route, admission: admission, logger: context.logger, kind: .namedEvents,
                                       shape: .responsesEvent) { writer, started in
                var encoder = ResponsesStreamEncoder(shapes: shapes)
                try await started.write(ByteBuffer(string: encoder.start()), to: &writer)
                let stats: GenerationStats
                do {
                    stats = try await routes.drive(prepared, admission: admission, pingInterval: routes.configuration.pingInterval,
                                                   writer: &writer) { event, writer in
                        try await started.write(ByteBuffer(string: encoder.encode(event)), to: &writer)
                    }
                } catch let error where !(error is ClientGone) {
                    try await started.write(ByteBuffer(string: encoder.failed(StartedResponse.openAIError(error))), to: &writer)
                    throw EndWritten(underlying: error)
                }
                let reasoningTokens = routes.tokenCount(encoder.reasoning)
                try await started.write(ByteBuffer(string: encoder.finish(stats, reasoningTokens: reasoningTokens)), to: &writer)
            }
        }
        return jsonResponse(route: route, admission: admission, logger: context.logger) { writer, started in
            let result = try await routes.collectChat(prepared, admission: admission, body: started, writer: &writer)
            return shapes.response(result, reasoningTokens: routes.tokenCount(result.reasoning))
        }
    }

    /// Tokens of generated text (reasoning_tokens): the parser hands over text, not token counts.
    func tokenCount(_ text: String) -> Int {
        text.isEmpty ? 0 : ((try? backend.tokenize(text, addSpecialTokens: false).count) ?? 0)
    }
}
