import IQuestKernels
import XCTest

final class BandwidthProbeTests: XCTestCase {
    /// Any machine reads memory at more than 0.1 GB/s and less than 10 TB/s; a probe that skipped
    /// its loads (optimized away) or mistimed would land outside that range.
    func testProbeReportsAPositiveFiniteRatePerPass() {
        for threads in [1, 2] {
            let m = measureReadBandwidth(bytes: 64 << 20, passes: 3, pool: ComputePool(threads: threads))
            XCTAssertEqual(m.bytes, 64 << 20)
            XCTAssertEqual(m.threads, threads)
            XCTAssertEqual(m.passes.count, 3)
            for rate in m.passes {
                XCTAssertTrue(rate.isFinite, "\(m.passes)")
                XCTAssertGreaterThan(rate, 0.1, "\(m.passes)")
                XCTAssertLessThan(rate, 10_000, "\(m.passes)")
            }
            XCTAssertTrue(m.passes.contains(m.median))
        }
    }

    func testSizeIsRoundedToWholePages() {
        let m = measureReadBandwidth(bytes: (1 << 20) + 123, passes: 1, pool: ComputePool(threads: 1))
        XCTAssertEqual(m.bytes, 1 << 20)
    }
}
