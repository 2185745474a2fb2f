#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Memory read bandwidth as the kernels see it: every thread of `pool` streams its slice of a
/// buffer far larger than the caches (8-lane loads, four independent accumulators), the way the
/// decode kernels stream weights. GB = 1e9 bytes.
public struct BandwidthMeasurement: Sendable {
    public let bytes: Int
    public let threads: Int
    /// GB/s of each timed pass, in order.
    public let passes: [Double]

    public var median: Double { passes.sorted()[passes.count / 2] }
}

/// Reads `bytes` (rounded down to whole 4 KiB pages) once untimed, to fault the pages in, then
/// `passes` timed times. The buffer is anonymous memory released before returning.
public func measureReadBandwidth(bytes requested: Int = 1 << 30, passes: Int = 5, pool: ComputePool) -> BandwidthMeasurement {
    let bytes = max(1 << 16, requested / 4096 * 4096)
    let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    guard let raw, raw != MAP_FAILED else { return BandwidthMeasurement(bytes: 0, threads: pool.threads, passes: [0]) }
    defer { munmap(raw, bytes) }
    let lanes = raw.bindMemory(to: UInt32.self, capacity: bytes / 4)
    // Nonzero contents, written by the threads that will read them (first touch places the pages).
    pool.run { t in
        for i in pool.slice(t, of: bytes / 4, granule: 1024) { lanes[i] = UInt32(truncatingIfNeeded: i) | 1 }
    }
    let sinks = UnsafeMutablePointer<UInt32>.allocate(capacity: pool.threads * 16)
    defer { sinks.deallocate() }
    var rates: [Double] = []
    for _ in 0..<passes {
        let start = DispatchTime.now().uptimeNanoseconds
        pool.run { t in
            let range = pool.slice(t, of: bytes / 128, granule: 1)   // 128-byte units
            sinks[t * 16] = sumLanes(UnsafeRawPointer(raw) + range.lowerBound * 128, units: range.count)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        rates.append(Double(bytes) / seconds / 1e9)
    }
    return BandwidthMeasurement(bytes: bytes, threads: pool.threads, passes: rates)
}

/// Wrapping sum of `units` × 128 bytes as 32-bit lanes; the result keeps the loads alive.
@inline(never)
private func sumLanes(_ p: UnsafeRawPointer, units: Int) -> UInt32 {
    var a = SIMD8<UInt32>(), b = SIMD8<UInt32>(), c = SIMD8<UInt32>(), d = SIMD8<UInt32>()
    var q = p
    for _ in 0..<units {
        a &+= q.loadUnaligned(as: SIMD8<UInt32>.self)
        b &+= (q + 32).loadUnaligned(as: SIMD8<UInt32>.self)
        c &+= (q + 64).loadUnaligned(as: SIMD8<UInt32>.self)
        d &+= (q + 96).loadUnaligned(as: SIMD8<UInt32>.self)
        q += 128
    }
    return (a &+ b &+ c &+ d).wrappedSum()
}
