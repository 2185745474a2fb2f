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
        if threads == 1 {
            body(0)
            return
        }
        // Kernels hand raw pointers to disjoint slices of their buffers; the caller guarantees
        // the slices don't overlap, which Sendable checking cannot see.
        withoutActuallyEscaping(body) { body in
            if workers?.run(body) == true { return }
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: threads) { work($0) }
        }
    }

    /// The half-open slice of 0..<count that thread `t` owns, in whole multiples of `granule`.
    @inline(__always)
    public func slice(_ t: Int, of count: Int, granule: Int = 1) -> Range<Int> {
        let units = (count + granule - 1) / granule
        let lo = units * t / threads * granule
        let hi = min(count, units * (t + 1) / threads * granule)
        return lo..<max(lo, hi)
    }
}
