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

    /// With more parts than threads (decode products cut finer), every part of every call runs
    /// exactly once, also when one part is slow and the parts outnumber or undercut the threads.
    @Test(arguments: [1, 2, 3])
    func everyPartRunsOncePerCall(threads: Int) {
        let pool = ComputePool(threads: threads)
        for parts in [1, 2, 5, 8, 13] {
            for call in 0..<300 {
                let ran = Tally(parts)
                pool.run(parts: parts) { part in
                    if call % 50 == 0 && part == call % parts { usleep(1_000) }
                    ran.count(part)
                }
                #expect(ran.counts == Array(repeating: 1, count: parts), "threads \(threads) parts \(parts) call \(call)")
            }
        }
    }

    /// The parts of a pass tile the rows: contiguous, in order, in whole granules, none empty
    /// before the last non-empty one, and their union is 0..<count.
    @Test func partsTileTheRows() {
        let pool = ComputePool(threads: 2)
        for (count, granule, parts) in [(5120, 16, 8), (1024, 16, 6), (80, 16, 8), (7, 1, 3), (0, 16, 4)] {
            var next = 0
            for part in 0..<parts {
                let rows = pool.slice(part, of: count, granule: granule, parts: parts)
                #expect(rows.lowerBound == next || rows.isEmpty, "\(count)/\(granule)/\(parts): part \(part) \(rows)")
                if !rows.isEmpty { #expect(rows.lowerBound % granule == 0) }
                next = max(next, rows.upperBound)
            }
            #expect(next == count, "\(count)/\(granule)/\(parts): parts end at \(next)")
        }
        // Small passes stay one part per thread; large ones get up to 4 per thread.
        #expect(pool.decodeParts(bytes: 500_000) == 2)
        #expect(pool.decodeParts(bytes: 9 << 20) == 4)
        #expect(pool.decodeParts(bytes: 200 << 20) == 8)
        #expect(ComputePool(threads: 1).decodeParts(bytes: 200 << 20) == 1)
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
