import Foundation
import Hummingbird
import IQuestEngine

/// `POST /infill`: fill-in-the-middle in llama-server's shape (its `/completion` answer:
/// `content`, `stop`, `tokens_predicted`, `timings`; streamed as `data:` events without `[DONE]`).
extension OpenAIRoutes {
    func infill(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        guard let fim = model.fim else {
            throw OpenAIError(status: .notImplemented,
                              message: "this model has no fill-in-the-middle tokens (<|fim_prefix|>, <|fim_suffix|>, <|fim_middle|>), so /infill cannot serve it",
                              type: "not_supported_error", param: nil, code: nil)
        }
        let body = try InfillRequest(try await readJSON(request), defaults: model.samplingDefaults)
        let admission = try admit(context)
        let prepared = try prepareText(body.text(fim), sampling: body.sampling, maxTokens: body.maxTokens, stop: body.stop, model: model)
        let routes = self
        let name = model.id
        @Sendable func closing(_ content: String, _ stats: GenerationStats) -> JSONOut {
            let stopType: String
            switch stats.finishReason {
            case .length: stopType = "limit"
            case .stop: stopType = stats.stopString == nil ? "eos" : "word"
            case .cancelled: stopType = "none"
            }
            return ["content": .string(content), "stop": true, "model": .string(name), "tokens_predicted": .int(stats.generatedTokens),
                    "tokens_evaluated": .int(stats.promptTokens), "tokens_cached": .int(stats.cachedPromptTokens),
                    "stop_type": .string(stopType), "stopping_word": .string(stats.stopString ?? ""), "truncated": false,
                    "timings": ["prompt_n": .int(stats.promptTokens), "prompt_ms": .double(stats.prefillSeconds * 1000),
                                "prompt_per_second": .double(stats.prefillTokensPerSecond),
                                "predicted_n": .int(stats.generatedTokens), "predicted_ms": .double(stats.decodeSeconds * 1000),
                                "predicted_per_second": .double(stats.decodeTokensPerSecond)]]
        }
        if body.stream {
            return eventStreamResponse(route: "/infill", admission: admission, logger: context.logger) { writer, started in
                let stats = try await routes.drive(prepared, admission: admission, pingInterval: routes.configuration.pingInterval,
                                                   writer: &writer) { event, writer in
                    switch event {
                    case .content(let s):
                        try await started.write(Self.sse(["content": .string(s), "stop": false]), to: &writer)
                    case .ping:
                        try await started.write(ByteBuffer(string: ": ping\n\n"), to: &writer)
                    case .reasoning, .toolCall, .token:
                        break
                    }
                }
                try await started.write(Self.sse(closing("", stats)), to: &writer)
            }
        }
        return jsonResponse(route: "/infill", admission: admission, logger: context.logger) { writer, started in
            let result = try await routes.collectChat(prepared, admission: admission, body: started, writer: &writer)
            return closing(result.content, result.stats)
        }
    }
}
