import ArgumentParser
import Foundation
import IQuestEngine
import IQuestKernels
import IQuestOutputParsing
import IQuestServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a model over an OpenAI-compatible HTTP API (chat, completions, models, tokenize, metrics).",
        discussion: """
        Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics, \
        POST /tokenize, POST /detokenize (each also without /v1). The server listens at once; /health \
        answers 503 until the model is loaded. SIGINT/SIGTERM stop it gracefully.
        """)

    @Option(name: .shortAndLong, help: "GGUF file or HF checkpoint directory.")
    var model: String
    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one; the chosen port is printed).")
    var port: Int = 8080
    @Option(help: "Require 'Authorization: Bearer KEY' on every route but /health and /v1/models.")
    var apiKey: String?
    @Option(help: "Read the API key from this file (first line).")
    var apiKeyFile: String?
    @Option(parsing: .upToNextOption,
            help: "Names of the model (the first is reported; all are listed). Any requested name is served (default: the file or directory name).")
    var servedModelName: [String] = []
    @Option(help: "Context length cap in tokens (default: the model's).")
    var maxModelLen: Int?
    @Option(help: "auto (from the chat template), qwen3 (<think> tags) or none.")
    var reasoningParser: String = "auto"
    @Option(help: "auto (from the chat template), hermes, qwen3_coder or none.")
    var toolCallParser: String = "auto"
    @Option(help: "Largest request body in bytes.")
    var maxBodyBytes: Int = 8 << 20
    @Option(name: .shortAndLong, help: "Threads for the kernels (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: activationsHelp)
    var activations: ActivationPrecision = .standard
    @OptionGroup var kvCache: KVCacheOptions
    @OptionGroup var kernelOptions: KernelOptions
    @OptionGroup var speculation: SpeculativeCLIOptions
    @Option(help: "Memory for the shared KV cache, e.g. 2GiB or 512MiB (default: one full context or 1 GiB, whichever is larger, at most half of the available memory; the context is shortened to fit unless --max-model-len is given, then a context that does not fit is refused).")
    var kvCacheMemory: String?
    @Option(help: "KV cache size in tokens instead of bytes (rounded up to whole blocks of 16).")
    var kvCacheTokens: Int?
    @Option(help: "Most requests decoding or prefilling in one step.")
    var maxNumSeqs: Int = 16
    @Option(help: "Most tokens in one step (every running request's next token plus prompt chunks).")
    var maxNumBatchedTokens: Int = 512
    @Option(help: "Requests that may wait for a slot; past this the server answers 503 with Retry-After.")
    var maxQueue: Int = 128
    @Option(help: "Chat/completion requests one client (IP address) may have running or waiting; past this it gets 429 with Retry-After (default: no per-client bound).")
    var maxRequestsPerClient: Int?
    @Option(help: "Open connections; past this a connection's request is answered 503 and the connection closed.")
    var maxConnections: Int = 1024
    @Option(help: "Seconds a request head (and an idle keep-alive connection) may take.")
    var headerTimeout: Double = 30
    @Option(help: "Seconds a request body may take after its head.")
    var bodyTimeout: Double = 60
    @Option(help: "Seconds running requests get to finish on SIGTERM/SIGINT before they end with an error event.")
    var shutdownGracePeriod: Double = 30

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        if let maxModelLen, maxModelLen < 2 { throw ValidationError("--max-model-len must be at least 2") }
        if apiKey != nil && apiKeyFile != nil { throw ValidationError("give --api-key or --api-key-file, not both") }
        guard ServerConfiguration.ReasoningParser(rawValue: reasoningParser) != nil else {
            throw ValidationError("--reasoning-parser must be auto, qwen3 or none")
        }
        guard toolParser != nil else { throw ValidationError("--tool-call-parser must be auto, hermes, qwen3_coder or none") }
        if let kvCacheMemory, ByteSize.parse(kvCacheMemory) == nil {
            throw ValidationError("--kv-cache-memory '\(kvCacheMemory)' is not a size (e.g. 2GiB, 512MiB, 1000000)")
        }
        if kvCacheMemory != nil && kvCacheTokens != nil { throw ValidationError("give --kv-cache-memory or --kv-cache-tokens, not both") }
        if let kvCacheTokens, kvCacheTokens < 1 { throw ValidationError("--kv-cache-tokens must be at least 1") }
        guard maxNumSeqs >= 1 else { throw ValidationError("--max-num-seqs must be at least 1") }
        guard maxNumBatchedTokens >= 1 else { throw ValidationError("--max-num-batched-tokens must be at least 1") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must not be negative") }
        if let maxRequestsPerClient, maxRequestsPerClient < 1 { throw ValidationError("--max-requests-per-client must be at least 1") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        for (name, value) in [("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout)] where !(value > 0 && value <= 86_400) {
            throw ValidationError("\(name) must be a number of seconds in (0, 86400]")
        }
        guard shutdownGracePeriod >= 0 && shutdownGracePeriod <= 86_400 else {
            throw ValidationError("--shutdown-grace-period must be a number of seconds in [0, 86400]")
        }
    }

    private var toolParser: ServerConfiguration.ToolCallParser? {
        switch toolCallParser {
        case "auto": return .auto
        case "none": return ServerConfiguration.ToolCallParser.none
        default: return ToolCallSyntax(rawValue: toolCallParser).map { .syntax($0) }
        }
    }

    func run() async throws {
        var config = ServerConfiguration()
        config.host = host
        config.port = port
        config.maxBodyBytes = maxBodyBytes
        config.modelAliases = Array(servedModelName.dropFirst())
        config.reasoningParser = ServerConfiguration.ReasoningParser(rawValue: reasoningParser) ?? .auto
        config.toolCallParser = toolParser ?? .auto
        config.apiKey = try failingCleanly { try resolvedAPIKey() }
        config.maxConnections = maxConnections
        config.maxRequestsPerClient = maxRequestsPerClient
        config.headerTimeout = .milliseconds(Int64(headerTimeout * 1000))
        config.bodyTimeout = .milliseconds(Int64(bodyTimeout * 1000))
        config.shutdownGracePeriod = .milliseconds(Int64(shutdownGracePeriod * 1000))
        guard FileManager.default.fileExists(atPath: model) else {
            printError("error: \(model): no such file or directory")
            throw ExitCode.failure
        }
        printError(KernelSet.summary + "; prompt products: " + (activations == .exact ? "float (exact)" : PromptProducts.current.rawValue))
        var engine = EngineOptions()
        engine.kvCacheBytes = kvCacheMemory.flatMap(ByteSize.parse)
        engine.kvCacheTokens = kvCacheTokens
        engine.kvCacheTypes = kvCache.types
        engine.maxRunning = maxNumSeqs
        engine.maxBatchTokens = maxNumBatchedTokens
        engine.maxWaiting = maxQueue
        engine.speculative = speculation.options
        engine.draftModelPath = speculation.modelDraft
        config.maxConcurrentRequests = engine.admissionCapacity
        let backend = EngineBackend(path: model, threads: threads, servedName: servedModelName.first, maxModelLen: maxModelLen,
                                    activations: activations, options: engine, log: { printError($0) },
                                    onLoadFailure: { _ in
                                        // The reason was logged; nothing has been served yet, so a plain exit loses nothing.
                                        printError("iquest serve: the model could not be loaded (see above); exiting")
                                        Foundation.exit(1)
                                    })
        let host = self.host
        let server = makeServerServiceGroup(backend: backend, configuration: config) { port in
            printError("listening on http://\(host):\(port)")
        }
        do {
            try await server.run()
        } catch {
            backend.shutdown()
            printError("error: \(error)")
            throw ExitCode.failure
        }
        backend.shutdown()
        printError("server stopped")
    }

    private func resolvedAPIKey() throws -> String? {
        if let apiKey {
            guard !apiKey.isEmpty else { throw ValidationError("--api-key must not be empty") }
            return apiKey
        }
        guard let apiKeyFile else { return nil }
        let text: String
        do { text = try String(contentsOfFile: apiKeyFile, encoding: .utf8) } catch {
            throw ValidationError("cannot read --api-key-file \(apiKeyFile): \(error.localizedDescription)")
        }
        let key = text.split(whereSeparator: \.isNewline).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
        guard !key.isEmpty else { throw ValidationError("--api-key-file \(apiKeyFile) holds no key") }
        return key
    }
}
