import Foundation
import Hummingbird
import IQuestOutputParsing
import Logging

/// Settings of `iquest serve` that the HTTP layer uses.
public struct ServerConfiguration: Sendable {
    public enum ReasoningParser: String, Sendable, CaseIterable { case auto, qwen3, none }
    public enum ToolCallParser: Sendable, Equatable {
        case auto
        case syntax(ToolCallSyntax)
        case none
    }

    public var host = "127.0.0.1"
    public var port = 8080
    /// Required as `Authorization: Bearer KEY` on every route but `/health` and `/v1/models`.
    public var apiKey: String?
    public var reasoningParser: ReasoningParser = .auto
    public var toolCallParser: ToolCallParser = .auto
    /// Larger request bodies get 413.
    public var maxBodyBytes = 8 << 20
    /// SSE comment interval while a stream has nothing else to send.
    public var pingInterval: Duration = .seconds(5)
    /// Whitespace interval while a non-streaming response is being generated.
    public var heartbeatInterval: Duration = .seconds(1)

    public init() {}
}

/// Routes, each also without the `/v1` prefix as llama.cpp accepts.
public func makeServerRouter(backend: any InferenceBackend, configuration: ServerConfiguration,
                             metrics: ServerMetrics) -> Router<BasicRequestContext> {
    let router = Router()
    router.add(middleware: ErrorAndMetricsMiddleware(metrics: metrics))
    if let key = configuration.apiKey {
        router.add(middleware: APIKeyMiddleware(key: Array(key.utf8)))
    }
    let routes = OpenAIRoutes(backend: backend, configuration: configuration, metrics: metrics)
    for prefix in ["/v1", ""] {
        router.post("\(prefix)/chat/completions") { try await routes.chatCompletions($0, context: $1) }
        router.post("\(prefix)/completions") { try await routes.completions($0, context: $1) }
        router.get("\(prefix)/models") { try await routes.models($0, context: $1) }
        router.post("\(prefix)/tokenize") { try await routes.tokenize($0, context: $1) }
        router.post("\(prefix)/detokenize") { try await routes.detokenize($0, context: $1) }
    }
    router.get("/health") { try await routes.health($0, context: $1) }
    router.get("/v1/health") { try await routes.health($0, context: $1) }
    router.get("/metrics") { try await routes.metricsText($0, context: $1) }
    return router
}

/// The whole server as a Hummingbird application (run it with `runService()`, which stops
/// gracefully on SIGINT/SIGTERM).
public func makeServerApplication(backend: any InferenceBackend, configuration: ServerConfiguration,
                                  metrics: ServerMetrics = ServerMetrics(), logger: Logger? = nil,
                                  onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    Application(router: makeServerRouter(backend: backend, configuration: configuration, metrics: metrics),
                configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "iquest"),
                onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
                logger: logger)
}
