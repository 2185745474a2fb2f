import CoreMetrics
import Foundation
import IQuestEngine
import IQuestKernels
import Metrics
import Prometheus

/// The server's Prometheus metrics, recorded through swift-metrics into a registry of its own
/// (not the process-wide bootstrap, so several servers in one test process stay apart).
/// Names follow vLLM's (`vllm:prompt_tokens_total` → `iquest:prompt_tokens_total`).
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let promptTokens: CoreMetrics.Counter
    private let generationTokens: CoreMetrics.Counter
    private let timeToFirstToken: Metrics.Timer
    private let interTokenLatency: Metrics.Timer
    private let endToEnd: Metrics.Timer
    private let running: CoreMetrics.Gauge
    private let waiting: CoreMetrics.Gauge
    private let engineGauges: [(label: String, value: @Sendable (SchedulerSnapshot) -> Double, gauge: CoreMetrics.Gauge)]
    private let resident: CoreMetrics.Gauge
    private let openConnectionsGauge: CoreMetrics.Gauge
    private let admittedGauge: CoreMetrics.Gauge
    private let capacityGauge: CoreMetrics.Gauge

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let latency: [Duration] = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80]
            .map { .milliseconds(Int64($0 * 1000)) }
        factory.defaultDurationHistogramBuckets = latency
        self.factory = factory
        promptTokens = CoreMetrics.Counter(label: "iquest:prompt_tokens_total", factory: factory)
        generationTokens = CoreMetrics.Counter(label: "iquest:generation_tokens_total", factory: factory)
        timeToFirstToken = Metrics.Timer(label: "iquest:time_to_first_token_seconds", factory: factory)
        interTokenLatency = Metrics.Timer(label: "iquest:inter_token_latency_seconds", factory: factory)
        endToEnd = Metrics.Timer(label: "iquest:e2e_request_latency_seconds", factory: factory)
        running = CoreMetrics.Gauge(label: "iquest:num_requests_running", factory: factory)
        waiting = CoreMetrics.Gauge(label: "iquest:num_requests_waiting", factory: factory)
        // The batching engine's state, refreshed on scrape. Counters that only grow are exported as
        // gauges of the running total (`_total`), which Prometheus' rate() reads the same way.
        let engine: [(String, @Sendable (SchedulerSnapshot) -> Double)] = [
            ("iquest:kv_blocks_used", { Double($0.blocksUsed) }),
            ("iquest:kv_blocks_cached", { Double($0.blocksCached) }),
            ("iquest:kv_blocks_total", { Double($0.blocksTotal) }),
            ("iquest:kv_block_size_tokens", { Double($0.blockSize) }),
            ("iquest:kv_cache_usage_perc", { $0.blocksTotal == 0 ? 0 : Double($0.blocksUsed) / Double($0.blocksTotal) }),
            ("iquest:prefix_cache_hit_rate", { $0.prefixHitRate }),
            ("iquest:prefix_cache_queries_total", { Double($0.promptTokens) }),
            ("iquest:prefix_cache_hits_total", { Double($0.cachedPromptTokens) }),
            ("iquest:num_preemptions_total", { Double($0.preemptions) }),
            ("iquest:engine_steps_total", { Double($0.steps) }),
            ("iquest:batch_sequences_total", { Double($0.stepSequencesTotal) }),
            ("iquest:batch_tokens_total", { Double($0.stepTokensTotal) }),
            ("iquest:batch_size_last_step", { Double($0.lastStepSequences) }),
            ("iquest:batch_tokens_last_step", { Double($0.lastStepTokens) }),
            // Speculative decoding (vLLM: spec_decode_num_draft_tokens / num_accepted_tokens).
            ("iquest:spec_decode_num_draft_tokens_total", { Double($0.draftedTokens) }),
            ("iquest:spec_decode_num_accepted_tokens_total", { Double($0.acceptedTokens) }),
            ("iquest:spec_decode_acceptance_rate", { $0.acceptanceRate }),
            ("iquest:spec_decode_tokens_per_forward", { $0.tokensPerForward }),
        ]
        engineGauges = engine.map { ($0.0, $0.1, CoreMetrics.Gauge(label: $0.0, factory: factory)) }
        resident = CoreMetrics.Gauge(label: "process_resident_memory_bytes", factory: factory)
        openConnectionsGauge = CoreMetrics.Gauge(label: "iquest:open_connections", factory: factory)
        admittedGauge = CoreMetrics.Gauge(label: "iquest:requests_admitted", factory: factory)
        capacityGauge = CoreMetrics.Gauge(label: "iquest:requests_admitted_capacity", factory: factory)
        // Which kernel set the process runs (an info-style gauge: 1 for the set in use).
        CoreMetrics.Gauge(label: "iquest:kernel_set_info", dimensions: [("set", KernelSet.current.description)], factory: factory)
            .record(1)
    }

    /// Engine and process gauges, refreshed when `/metrics` is scraped.
    public func updateEngine(_ stats: SchedulerSnapshot?) {
        if let stats {
            for entry in engineGauges { entry.gauge.record(entry.value(stats)) }
        }
        if let rss = ProcessMemory.resident() { resident.record(rss) }
    }

    /// One HTTP response, by route and status (`iquest:http_requests_total`).
    public func recordResponse(route: String, method: String, status: Int) {
        CoreMetrics.Counter(label: "iquest:http_requests_total",
                dimensions: [("handler", route), ("method", method), ("status", String(status))], factory: factory)
            .increment()
    }

    /// A finished generation (`iquest:request_success_total{finished_reason}`), with vLLM's
    /// reason labels: stop, length, abort (the client went away).
    public func recordFinished(_ finish: FinishReason) {
        let reason: String
        switch finish {
        case .stop: reason = "stop"
        case .length: reason = "length"
        case .cancelled: reason = "abort"
        }
        CoreMetrics.Counter(label: "iquest:request_success_total", dimensions: [("finished_reason", reason)], factory: factory)
            .increment()
    }

    public func recordTokens(prompt: Int, generated: Int) {
        promptTokens.increment(by: prompt)
        generationTokens.increment(by: generated)
    }

    public func recordTimeToFirstToken(seconds: Double) { timeToFirstToken.recordNanoseconds(Int64(seconds * 1e9)) }
    public func recordInterTokenLatency(seconds: Double) { interTokenLatency.recordNanoseconds(Int64(seconds * 1e9)) }
    public func recordRequestLatency(seconds: Double) { endToEnd.recordNanoseconds(Int64(seconds * 1e9)) }

    /// A request refused before its status line (`iquest:requests_rejected_total{reason}`):
    /// `busy` (every place taken), `shutting_down`, `connections` (the open-connection cap).
    public func recordRejected(reason: String) {
        CoreMetrics.Counter(label: "iquest:requests_rejected_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// A response that had started (200 sent) and ended with an error event or JSON error object
    /// instead of a result (`iquest:responses_failed_after_start_total{handler,type}`).
    public func recordFailedAfterStart(route: String, type: String) {
        CoreMetrics.Counter(label: "iquest:responses_failed_after_start_total", dimensions: [("handler", route), ("type", type)],
                            factory: factory).increment()
    }

    /// Something the client caused (`iquest:client_conditions_total{kind}`): disconnects
    /// (`disconnect_during_body`, `disconnect_during_response`), `malformed_http`,
    /// `invalid_request`, `unauthorized`, `header_timeout`, `body_timeout`, `closed_after_early_answer`.
    /// These are logged at debug/notice level only; this counter is where they show.
    public func recordClientCondition(_ kind: String) {
        CoreMetrics.Counter(label: "iquest:client_conditions_total", dimensions: [("kind", kind)], factory: factory).increment()
    }

    /// Connection and admission gauges, refreshed when `/metrics` is scraped.
    public func updateAdmission(openConnections: Int, admitted: Int, capacity: Int?) {
        openConnectionsGauge.record(openConnections)
        admittedGauge.record(admitted)
        if let capacity { capacityGauge.record(capacity) }
    }

    /// Queue gauges, refreshed when `/metrics` is scraped.
    public func updateQueue(waiting waitingCount: Int, running runningCount: Int) {
        waiting.record(waitingCount)
        running.record(runningCount)
    }

    /// Prometheus text exposition format.
    public func exposition() -> String { registry.emitToString() }
}
