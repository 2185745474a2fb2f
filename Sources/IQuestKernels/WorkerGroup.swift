#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import IQuestCKernels
import Synchronization

/// `size − 1` worker threads that run one closure per call alongside the caller. The participant
/// indices of a call (`size`, or more when the caller cuts its work finer) are handed out by an
/// atomic counter to whoever asks first, the caller included: a worker that is not running at
/// that moment (descheduled on a busy machine, or still waking up) leaves its share to the
/// caller instead of making it wait, so an oversubscribed machine degrades towards one thread's
/// speed rather than to a standstill. With more indices than threads, a thread that finishes
/// early (the other one was descheduled, woke late or runs on a slower core) takes the remaining
/// ones instead of waiting.
/// Publication: the caller stores the task, resets the counters and bumps `generation`
/// (release); a participant claims an index with an acquiring read-modify-write, so it sees that
/// task, runs it and counts it finished (release); the caller returns once all the call's
/// indices are finished (acquire), so no participant touches the task after that. Idle workers
/// spin ~50 µs, then sleep on a condition variable; the caller broadcasts under the mutex after
/// bumping, so no wake-up is lost.
final class WorkerGroup: @unchecked Sendable {
    let size: Int
    private let generation = Atomic<Int>(0)
    /// The next participant index to hand out in the current call (≥ size: none left).
    private let claimed = Atomic<Int>(0)
    /// Participant indices of the current call that have finished.
    private let finished = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private nonisolated(unsafe) var task: ((Int) -> Void)?
    /// Indices of the current call (published with `task`).
    private nonisolated(unsafe) var indices = 0
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var sleepers = 0

    private static let groups = Mutex<[Int: WorkerGroup]>([:])

    /// The process-wide group for `size` participants, started on first use.
    static func shared(size: Int) -> WorkerGroup {
        groups.withLock { groups in
            if let group = groups[size] { return group }
            let group = WorkerGroup(size: size)
            groups[size] = group
            return group
        }
    }

    private init(size: Int) {
        self.size = size
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        for index in 1..<size {
            let thread = Thread { [unowned(unsafe) self] in self.workerLoop() }
            thread.name = "iquest-worker-\(index)"
            thread.start()
        }
    }

    /// Runs `body(i)` for every i in 0..<parts, each index once, on
    /// whichever of this thread and the workers claims it first; false (nothing run) if the group
    /// is already serving another caller.
    func run(parts: Int, _ body: (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        withoutActuallyEscaping(body) { body in
            task = body
            indices = max(1, parts)
            finished.store(0, ordering: .relaxed)
            claimed.store(0, ordering: .releasing)
            generation.add(1, ordering: .releasing)
            pthread_mutex_lock(mutex)
            if sleepers > 0 { pthread_cond_broadcast(condition) }
            pthread_mutex_unlock(mutex)
            participate()
            // Left: indices a worker claimed and is still running. Yield the core now and then,
            // in case that worker is waiting for it.
            var spins = 0
            while finished.load(ordering: .acquiring) < indices {
                spins += 1
                if spins & 1023 == 0 { sched_yield() } else { spinPause() }
            }
            task = nil
        }
        busy.store(false, ordering: .releasing)
        return true
    }

    /// Claims and runs participant indices of the current call until none are left. A claim that
    /// comes after the call has handed out every index (a worker waking late) gets nothing.
    private func participate() {
        while true {
            let index = claimed.add(1, ordering: .acquiringAndReleasing).oldValue
            guard index < indices else { return }
            runTask(index)
            finished.add(1, ordering: .releasing)
        }
    }

    /// Calls the current task. Not inlined, so the reference this thread takes to the closure is
    /// released before the index is counted finished: the caller's `withoutActuallyEscaping`
    /// traps if any thread still holds the closure when it ends.
    @inline(never) private func runTask(_ index: Int) {
        task?(index)
    }

    private func workerLoop() {
        // Generation 0 is the state before any run; a worker that starts late still sees run 1.
        var seen = 0
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins < 20_000 {
                    spinPause()
                } else {
                    pthread_mutex_lock(mutex)
                    sleepers += 1
                    while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(condition, mutex) }
                    sleepers -= 1
                    pthread_mutex_unlock(mutex)
                    spins = 0
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            participate()
        }
    }
}

@inline(__always) private func spinPause() { iq_cpu_relax() }
