import IQuestEngine

/// What a streaming response waits on: the generation's next event, or a keep-alive tick.
public enum StreamEvent: Sendable {
    case generation(GenerationEvent)
    /// Nothing arrived for one ping interval (a long prefill, a queue): send an SSE comment so
    /// proxies and clients keep the connection, and so a gone client is noticed.
    case ping
}

/// Merges a generation with keep-alive ticks. Stopping the returned stream's consumption
/// (the response writer failed: client gone) cancels the generation. When `admission` is
/// aborted (shutdown past its grace period) the stream fails with the abort's error, which the
/// route writes as an error event; the generation is cancelled the same way.
public func pumpEvents(_ source: AsyncThrowingStream<GenerationEvent, any Error>,
                       pingInterval: Duration, admission: Admission? = nil) -> AsyncThrowingStream<StreamEvent, any Error> {
    let (out, continuation) = AsyncThrowingStream<StreamEvent, any Error>.makeStream()
    let forward = Task {
        do {
            for try await event in source { continuation.yield(.generation(event)) }
            continuation.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }
    let ticker = Task {
        while !Task.isCancelled {
            try? await Task.sleep(for: pingInterval)
            if Task.isCancelled { break }
            continuation.yield(.ping)
        }
    }
    let abortKey = admission?.onAbort { continuation.finish(throwing: $0) }
    continuation.onTermination = { _ in
        forward.cancel()
        ticker.cancel()
        if let abortKey { admission?.removeAbortHandler(abortKey) }
    }
    return out
}
