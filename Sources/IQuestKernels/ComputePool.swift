import Dispatch

/// Splits data-parallel kernel work over a fixed number of threads. `threads − 1` persistent
/// workers (one set per thread count, shared by the process) spin briefly between calls and then
/// sleep, so the ~200 small products of a decode step don't each pay a thread wake-up; the calling
/// thread takes part as thread 0. `threads == 1` runs inline. If another caller is using the same
/// workers at that moment (parallel tests, several models), the call falls back to Dispatch.
public struct ComputePool: Sendable {
    public let threads: Int
    private let workers: WorkerGroup?

    public init(threads: Int) {
        self.threads = max(1, threads)
        workers = self.threads > 1 ? WorkerGroup.shared(size: self.threads) : nil
    }

    /// Calls `body(t)` for t in 0..<threads concurrently and returns when all have finished.
    @inline(__always)
    public func run(_ body: (Int) -> Void) {
        run(parts: threads, body)
    }

    /// Calls `body(part)` for every part in 0..<parts, each once, spread over the threads as they
    /// come free (a part does not belong to a thread: per-thread state must not be keyed by it).
    @inline(__always)
    public func run(parts: Int, _ body: (Int) -> Void) {
        if threads == 1 || parts <= 1 {
            for part in 0..<max(1, parts) { body(part) }
            return
        }
        // Kernels hand raw pointers to disjoint slices of their buffers; the caller guarantees
        // the slices don't overlap, which Sendable checking cannot see.
        withoutActuallyEscaping(body) { body in
            if workers?.run(parts: parts, body) == true { return }
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: parts) { work($0) }
        }
    }

    /// Parts of a decode-step pass over `bytes` of weights: up to 4 per thread once each part
    /// still reads ≥ 2 MiB, so that a thread held up (descheduled, late to wake, a slower core)
    /// leaves its remaining parts to the others instead of making them wait at the barrier; one
    /// per thread for small matrices, where each claim would cost more than it saves (SmolLM2's
    /// 0.5 MB matrices: 8 parts made decode 6–20% slower). Which rows form a part never changes a
    /// row's result.
    public func decodeParts(bytes: Int) -> Int {
        threads == 1 ? 1 : threads * min(4, max(1, bytes / (threads << 21)))
    }

    /// The half-open slice of 0..<count that thread `t` owns, in whole multiples of `granule`.
    @inline(__always)
    public func slice(_ t: Int, of count: Int, granule: Int = 1) -> Range<Int> {
        slice(t, of: count, granule: granule, parts: threads)
    }

    /// The half-open slice of 0..<count of part `part` among `parts`, in whole multiples of `granule`.
    @inline(__always)
    public func slice(_ part: Int, of count: Int, granule: Int = 1, parts: Int) -> Range<Int> {
        let units = (count + granule - 1) / granule
        let lo = units * part / parts * granule
        let hi = min(count, units * (part + 1) / parts * granule)
        return lo..<max(lo, hi)
    }
}
