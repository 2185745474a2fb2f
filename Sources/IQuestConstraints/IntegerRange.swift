// Decimal integer ranges as grammars (for JSON Schema minimum/maximum on integers): a range is
// split by sign and by digit count, and each same-length range by its leading digits, the
// usual construction behind "regex for a numeric range".

extension GrammarBuilder {
    static let digitSet = ByteSet(UInt8(ascii: "0")...UInt8(ascii: "9"))

    /// Canonical decimal integers n with lo ≤ n ≤ hi (nil: unbounded, up to `maxDigits` digits).
    public func integerRange(lo: Int?, hi: Int?, maxDigits: Int) -> GrammarElement {
        var alts: [[GrammarElement]] = []
        let minus = GrammarElement.bytes(ByteSet(UInt8(ascii: "-")))
        // Negative part: -m for m in [max(1, -hi), -lo].
        if lo.map({ $0 < 0 }) ?? true {
            let magLo = hi.map { $0 < 0 ? -$0 : 1 } ?? 1
            let magHi = lo.map { -$0 }
            if magHi.map({ $0 >= magLo }) ?? true {
                alts.append([minus] + magnitudeRange(magLo, magHi, maxDigits: maxDigits))
            }
        }
        // Non-negative part.
        if hi.map({ $0 >= 0 }) ?? true {
            let a = max(lo ?? 0, 0)
            if hi.map({ $0 >= a }) ?? true {
                alts.append(magnitudeRange(a, hi, maxDigits: maxDigits))
            }
        }
        if alts.isEmpty { return .rule(rule([], name: "nothing")) }
        return alternatives(alts)
    }

    /// Canonical decimal numbers a...b (a ≥ 0), b nil = any up to `maxDigits` digits.
    func magnitudeRange(_ a: Int, _ b: Int?, maxDigits: Int) -> [GrammarElement] {
        let la = String(a).count
        let lb = b.map { String($0).count } ?? maxDigits
        var alts: [[GrammarElement]] = []
        if la > lb { return [.rule(rule([], name: "nothing"))] }
        for len in la...lb {
            let lowest = len == 1 ? 0 : pow10(len - 1)
            let lo = max(a, lowest)
            if b == nil && len > la {
                // Every number of this length and above: one shared tail.
                let nonzero = GrammarElement.bytes(ByteSet(UInt8(ascii: "1")...UInt8(ascii: "9")))
                alts.append([nonzero] + repeated([.bytes(Self.digitSet)], min: len - 1, max: maxDigits - 1))
                break
            }
            let hiLen = len >= 19 ? Int.max : pow10(len) - 1
            let hi = min(b ?? Int.max, hiLen)
            if lo > hi { continue }
            alts.append(sameLength(Array(String(lo).utf8), Array(String(hi).utf8)))
        }
        if alts.isEmpty { return [.rule(rule([], name: "nothing"))] }
        return [alternatives(alts)]
    }

    private func pow10(_ n: Int) -> Int {
        var v = 1
        for _ in 0..<n { v = v.multipliedReportingOverflow(by: 10).overflow ? Int.max : v * 10 }
        return v
    }

    /// Digit strings of equal length between x and y inclusive.
    private func sameLength(_ x: [UInt8], _ y: [UInt8]) -> [GrammarElement] {
        if x.isEmpty { return [] }
        if x == y { return literal(x) }
        if x[0] == y[0] { return [.bytes(ByteSet(x[0]))] + sameLength(Array(x.dropFirst()), Array(y.dropFirst())) }
        let rest = x.count - 1
        let nines = [UInt8](repeating: UInt8(ascii: "9"), count: rest)
        let zeros = [UInt8](repeating: UInt8(ascii: "0"), count: rest)
        var alts: [[GrammarElement]] = []
        alts.append([.bytes(ByteSet(x[0]))] + sameLength(Array(x.dropFirst()), nines))
        if y[0] - x[0] > 1 {
            alts.append([.bytes(ByteSet((x[0] + 1)...(y[0] - 1)))] + repeated([.bytes(Self.digitSet)], min: rest, max: rest))
        }
        alts.append([.bytes(ByteSet(y[0]))] + sameLength(zeros, Array(y.dropFirst())))
        return [alternatives(alts)]
    }
}
