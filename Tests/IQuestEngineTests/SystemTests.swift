import Foundation
import IQuestEngine
import Testing

@Suite struct ByteSizeTests {
    @Test func parsesUnitsPeopleWrite() {
        #expect(ByteSize.parse("1000000") == 1_000_000)
        #expect(ByteSize.parse("512MiB") == 512 << 20)
        #expect(ByteSize.parse("2GiB") == 2 << 30)
        #expect(ByteSize.parse("2g") == 2 << 30)
        #expect(ByteSize.parse("1.5G") == 3 << 29)
        #expect(ByteSize.parse("800MB") == 800_000_000)
        #expect(ByteSize.parse(" 64 KiB ") == 65_536)
        #expect(ByteSize.parse("12B") == 12)
    }

    @Test func refusesWhatIsNotASize() {
        for text in ["", "GiB", "-1G", "1 parsec", "1e9", "99999999999T"] {
            #expect(ByteSize.parse(text) == nil, "\(text)")
        }
    }
}

@Suite struct ProcessMemoryTests {
    /// /proc/self/status separates key and value with a tab: resident and peak sizes are read,
    /// and touching 64 MiB shows up in the resident size.
    @Test func residentSizeFollowsTouchedMemory() throws {
        let before = try #require(ProcessMemory.resident())
        #expect(before > 1 << 20)
        let count = 64 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 4096)
        defer { buffer.deallocate() }
        for offset in stride(from: 0, to: count, by: 4096) { buffer.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self) }
        let after = try #require(ProcessMemory.resident())
        #expect(after - before >= 48 << 20, "resident grew by \(after - before) bytes")
        #expect(try #require(ProcessMemory.peakResident()) >= after)
        #expect(try #require(ProcessMemory.available()) > 0)
    }
}
