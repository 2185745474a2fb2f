import Foundation
import IQuestKernels
import Synchronization
import Testing

/// ComputePool hands every participant index of a call to exactly one thread, whatever the
/// timing: workers that start late, run slowly or never get the CPU leave their share to others.
@Suite struct ComputePoolTests {
    /// Per call, counts how often each index ran; every count must be exactly 1.
    static func runCounting(_ pool: ComputePool, calls: Int, work: (Int, Int) -> Void) -> [[Int]] {
        var counts: [[Int]] = []
        for call in 0..<calls {
            let ran = Tally(pool.threads)
            pool.run { t in
                work(call, t)
                ran.count(t)
            }
            counts.append(ran.counts)
        }
        return counts
    }

    @Test(arguments: [2, 3, 4])
    func everyIndexRunsOncePerCallWithUnevenWork(threads: Int) {
        let pool = ComputePool(threads: threads)
        // Index-dependent delays (some calls leave one index much slower than the others) and
        // calls with no work at all, back to back, so late workers meet later calls.
        let counts = Self.runCounting(pool, calls: 2_000) { call, t in
            if call % 97 == 0 && t == call % threads { usleep(2_000) }
            if call % 5 == 0 { return }
            var x = 0.0
            for i in 0..<(50 * (t + 1)) { x += Double(i) }
            #expect(x >= 0)
        }
        for (call, row) in counts.enumerated() {
            #expect(row == Array(repeating: 1, count: threads), "call \(call): \(row)")
        }
    }

    /// After the workers have gone to sleep (idle well past their spin), calls still run every
    /// index exactly once and produce the complete result.
    @Test func sleepingWorkersStillServeEveryIndex() {
        let pool = ComputePool(threads: 2)
        for round in 0..<5 {
            usleep(20_000)
            let n = 10_000
            var out = [Int](repeating: 0, count: n)
            out.withUnsafeMutableBufferPointer { buffer in
                let base = buffer.baseAddress!
                pool.run { t in
                    for i in pool.slice(t, of: n) { base[i] = i * 3 + round }
                }
            }
            #expect(out == (0..<n).map { $0 * 3 + round })
        }
    }

    /// A pool whose worker cannot run (the machine is saturated by busy threads of this test)
    /// still completes every call; results stay exact.
    @Test func oversubscribedMachineStillCompletesEveryCall() {
        let stop = StopFlag()
        let hogs = (0..<4).map { _ in
            Thread {
                var x = 0
                while !stop.isSet { x &+= 1 }
                _ = x
            }
        }
        hogs.forEach { $0.start() }
        defer { stop.set() }
        let pool = ComputePool(threads: 2)
        let counts = Self.runCounting(pool, calls: 300) { _, _ in }
        #expect(counts.allSatisfy { $0 == [1, 1] })
    }
}

/// How often each index ran in one call (thread-safe).
final class Tally: Sendable {
    private let state: Mutex<[Int]>
    init(_ n: Int) { state = Mutex(Array(repeating: 0, count: n)) }
    func count(_ index: Int) { state.withLock { $0[index] += 1 } }
    var counts: [Int] { state.withLock { $0 } }
}

final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}
