import Foundation

/// A one-line progress bar with elapsed time and ETA on stderr, redrawn at most 5 times a second.
public final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let started = Date()
    private var lastDraw = Date.distantPast
    private let lock = NSLock()
    private let enabled: Bool

    public init(label: String, total: Int, enabled: Bool = true) {
        self.label = label
        self.total = max(1, total)
        self.enabled = enabled
    }

    public func update(_ done: Int) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard enabled, done >= total || now.timeIntervalSince(lastDraw) >= 0.2 else { return }
        lastDraw = now
        FileHandle.standardError.write(Data(("\r" + Self.line(label: label, done: done, total: total,
                                                              elapsed: now.timeIntervalSince(started))).utf8))
        if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    /// "generate [#######.............] 37/164  23%  1m05s, ETA 3m43s"
    public static func line(label: String, done: Int, total: Int, elapsed: Double, width: Int = 24) -> String {
        let fraction = Double(min(done, total)) / Double(max(1, total))
        let filled = Int((fraction * Double(width)).rounded(.down))
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : nil
        return "\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + "\(done)/\(total) " + String(format: "%3.0f%%", fraction * 100) + "  " + duration(elapsed)
            + (done >= total ? "" : ", ETA " + (eta.map(duration) ?? "?")) + "   "
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
    }
}
