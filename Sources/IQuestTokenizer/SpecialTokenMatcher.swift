/// Finds special tokens written out in input text before BPE sees it.
///
/// Semantics follow llama.cpp's `tokenizer_st_partition`: tokens are tried longest text first
/// (ties: lower id first); each one splits every remaining stretch of plain text at all of its
/// non-overlapping occurrences, left to right. So when two specials overlap, the longer wins.
/// Control and unknown tokens are matched only when parsing specials; user-defined tokens always
/// (as in HF tokenizers, where added tokens are split out before pre-tokenization).
struct SpecialTokenMatcher: Sendable {
    enum Fragment: Equatable {
        case text(Range<Int>)
        case token(Int)
    }

    private struct Entry {
        let bytes: [UInt8]
        let id: Int
        let alwaysMatched: Bool
    }

    /// Sorted by decreasing length, then id.
    private let entries: [Entry]
    /// Indices into `entries` by first byte, for finding which tokens occur at all.
    private let byFirstByte: [[Int]]

    init(texts: [String], types: [TokenType]) {
        var entries: [Entry] = []
        for (id, type) in types.enumerated() {
            let matchable = type == .control || type == .userDefined || type == .unknown
            let bytes = Array(texts[id].utf8)
            if matchable, !bytes.isEmpty {
                entries.append(Entry(bytes: bytes, id: id, alwaysMatched: type == .userDefined))
            }
        }
        entries.sort { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        var byFirst = [[Int]](repeating: [], count: 256)
        for (k, e) in entries.enumerated() { byFirst[Int(e.bytes[0])].append(k) }
        self.entries = entries
        self.byFirstByte = byFirst
    }

    var isEmpty: Bool { entries.isEmpty }

    func partition(_ text: [UInt8], parseSpecial: Bool) -> [Fragment] {
        guard !text.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0..<text.count)]
        for k in occurring(in: text, parseSpecial: parseSpecial) {
            let needle = entries[k].bytes
            var next: [Fragment] = []
            next.reserveCapacity(fragments.count + 4)
            for fragment in fragments {
                guard case .text(let range) = fragment else {
                    next.append(fragment)
                    continue
                }
                var start = range.lowerBound
                var i = start
                while i + needle.count <= range.upperBound {
                    if Self.matches(text, at: i, needle) {
                        if start < i { next.append(.text(start..<i)) }
                        next.append(.token(entries[k].id))
                        i += needle.count
                        start = i
                    } else {
                        i += 1
                    }
                }
                if start < range.upperBound { next.append(.text(start..<range.upperBound)) }
            }
            fragments = next
        }
        return fragments
    }

    /// Indices of the entries that appear somewhere in `text`, in matching order.
    private func occurring(in text: [UInt8], parseSpecial: Bool) -> [Int] {
        var found = Set<Int>()
        for i in text.indices {
            for k in byFirstByte[Int(text[i])] where !found.contains(k) {
                let e = entries[k]
                if (parseSpecial || e.alwaysMatched), Self.matches(text, at: i, e.bytes) { found.insert(k) }
            }
        }
        return found.sorted()
    }

    private static func matches(_ text: [UInt8], at i: Int, _ needle: [UInt8]) -> Bool {
        guard i + needle.count <= text.count else { return false }
        for j in 0..<needle.count where text[i + j] != needle[j] { return false }
        return true
    }
}
