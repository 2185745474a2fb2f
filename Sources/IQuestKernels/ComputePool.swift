import Dispatch

/// Splits data-parallel kernel work over a fixed number of threads. Work runs on Dispatch's
/// persistent worker pool (no thread is created per call); `threads == 1` runs inline.
public struct ComputePool: Sendable {
    public let threads: Int

    public init(threads: Int) {
        self.threads = max(1, threads)
    }

    /// Calls `body(t)` for t in 0..<threads concurrently and returns when all have finished.
    @inline(__always)
    public func run(_ body: (Int) -> Void) {
        if threads == 1 {
            body(0)
        } else {
            // Kernels hand raw pointers to disjoint slices of their buffers; the caller guarantees
            // the slices don't overlap, which Sendable checking cannot see.
            withoutActuallyEscaping(body) { body in
                nonisolated(unsafe) let work = body
                DispatchQueue.concurrentPerform(iterations: threads) { work($0) }
            }
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
