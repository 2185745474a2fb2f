#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Memory figures of the machine and this process, from /proc (Linux). nil where unavailable.
public enum ProcessMemory {
    /// `MemAvailable` of /proc/meminfo in bytes: what can be allocated without swapping.
    public static func available() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        return field("MemAvailable:", in: text)
    }

    /// Peak resident set size (`VmHWM` of /proc/self/status) in bytes.
    public static func peakResident() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return field("VmHWM:", in: text)
    }

    /// Current resident set size (`VmRSS` of /proc/self/status) in bytes.
    public static func resident() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return field("VmRSS:", in: text)
    }

    /// Resets the peak to the current resident size (writes 5 to /proc/self/clear_refs), so a
    /// later `peakResident()` ignores earlier transient buffers. False where not permitted.
    @discardableResult
    public static func resetPeakResident() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    /// "<key> <n> kB" in a /proc table, in bytes.
    static func field(_ key: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            // "VmRSS:\t  239472 kB": a tab, then spaces.
            let parts = line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let n = parts.first.flatMap({ Int($0) }) else { return nil }
            return parts.count > 1 && parts[1] == "kB" ? n * 1024 : n
        }
        return nil
    }
}
