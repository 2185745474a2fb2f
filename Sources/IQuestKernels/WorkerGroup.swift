#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import IQuestCKernels
import Synchronization

/// `size − 1` worker threads that run one closure per call alongside the caller. Publication:
/// the caller stores the task, then bumps `generation` (release); a worker that sees the new
/// generation (acquire) runs the task and decrements `remaining` (release); the caller returns
/// once `remaining` is 0 (acquire). Idle workers spin ~50 µs, then sleep on a condition variable;
/// the caller broadcasts under the mutex after bumping, so no wake-up is lost.
final class WorkerGroup: @unchecked Sendable {
    let size: Int
    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private nonisolated(unsafe) var task: ((Int) -> Void)?
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
            let thread = Thread { [unowned(unsafe) self] in self.workerLoop(index) }
            thread.name = "iquest-worker-\(index)"
            thread.start()
        }
    }

    /// Runs `body(0)` here and `body(1..<size)` on the workers; false (nothing run) if the group
    /// is already serving another caller.
    func run(_ body: (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        withoutActuallyEscaping(body) { body in
            task = body
            remaining.store(size - 1, ordering: .relaxed)
            generation.add(1, ordering: .releasing)
            pthread_mutex_lock(mutex)
            if sleepers > 0 { pthread_cond_broadcast(condition) }
            pthread_mutex_unlock(mutex)
            body(0)
            while remaining.load(ordering: .acquiring) > 0 { spinPause() }
            task = nil
        }
        busy.store(false, ordering: .releasing)
        return true
    }

    private func workerLoop(_ index: Int) {
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
            task?(index)
            remaining.subtract(1, ordering: .releasing)
        }
    }
}

@inline(__always) private func spinPause() { iq_cpu_relax() }
