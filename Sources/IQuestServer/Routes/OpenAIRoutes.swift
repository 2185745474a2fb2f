import Foundation
import HTTPTypes
import Hummingbird
import IQuestEngine
import IQuestOutputParsing
import IQuestTemplates
import Logging

/// Shared state and steps of the OpenAI routes.
struct OpenAIRoutes: Sendable {
    let backend: any InferenceBackend
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    /// Admission of generation requests (decided before a response starts).
    let gate: AdmissionGate
    /// The connection guard's counters, when serving on a socket.
    let connections: ConnectionLimits?

    /// The served model, or 503 while it loads.
    func readyModel() throws -> ServedModel {
        switch backend.state {
        case .ready(let model): return model
        case .loading(let progress): throw OpenAIError.unavailable("the model is still loading (\(progress))")
        case .failed(let message): throw OpenAIError.unavailable("the model failed to load: \(message)")
        }
    }

    /// The body as a JSON object: size-capped, UTF-8-checked, parsed keeping key order.
    func readJSON(_ request: Request) async throws -> JSONObject {
        var request = request
        let buffer = try await request.collectBody(upTo: configuration.maxBodyBytes)
        let bytes = Array(buffer.readableBytesView)
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw OpenAIError.invalid("the request body is not valid UTF-8")
        }
        let value: TemplateValue
        do {
            value = try TemplateValue(json: Data(bytes))
        } catch {
            throw OpenAIError.invalid("the request body is not valid JSON: \(error)")
        }
        return try JSONObject(value, path: "")
    }

    /// A place for one generation request, or the 503/429 that refuses it (counted by reason).
    func admit(_ context: some RequestContext) throws -> Admission {
        do {
            return try gate.admit(client: (context as? ServerRequestContext)?.clientKey ?? "unknown")
        } catch {
            let reason = error.status == .tooManyRequests ? "client_limit" : gate.isDraining ? "shutting_down" : "busy"
            metrics.recordRejected(reason: reason)
            throw error
        }
    }

    /// Any model name is served: one model per server, and clients ask for names of their own
    /// (Claude Code asks for claude-* names for its background tasks). The Anthropic, Responses
    /// and Ollama answers report the name asked for, so a client that checks it finds what it
    /// expected; OpenAI chat/completions report the served name, as vLLM does.
    func reportedName(_ requested: String?, _ model: ServedModel) -> String {
        guard let requested, !requested.isEmpty else { return model.id }
        return requested
    }

    /// Completion tokens allowed after a prompt of `promptCount` tokens: the request's
    /// max_tokens capped by what the context has left.
    func completionBudget(promptCount: Int, requested: Int?, model: ServedModel) throws -> Int {
        guard promptCount > 0 else { throw OpenAIError.invalid("the prompt is empty", param: "prompt") }
        guard promptCount < model.contextLength else {
            throw OpenAIError.invalid("the prompt has \(promptCount) tokens, but this model's context holds \(model.contextLength) "
                                      + "(prompt plus completion); shorten the prompt", param: "messages", code: "context_length_exceeded")
        }
        let room = model.contextLength - promptCount
        return min(requested ?? room, room)
    }

    /// Runs one generation to the end, recording latency metrics. While it runs, a space is
    /// written to `writer` every heartbeat interval (JSON allows leading whitespace): that keeps
    /// proxies from timing out and makes a gone client fail the write, which cancels the
    /// generation as it does for streams.
    func collect(_ request: GenerationRequest, admission: Admission, body: StartedResponse,
                 heartbeat writer: inout any ResponseBodyWriter) async throws -> (tokens: [GeneratedToken], stats: GenerationStats) {
        var tokens: [GeneratedToken] = []
        var timing = LatencyTracker(metrics: metrics)
        do {
            for try await event in pumpEvents(backend.generate(request), pingInterval: configuration.heartbeatInterval,
                                              admission: admission) {
                switch event {
                case .ping: try await body.write(ByteBuffer(string: " "), to: &writer)
                case .generation(.started): break
                case .generation(.token(let t)):
                    timing.token()
                    tokens.append(t)
                case .generation(.finished(let stats)):
                    timing.finished(stats)
                    return (tokens, stats)
                }
            }
        } catch {
            timing.aborted()
            throw error
        }
        timing.aborted()
        throw OpenAIError.server("the generation ended without a result")
    }

    /// A 200 JSON response whose body is produced by `produce` while heartbeats go out (see
    /// `collect`); a failure after that is written as the OpenAI error object instead (the
    /// whitespace before it keeps the body valid JSON). Everything that can be refused with a
    /// 4xx or 503 must be checked, and `admission` taken, before this is called.
    func jsonResponse(route: String, admission: Admission, logger: Logger, shape: ErrorShape = .openAI,
                      producing produce: @escaping @Sendable (inout any ResponseBodyWriter, StartedResponse) async throws -> JSONOut) -> Response {
        let body = StartedResponse(kind: .json, route: route, metrics: metrics, logger: logger, shape: shape)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
            defer { admission.release() }
            do {
                let value = try await produce(&writer, body)
                try await body.write(ByteBuffer(string: value.text), to: &writer)
                try await body.finish(&writer)
            } catch {
                try await body.end(after: error, writer: &writer)
            }
        })
    }

    /// A 200 server-sent-events response written by `produce`; a failure after the status line
    /// ends the stream with an error event and `[DONE]` (see `StartedResponse`).
    func eventStreamResponse(route: String, admission: Admission, logger: Logger, kind: StartedResponse.Kind = .events,
                             shape: ErrorShape = .openAI,
                             producing produce: @escaping @Sendable (inout any ResponseBodyWriter, StartedResponse) async throws -> Void) -> Response {
        let body = StartedResponse(kind: kind, route: route, metrics: metrics, logger: logger, shape: shape)
        var headers = Self.sseHeaders()
        if kind == .ndjson { headers[.contentType] = "application/x-ndjson" }
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { admission.release() }
            do {
                try await produce(&writer, body)
                try await body.finish(&writer)
            } catch {
                try await body.end(after: error, writer: &writer)
            }
        })
    }

    /// Sampling for choice `index` of `n`: with a seed, each choice gets its own reproducible one.
    func sampling(_ base: SamplingParameters, choice index: Int) -> SamplingParameters {
        var s = base
        if let seed = s.seed { s.seed = seed &+ UInt64(index) }
        return s
    }

    func jsonResponse(_ value: JSONOut, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: value.text)))
    }

    static func sseHeaders() -> HTTPFields {
        [.contentType: "text/event-stream", .cacheControl: "no-cache", .connection: "keep-alive"]
    }

    static func sse(_ value: JSONOut) -> ByteBuffer { ByteBuffer(string: "data: \(value.text)\n\n") }
}

/// Time to first token and inter-token latency of one generation, into the metrics.
struct LatencyTracker {
    let metrics: ServerMetrics
    let start = Date()
    var last: Date?

    init(metrics: ServerMetrics) { self.metrics = metrics }

    mutating func token() {
        let now = Date()
        if let last {
            metrics.recordInterTokenLatency(seconds: now.timeIntervalSince(last))
        } else {
            metrics.recordTimeToFirstToken(seconds: now.timeIntervalSince(start))
        }
        last = now
    }

    /// The stream ended without a result (the client went away, or the generation failed).
    func aborted() { metrics.recordFinished(.cancelled) }

    func finished(_ stats: GenerationStats) {
        metrics.recordTokens(prompt: stats.promptTokens, generated: stats.generatedTokens)
        metrics.recordFinished(stats.finishReason)
        metrics.recordRequestLatency(seconds: Date().timeIntervalSince(start))
    }
}
