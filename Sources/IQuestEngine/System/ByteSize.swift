import Foundation

/// Sizes as people write them on command lines: "1073741824", "512MiB", "2GiB", "1.5G", "800MB".
/// Binary units (KiB, MiB, GiB, TiB and the bare K, M, G, T) are powers of 1024; KB, MB, GB, TB
/// are powers of 1000. Case does not matter; a trailing "B" alone means bytes.
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        guard !digits.isEmpty, let value = Double(digits), value >= 0 else { return nil }
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "k", "kib": scale = 1024
        case "m", "mib": scale = 1_048_576
        case "g", "gib": scale = 1_073_741_824
        case "t", "tib": scale = 1_099_511_627_776
        case "kb": scale = 1e3
        case "mb": scale = 1e6
        case "gb": scale = 1e9
        case "tb": scale = 1e12
        default: return nil
        }
        let bytes = value * scale
        guard bytes < 9e18 else { return nil }
        return Int(bytes)
    }

    /// "512 B", "56.0 KiB", "7.00 GiB": binary units, three significant digits or so.
    public static func describe(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        if unit == 0 { return "\(bytes) B" }
        return String(format: value >= 100 ? "%.0f %@" : value >= 10 ? "%.1f %@" : "%.2f %@", value, units[unit])
    }
}
