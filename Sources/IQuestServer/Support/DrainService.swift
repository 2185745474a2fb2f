import Logging
import ServiceLifecycle

/// Graceful shutdown of the generation routes. Listed after the HTTP server in its service
/// group, it is shut down first: on SIGTERM/SIGINT it closes admission (new requests get 503,
/// /health says so), lets the requests holding a place finish for up to `gracePeriod`, then
/// aborts the rest (each ends with an error event or a JSON error object, never a cut body) and
/// waits a little for those ends to be written. Only then does the HTTP server stop, so it finds
/// no response half-written.
public struct DrainService: Service {
    public let gate: AdmissionGate
    public let gracePeriod: Duration
    /// Time the aborted requests get to write their error ends.
    public let abortWait: Duration
    let logger: Logger

    public init(gate: AdmissionGate, gracePeriod: Duration, abortWait: Duration = .seconds(5), logger: Logger) {
        self.gate = gate
        self.gracePeriod = gracePeriod
        self.abortWait = abortWait
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // the group was cancelled, not stopped gracefully: nothing to drain
        }
        await drain()
    }

    /// Closes admission, waits for the running requests, aborts what is left.
    public func drain() async {
        gate.drain()
        let held = gate.held
        logger.notice("shutting down: new requests get 503; \(held) admitted request(s) get up to \(gracePeriod) to finish")
        if await gate.waitUntilEmpty(timeout: gracePeriod) { return }
        let aborted = gate.abortAll()
        logger.notice("grace period over: \(aborted) request(s) end with an error")
        if await !gate.waitUntilEmpty(timeout: abortWait) {
            logger.warning("\(gate.held) request(s) had not written their error end after \(abortWait)")
        }
    }
}
