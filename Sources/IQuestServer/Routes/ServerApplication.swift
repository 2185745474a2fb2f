import Foundation
import Hummingbird
import IQuestOutputParsing
import Logging
import ServiceLifecycle
import UnixSignals

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
    /// More names `/v1/models` lists for the one model (`--served-model-name a b c`: b and c).
    /// Any name is served; these are for clients that pick from the list.
    public var modelAliases: [String] = []
    public var reasoningParser: ReasoningParser = .auto
    public var toolCallParser: ToolCallParser = .auto
    /// Larger request bodies get 413.
    public var maxBodyBytes = 8 << 20
    /// SSE comment interval while a stream has nothing else to send.
    public var pingInterval: Duration = .seconds(5)
    /// Whitespace interval while a non-streaming response is being generated.
    public var heartbeatInterval: Duration = .seconds(1)
    /// Generation requests (chat, completions) admitted at once, running and waiting together;
    /// past it the answer is 503 with Retry-After before any response starts. nil: no bound
    /// (`iquest serve` sets the engine's slots plus its queue).
    public var maxConcurrentRequests: Int?
    /// Generation requests one client (IP address) may have admitted at once; past it that
    /// client gets 429 with Retry-After while others are still served. nil: no per-client bound.
    public var maxRequestsPerClient: Int?
    /// Open connections; past it a connection's request gets 503 and the connection closes.
    public var maxConnections = 1024
    /// A request head must arrive within this long (slow-header clients; idle keep-alive too).
    public var headerTimeout: Duration = .seconds(30)
    /// A request body must arrive within this long of its head (slow-body clients).
    public var bodyTimeout: Duration = .seconds(60)
    /// On SIGTERM/SIGINT, how long admitted requests may run on before they are ended with an
    /// error event.
    public var shutdownGracePeriod: Duration = .seconds(30)

    public init() {}
}

/// Routes, each also without the `/v1` prefix as llama.cpp accepts. `gate` decides admission of
/// generation requests (default: one of `configuration.maxConcurrentRequests` places);
/// `connections`, when the routes run behind a real socket, feeds `/metrics`.
public func makeServerRouter(backend: any InferenceBackend, configuration: ServerConfiguration,
                             metrics: ServerMetrics, gate: AdmissionGate? = nil,
                             connections: ConnectionLimits? = nil) -> Router<ServerRequestContext> {
    let router = Router(context: ServerRequestContext.self)
    router.add(middleware: ErrorAndMetricsMiddleware(metrics: metrics))
    if let key = configuration.apiKey {
        router.add(middleware: APIKeyMiddleware(key: Array(key.utf8)))
    }
    let routes = OpenAIRoutes(backend: backend, configuration: configuration, metrics: metrics,
                              gate: gate ?? AdmissionGate(capacity: configuration.maxConcurrentRequests,
                                                          perClient: configuration.maxRequestsPerClient),
                              connections: connections)
    for prefix in ["/v1", ""] {
        router.post("\(prefix)/chat/completions") { try await routes.chatCompletions($0, context: $1) }
        router.post("\(prefix)/completions") { try await routes.completions($0, context: $1) }
        router.post("\(prefix)/responses") { try await routes.responses($0, context: $1) }
        router.get("\(prefix)/models") { try await routes.models($0, context: $1) }
        router.post("\(prefix)/tokenize") { try await routes.tokenize($0, context: $1) }
        router.post("\(prefix)/detokenize") { try await routes.detokenize($0, context: $1) }
    }
    // Anthropic Messages (Claude Code); the query (`?beta=true`) does not change the route.
    router.post("/v1/messages") { try await routes.anthropicMessages($0, context: $1) }
    router.post("/v1/messages/count_tokens") { try await routes.anthropicCountTokens($0, context: $1) }
    router.get("/") { try await routes.root($0, context: $1) }
    router.head("/") { try await routes.root($0, context: $1) }
    // Ollama's API (VS Code's Ollama provider, Zed, Continue).
    router.get("/api/version") { try await routes.ollamaVersion($0, context: $1) }
    router.get("/api/tags") { try await routes.ollamaTags($0, context: $1) }
    router.get("/api/ps") { try await routes.ollamaPS($0, context: $1) }
    router.post("/api/show") { try await routes.ollamaShow($0, context: $1) }
    router.post("/api/chat") { try await routes.ollamaChat($0, context: $1) }
    router.post("/api/generate") { try await routes.ollamaGenerate($0, context: $1) }
    // llama-server's fill-in-the-middle (llama.vscode, llama.vim).
    router.post("/infill") { try await routes.infill($0, context: $1) }
    router.get("/health") { try await routes.health($0, context: $1) }
    router.get("/v1/health") { try await routes.health($0, context: $1) }
    router.get("/metrics") { try await routes.metricsText($0, context: $1) }
    return router
}

/// The whole server as a Hummingbird application: the routes behind a `ConnectionGuard` on every
/// connection (connection cap, header/body timeouts, closing after early answers).
public func makeServerApplication(backend: any InferenceBackend, configuration: ServerConfiguration,
                                  metrics: ServerMetrics = ServerMetrics(), gate: AdmissionGate? = nil, logger: Logger? = nil,
                                  onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let log = logger ?? Logger(label: "iquest.server")
    let limits = ConnectionLimits(maxConnections: configuration.maxConnections, headerTimeout: configuration.headerTimeout,
                                  bodyTimeout: configuration.bodyTimeout, metrics: metrics, logger: log)
    let router = makeServerRouter(backend: backend, configuration: configuration, metrics: metrics, gate: gate, connections: limits)
    return Application(router: router,
                       server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionGuard(limits: limits)])),
                       configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "iquest"),
                       onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
                       logger: log)
}

/// The application and its `DrainService` in one service group that stops gracefully on
/// SIGTERM/SIGINT (unless `stopOnSignals` is false): admission closes first, admitted requests finish (or end with an error event after
/// the grace period), then the HTTP server stops. `run()` it; `triggerGracefulShutdown()` does
/// what a signal does.
public func makeServerServiceGroup(backend: any InferenceBackend, configuration: ServerConfiguration,
                                   metrics: ServerMetrics = ServerMetrics(), logger: Logger? = nil,
                                   stopOnSignals: Bool = true,
                                   onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> ServiceGroup {
    let log = logger ?? Logger(label: "iquest.server")
    let gate = AdmissionGate(capacity: configuration.maxConcurrentRequests, perClient: configuration.maxRequestsPerClient)
    let app = makeServerApplication(backend: backend, configuration: configuration, metrics: metrics, gate: gate, logger: log,
                                    onServerRunning: onServerRunning)
    let drain = DrainService(gate: gate, gracePeriod: configuration.shutdownGracePeriod, logger: log)
    // Services stop in reverse order: the drain service before the HTTP server.
    return ServiceGroup(configuration: .init(services: [app, drain], gracefulShutdownSignals: stopOnSignals ? [UnixSignal.sigterm, .sigint] : [],
                                             logger: log))
}
