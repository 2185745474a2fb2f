/// One regex of a pre-tokenizer, hand-compiled into a scanner over Unicode scalars.
///
/// Each rule behaves like HF tokenizers' `Split(pattern, behavior: Isolated)` (and llama.cpp's
/// `unicode_regex_split`): within a piece, every leftmost match becomes its own piece and so does
/// every stretch of text between matches. The piece's end acts as the end of the string, which is
/// what `(?!\S)` and `$` see. Scanners replace a regex engine because Swift's `Regex` matches
/// grapheme clusters by default and is slow; hand scanners follow the regex's leftmost-first
/// alternation exactly and run in linear time.
enum SplitRule: Sendable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Llama 3 (maxDigits 3) and Qwen2 (maxDigits 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// Case-insensitivity covers ASCII letters only, as in llama.cpp's adaptation.
    case llama3(maxDigits: Int)
    /// `\p{N}`: every number character alone.
    case eachNumber
    /// `\p{N}+`
    case numberRun
    /// `[\r\n]`
    case eachNewline
    /// `\s?\p{L}+`
    case spaceThenLetters
    /// `\s?\p{P}+`
    case spaceThenPunctuation
    /// `\s?[set]+`
    case spaceThenRun(ScalarSet)
    /// `[set]+`
    case run(ScalarSet)
    /// `\s+$`
    case trailingWhitespace
    /// `[\p{P}$+<=>^~|`]+` (Falcon) or, without the backtick, llama.cpp's default set: Unicode
    /// punctuation plus the ASCII symbols that Rust's `is_ascii_punctuation` also counts.
    case punctuationAndSymbols(backtick: Bool)
    /// `[0-9][0-9][0-9]`
    case asciiDigitTriple

    /// Splits `range` of `text` and appends the resulting pieces to `out`.
    func split(_ text: ScalarText, _ range: Range<Int>, into out: inout [Range<Int>]) {
        var i = range.lowerBound
        var pending = i
        let end = range.upperBound
        while i < end {
            if let e = matchEnd(text, at: i, end: end), e > i {
                if pending < i { out.append(pending..<i) }
                out.append(i..<e)
                i = e
                pending = e
            } else {
                i += 1
            }
        }
        if pending < end { out.append(pending..<end) }
    }

    /// End of the match that starts at `i`, or nil when the regex does not match there.
    func matchEnd(_ text: ScalarText, at i: Int, end: Int) -> Int? {
        let s = text.scalars
        let c = text.classes
        switch self {
        case .gpt2:
            if let e = contraction(s, i, end, caseInsensitive: false) { return e }
            let j = (s[i] == 0x20 && i + 1 < end) ? i + 1 : i
            if c[j].contains(.letter) { return runEnd(c, j, end, .letter) }
            if c[j].contains(.number) { return runEnd(c, j, end, .number) }
            if isOther(c[j]) { return otherRunEnd(c, j, end) }
            return whitespaceLookahead(c, i, end)

        case .llama3(let maxDigits):
            if let e = contraction(s, i, end, caseInsensitive: true) { return e }
            if c[i].contains(.letter) { return runEnd(c, i, end, .letter) }
            if !c[i].contains(.newline), !c[i].contains(.number), i + 1 < end, c[i + 1].contains(.letter) {
                return runEnd(c, i + 1, end, .letter)
            }
            if c[i].contains(.number) { return min(runEnd(c, i, end, .number), i + maxDigits) }
            let j = (s[i] == 0x20 && i + 1 < end) ? i + 1 : i
            if isOther(c[j]) {
                var k = otherRunEnd(c, j, end)
                while k < end, c[k].contains(.newline) { k += 1 }
                return k
            }
            guard c[i].contains(.whitespace) else { return nil }
            // \s*[\r\n]+ ends right after the last newline of the whitespace run.
            let k = runEnd(c, i, end, .whitespace)
            var m = k - 1
            while m >= i {
                if c[m].contains(.newline) { return m + 1 }
                m -= 1
            }
            return whitespaceLookahead(c, i, end)

        case .eachNumber:
            return c[i].contains(.number) ? i + 1 : nil
        case .numberRun:
            return c[i].contains(.number) ? runEnd(c, i, end, .number) : nil
        case .eachNewline:
            return c[i].contains(.newline) ? i + 1 : nil
        case .spaceThenLetters:
            let j = (c[i].contains(.whitespace) && i + 1 < end) ? i + 1 : i
            return c[j].contains(.letter) ? runEnd(c, j, end, .letter) : nil
        case .spaceThenPunctuation:
            let j = (c[i].contains(.whitespace) && i + 1 < end) ? i + 1 : i
            return c[j].contains(.punctuation) ? runEnd(c, j, end, .punctuation) : nil
        case .spaceThenRun(let set):
            let j = (c[i].contains(.whitespace) && i + 1 < end && set.contains(s[i + 1])) ? i + 1 : i
            return set.contains(s[j]) ? setRunEnd(s, j, end, set) : nil
        case .run(let set):
            return set.contains(s[i]) ? setRunEnd(s, i, end, set) : nil
        case .trailingWhitespace:
            guard c[i].contains(.whitespace) else { return nil }
            return runEnd(c, i, end, .whitespace) == end ? end : nil
        case .punctuationAndSymbols(let backtick):
            var k = i
            while k < end, c[k].contains(.punctuation) || Self.asciiSymbols.contains(s[k]) || (backtick && s[k] == 0x60) {
                k += 1
            }
            return k > i ? k : nil
        case .asciiDigitTriple:
            guard i + 3 <= end else { return nil }
            for k in i..<(i + 3) where !(0x30...0x39).contains(s[k]) { return nil }
            return i + 3
        }
    }

    private static let asciiSymbols: Set<UInt32> = Set("$+<=>^~|".unicodeScalars.map(\.value))

    /// `[^\s\p{L}\p{N}]`
    private func isOther(_ c: ScalarClass) -> Bool {
        !c.contains(.whitespace) && !c.contains(.letter) && !c.contains(.number)
    }

    private func runEnd(_ c: [ScalarClass], _ start: Int, _ end: Int, _ cls: ScalarClass) -> Int {
        var k = start
        while k < end, c[k].contains(cls) { k += 1 }
        return k
    }

    private func otherRunEnd(_ c: [ScalarClass], _ start: Int, _ end: Int) -> Int {
        var k = start
        while k < end, isOther(c[k]) { k += 1 }
        return k
    }

    private func setRunEnd(_ s: [UInt32], _ start: Int, _ end: Int, _ set: ScalarSet) -> Int {
        var k = start
        while k < end, set.contains(s[k]) { k += 1 }
        return k
    }

    /// `\s+(?!\S)|\s+` at `i`: a whitespace run that reaches the end is taken whole; one followed
    /// by a non-space gives up its last character (which then prefixes the next word), and a
    /// single whitespace character before a non-space is taken alone.
    private func whitespaceLookahead(_ c: [ScalarClass], _ i: Int, _ end: Int) -> Int? {
        guard c[i].contains(.whitespace) else { return nil }
        let k = runEnd(c, i, end, .whitespace)
        if k == end { return k }
        return k - i >= 2 ? k - 1 : i + 1
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, optionally ignoring ASCII case.
    private func contraction(_ s: [UInt32], _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int? {
        guard s[i] == 0x27, i + 1 < end else { return nil }
        func lower(_ v: UInt32) -> UInt32 {
            caseInsensitive && (0x41...0x5A).contains(v) ? v + 0x20 : v
        }
        let a = lower(s[i + 1])
        // s t m d
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return i + 2 }
        guard i + 2 < end else { return nil }
        let b = lower(s[i + 2])
        // re ve ll
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return i + 3 }
        return nil
    }
}

/// A set of scalars given as closed ranges (a regex character class of literal ranges).
struct ScalarSet: Sendable {
    private let ranges: [ClosedRange<UInt32>]

    init(_ ranges: [ClosedRange<UInt32>]) {
        // Merged into sorted disjoint ranges so that a binary search can answer `contains`.
        var merged: [ClosedRange<UInt32>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, r.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        self.ranges = merged
    }

    func contains(_ v: UInt32) -> Bool {
        var lo = 0
        var hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < v {
                lo = mid + 1
            } else {
                hi = mid
            }
        }
        return lo < ranges.count && ranges[lo].contains(v)
    }
}
