import Foundation

/// Runs a blocking job over items on `workers` threads, each worker with its own slot number
/// (the sandbox gives each slot its own uid), results in input order.
public enum ParallelRunner {
    public static func map<T: Sendable, R: Sendable>(_ items: [T], workers: Int, progress: (@Sendable (Int) -> Void)? = nil,
                                              _ body: @escaping @Sendable (T, Int) -> R) -> [R] {
        let results = ResultBox<R>(count: items.count)
        let workers = max(1, min(workers, items.count))
        // Threads, not concurrentPerform: the work is waiting on child processes, and
        // concurrentPerform would cap the waiters at the core count.
        let group = DispatchGroup()
        for slot in 0..<workers {
            group.enter()
            let thread = Thread {
                while let index = results.claim() {
                    results.store(body(items[index], slot), at: index)
                    progress?(results.finished)
                }
                group.leave()
            }
            thread.start()
        }
        group.wait()
        return results.values.compactMap { $0 }
    }

    private final class ResultBox<R>: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private(set) var values: [R?]
        private var done = 0
        init(count: Int) { values = Array(repeating: nil, count: count) }
        var finished: Int { lock.lock(); defer { lock.unlock() }; return done }
        func claim() -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard next < values.count else { return nil }
            next += 1
            return next - 1
        }
        func store(_ value: R, at index: Int) {
            lock.lock(); values[index] = value; done += 1; lock.unlock()
        }
    }
}
