/// Holds back streamed text that might be the start of a stop string, and reports when one
/// appears. Text before a stop string is released; the stop string and anything after are not.
struct StopStringMatcher {
    let stops: [String]
    private var held = ""
    /// The stop string that ended generation (Anthropic's `stop_sequence` reports it).
    private(set) var matched: String?

    init(stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Adds newly decoded text; returns the text safe to emit and whether a stop string was hit.
    mutating func feed(_ text: String) -> (emit: String, stopped: Bool) {
        guard !stops.isEmpty else { return (text, false) }
        held += text
        for stop in stops {
            if let range = held.range(of: stop) {
                let before = String(held[..<range.lowerBound])
                held = ""
                matched = stop
                return (before, true)
            }
        }
        // Keep the longest suffix that is a proper prefix of some stop string.
        var keep = 0
        for stop in stops {
            var n = min(stop.count - 1, held.count)
            while n > keep {
                if held.hasSuffix(stop.prefix(n)) { keep = n; break }
                n -= 1
            }
        }
        let cut = held.index(held.endIndex, offsetBy: -keep)
        let emit = String(held[..<cut])
        held = String(held[cut...])
        return (emit, false)
    }

    /// Releases whatever is held at the end of generation.
    mutating func flush() -> String {
        defer { held = "" }
        return held
    }
}
