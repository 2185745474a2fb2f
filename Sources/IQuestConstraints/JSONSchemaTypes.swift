// The per-type parts of the JSON Schema compiler: strings (length, pattern, format), numbers
// (integer bounds exact; number bounds only where exact), objects and arrays.

extension JSONSchemaCompiler {
    /// Exact or stricter than the formats' definitions, never looser: February stops at the 28th
    /// (a leap day needs the year) and leap seconds are left out.
    static let formats: [String: String] = [
        "date": #"^\d{4}-((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|(0[469]|11)-(0[1-9]|[12]\d|30)|02-(0[1-9]|1\d|2[0-8]))$"#,
        "time": #"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"#,
        "date-time": #"^\d{4}-((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|(0[469]|11)-(0[1-9]|[12]\d|30)|02-(0[1-9]|1\d|2[0-8]))[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"#,
        "uuid": #"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"#,
        "ipv4": #"^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$"#,
        "email": #"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"#,
        "hostname": #"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"#,
        "duration": #"^P(\d+W|(\d+Y)?(\d+M)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?)$"#,
    ]

    func string(_ s: Keywords, pointer: String) throws -> [GrammarElement] {
        let minLength = try int(s["minLength"], "minLength", pointer) ?? 0
        let maxLength = try int(s["maxLength"], "maxLength", pointer)
        if let maxLength, maxLength < minLength { return [.rule(b.rule([], name: "nothing"))] }
        var regex: (String, String)?
        if let f = s["format"]?.stringValue, options.enforceFormat {
            guard let r = Self.formats[f] else {
                throw ConstraintError.unsupportedKeyword(keyword: "format", pointer: pointer + "/format", reason: "format '\(f)' is not enforced (supported: \(Self.formats.keys.sorted().joined(separator: ", ")))")
            }
            regex = ("format", r)
        }
        if let p = s["pattern"] {
            guard let text = p.stringValue else { throw ConstraintError.invalidSchema(pointer: pointer + "/pattern", reason: "pattern must be a string") }
            if regex != nil {
                throw ConstraintError.unsupportedKeyword(keyword: "pattern", pointer: pointer + "/pattern", reason: "pattern together with format")
            }
            regex = ("pattern", text)
        }
        let quote = b.literal("\"")
        if let (key, pattern) = regex {
            if s["minLength"] != nil || s["maxLength"] != nil {
                throw ConstraintError.unsupportedKeyword(keyword: s["minLength"] != nil ? "minLength" : "maxLength",
                    pointer: pointer + "/" + (s["minLength"] != nil ? "minLength" : "maxLength"), reason: "length bounds together with \(key)")
            }
            do {
                return quote + (try RegexCompiler.compile(pattern, context: .jsonString, into: b)) + quote
            } catch ConstraintError.regex(_, let reason) {
                throw ConstraintError.unsupportedKeyword(keyword: key, pointer: pointer + "/" + key, reason: "\(reason) in '\(pattern)'")
            }
        }
        return quote + b.repeated([b.jsonAnyChar()], min: minLength, max: maxLength) + quote
    }

    func number(_ s: Keywords, pointer: String, integer: Bool) throws -> [GrammarElement] {
        func bound(_ key: String) throws -> Double? {
            guard let v = s[key] else { return nil }
            guard let d = v.numberValue else { throw ConstraintError.invalidSchema(pointer: pointer + "/" + key, reason: "must be a number") }
            return d
        }
        let minimum = try bound("minimum"), maximum = try bound("maximum")
        let exMin = try bound("exclusiveMinimum"), exMax = try bound("exclusiveMaximum")
        let digits = GrammarElement.bytes(GrammarBuilder.digitSet)
        if integer {
            var lo: Double? = minimum.map { $0.rounded(.up) }
            if let e = exMin { lo = max(lo ?? -.infinity, (e + 1).rounded(.down)) }
            var hi: Double? = maximum.map { $0.rounded(.down) }
            if let e = exMax { hi = min(hi ?? .infinity, (e - 1).rounded(.up)) }
            let limit = 1e18
            if let l = lo, abs(l) > limit { throw ConstraintError.unsupportedKeyword(keyword: "minimum", pointer: pointer, reason: "bound beyond ±1e18") }
            if let h = hi, abs(h) > limit { throw ConstraintError.unsupportedKeyword(keyword: "maximum", pointer: pointer, reason: "bound beyond ±1e18") }
            let range = b.integerRange(lo: lo.map { Int($0) }, hi: hi.map { Int($0) }, maxDigits: options.maxIntegerDigits)
            return options.integerAllowsZeroFraction ? [range] + zeroFraction() : [range]
        }
        if minimum != nil || maximum != nil || exMin != nil || exMax != nil {
            return try boundedNumber(minimum: minimum, maximum: maximum, exclusiveMinimum: exMin, exclusiveMaximum: exMax, pointer: pointer)
        }
        let negative = true, positive = true
        let fraction = b.repeated(b.literal(".") + b.repeated([digits], min: 1, max: options.maxFractionDigits), min: 0, max: 1)
        let exponent = b.repeated([.bytes(ByteSet(Array("eE".utf8)))] + b.repeated([.bytes(ByteSet(Array("+-".utf8)))], min: 0, max: 1)
                                  + b.repeated([digits], min: 1, max: options.maxExponentDigits), min: 0, max: 1)
        let magnitude = b.integerRange(lo: 0, hi: nil, maxDigits: options.maxIntegerDigits)
        var alts: [[GrammarElement]] = []
        if positive { alts.append([magnitude] + fraction + exponent) }
        if negative {
            alts.append(b.literal("-") + [magnitude] + fraction + exponent)
            // maximum 0 still allows zero itself.
            if !positive { alts.append(b.literal("0") + b.repeated(b.literal(".") + b.repeated([.bytes(ByteSet(UInt8(ascii: "0")))], min: 1, max: options.maxFractionDigits), min: 0, max: 1)) }
        }
        return [b.alternatives(alts)]
    }

    func zeroFraction() -> [GrammarElement] {
        b.repeated(b.literal(".") + b.repeated(b.literal("0"), min: 1, max: options.maxFractionDigits), min: 0, max: 1)
    }

    /// Decimal numbers (no exponent) between integral bounds, exact: split by sign, then by
    /// whether the integer part sits on a bound (where the fraction is constrained) or between.
    func boundedNumber(minimum: Double?, maximum: Double?, exclusiveMinimum: Double?, exclusiveMaximum: Double?, pointer: String) throws -> [GrammarElement] {
        for (k, v) in [("minimum", minimum), ("maximum", maximum), ("exclusiveMinimum", exclusiveMinimum), ("exclusiveMaximum", exclusiveMaximum)] {
            if let v, v != v.rounded() || abs(v) > 1e15 {
                throw ConstraintError.unsupportedKeyword(keyword: k, pointer: pointer + "/" + k, reason: "non-integral bounds on numbers")
            }
        }
        // (value, exclusive) of the tighter bound on each side.
        var lo: (Int, Bool)? = minimum.map { (Int($0), false) }
        if let e = exclusiveMinimum.map({ Int($0) }), lo.map({ e >= $0.0 }) ?? true { lo = (e, true) }
        var hi: (Int, Bool)? = maximum.map { (Int($0), false) }
        if let e = exclusiveMaximum.map({ Int($0) }), hi.map({ e <= $0.0 }) ?? true { hi = (e, true) }
        var alts: [[GrammarElement]] = []
        // x ≥ 0, written without a sign.
        if hi.map({ $0.0 > 0 || ($0.0 == 0 && !$0.1) }) ?? true {
            let l: (Int, Bool) = lo.map { $0.0 >= 0 ? $0 : (0, false) } ?? (0, false)
            alts += decimalRange(l, hi)
        }
        // x < 0: "-" then a magnitude in (max(-hi, 0), -lo].
        if lo.map({ $0.0 < 0 }) ?? true {
            let ml: (Int, Bool) = hi.map { $0.0 < 0 ? (-$0.0, $0.1) : (0, true) } ?? (0, true)
            let mh: (Int, Bool)? = lo.map { (-$0.0, $0.1) }
            for a in decimalRange(ml, mh) { alts.append(b.literal("-") + a) }
        }
        if alts.isEmpty { return [.rule(b.rule([], name: "nothing"))] }
        return [b.alternatives(alts)]
    }

    /// Non-negative decimals between l and h (nil: unbounded), each bound inclusive or not.
    private func decimalRange(_ l: (Int, Bool), _ h: (Int, Bool)?) -> [[GrammarElement]] {
        let digit = GrammarElement.bytes(GrammarBuilder.digitSet)
        let k = options.maxFractionDigits
        let anyFraction = b.repeated(b.literal(".") + b.repeated([digit], min: 1, max: k), min: 0, max: 1)
        let nonzeroFraction = b.literal(".") + b.repeated(b.literal("0"), min: 0, max: k - 1)
            + [.bytes(ByteSet(UInt8(ascii: "1")...UInt8(ascii: "9")))] + b.repeated([digit], min: 0, max: k - 1)
        if let h {
            if l.0 > h.0 || (l.0 == h.0 && (l.1 || h.1)) { return [] }
            if l.0 == h.0 { return [b.literal(String(l.0)) + zeroFraction()] }
        }
        var alts: [[GrammarElement]] = [b.literal(String(l.0)) + (l.1 ? nonzeroFraction : anyFraction)]
        if h.map({ $0.0 - 1 >= l.0 + 1 }) ?? true {
            alts.append([b.integerRange(lo: l.0 + 1, hi: h.map { $0.0 - 1 }, maxDigits: options.maxIntegerDigits)] + anyFraction)
        }
        if let h, !h.1 { alts.append(b.literal(String(h.0)) + zeroFraction()) }
        return alts
    }

    func object(_ s: Keywords, pointer: String) throws -> [GrammarElement] {
        var properties: [(String, JSONValue)] = []
        if let p = s["properties"] {
            guard let m = p.objectMembers else { throw ConstraintError.invalidSchema(pointer: pointer + "/properties", reason: "must be an object") }
            properties = m
        }
        var required = Set<String>()
        if let r = s["required"] {
            guard let list = r.arrayValue else { throw ConstraintError.invalidSchema(pointer: pointer + "/required", reason: "must be an array") }
            for n in list {
                guard let name = n.stringValue else { throw ConstraintError.invalidSchema(pointer: pointer + "/required", reason: "must hold strings") }
                required.insert(name)
            }
        }
        // Required names the schema does not describe: any value.
        for name in required.sorted() where !properties.contains(where: { $0.0 == name }) {
            properties.append((name, .bool(true)))
        }
        let additional = s["additionalProperties"] ?? .bool(true)
        let colon = [ws] + b.literal(":") + [ws]
        let comma = [ws] + b.literal(",") + [ws]
        var members: [(element: GrammarElement, required: Bool)] = []
        for (name, sub) in properties {
            let p = pointer + "/properties/" + escape(name)
            let value = GrammarElement.rule(try rule(at: p, schema: sub))
            members.append((b.group(b.literal(JSONValue.quoted(name)) + colon + [value]), required.contains(name)))
        }
        var extra: GrammarElement?
        if additional != .bool(false) {
            let p = pointer + "/additionalProperties"
            let value = GrammarElement.rule(try rule(at: p, schema: additional))
            let key = keyNotIn(properties.map { $0.0 })
            extra = b.group([key] + colon + [value])
        }
        return objectBody(members, extra: extra)
    }

    /// `{ members }`: with at most `anyOrderLimit` members they may come in any order (each at
    /// most once; the closing brace only once every required one is in), else in schema order;
    /// additional properties (`extra`) may sit anywhere.
    func objectBody(_ members: [(element: GrammarElement, required: Bool)], extra: GrammarElement?) -> [GrammarElement] {
        let comma = [ws] + b.literal(",") + [ws]
        if members.count <= options.anyOrderLimit {
            let n = members.count
            let requiredMask = members.enumerated().reduce(0) { $1.element.required ? $0 | (1 << $1.offset) : $0 }
            var rules: [Int: Int] = [:]  // key: mask * 2 + emitted
            for mask in 0..<(1 << n) { for emitted in 0...1 { rules[mask * 2 + emitted] = b.declare("obj") } }
            for mask in 0..<(1 << n) {
                for emitted in 0...1 {
                    var alts: [[GrammarElement]] = []
                    if mask & requiredMask == requiredMask { alts.append([]) }
                    let sep = emitted == 1 ? comma : []
                    for i in 0..<n where mask & (1 << i) == 0 {
                        alts.append(sep + [members[i].element, .rule(rules[(mask | 1 << i) * 2 + 1]!)])
                    }
                    if let extra { alts.append(sep + [extra, .rule(rules[mask * 2 + 1]!)]) }
                    b.define(rules[mask * 2 + emitted]!, alts)
                }
            }
            return b.literal("{") + [ws, .rule(rules[0]!), ws] + b.literal("}")
        }
        // tail(i, emitted): members i… then additional ones; built back to front.
        var after: [Bool: GrammarElement] = [:]
        for emitted in [false, true] {
            var alts: [[GrammarElement]] = [[]]
            if let extra { alts.append((emitted ? comma : []) + [extra] + b.repeated(comma + [extra], min: 0, max: nil)) }
            after[emitted] = b.alternatives(alts)
        }
        for m in members.reversed() {
            var next: [Bool: GrammarElement] = [:]
            for emitted in [false, true] {
                let take = (emitted ? comma : []) + [m.element, after[true]!]
                next[emitted] = m.required ? b.group(take) : b.alternatives([take, [after[emitted]!]])
            }
            after = next
        }
        return b.literal("{") + [ws, after[false]!, ws] + b.literal("}")
    }

    /// A JSON string key that is none of `names` (names in their canonical spelling): walk the
    /// names' trie; leaving it at a character boundary, or closing where no name ends, gives a
    /// new key. (Keys that share part of a multi-byte character with a name and then differ
    /// are not produced: divergence is offered at character boundaries only.)
    func keyNotIn(_ names: [String]) -> GrammarElement {
        let rest = b.group(b.repeated([b.jsonAnyChar()], min: 0, max: nil) + b.literal("\""))
        let quote = b.literal("\"")
        if names.isEmpty { return b.group(quote + [rest]) }
        let encoded = names.map { Array(JSONValue.quoted($0).utf8.dropFirst().dropLast()) }
        func node(_ prefix: [UInt8]) -> GrammarElement {
            let matching = encoded.filter { $0.starts(with: prefix) }
            let isName = matching.contains { $0.count == prefix.count }
            var nextBytes = ByteSet()
            for e in matching where e.count > prefix.count { nextBytes.insert(e[prefix.count]) }
            var alts: [[GrammarElement]] = []
            if !isName { alts.append(quote) }
            for byte in 0...255 where nextBytes.contains(UInt8(byte)) {
                alts.append([.bytes(ByteSet(UInt8(byte))), node(prefix + [UInt8(byte)])])
            }
            let midCharacter = matching.contains { $0.count > prefix.count && (0x80...0xBF).contains($0[prefix.count]) }
            if !midCharacter { alts.append([divergentChar(excluding: nextBytes), rest]) }
            return b.alternatives(alts)
        }
        return b.group(quote + [node([])])
    }

    /// One JSON string character whose first byte is not in `excluded`.
    private func divergentChar(excluding excluded: ByteSet) -> GrammarElement {
        var alts: [[GrammarElement]] = []
        var ascii = ByteSet(0x20...0x7F).subtracting(ByteSet([0x22, 0x5C])).subtracting(excluded)
        if !ascii.isEmpty { alts.append([.bytes(ascii)]) }
        ascii = ByteSet()
        if !excluded.contains(0x5C) {
            let hex = GrammarElement.bytes(ByteSet(Array("0123456789abcdefABCDEF".utf8)))
            alts.append([.bytes(ByteSet(0x5C)), b.alternatives([[.bytes(ByteSet(Array("\"\\/bfnrt".utf8)))], [.bytes(ByteSet(UInt8(ascii: "u"))), hex, hex, hex, hex]])])
        }
        let multi = b.utf8Char(CodepointSet([0x80...0x10FFFF]))
        let leads = ByteSet(0xC2...0xF4)
        if leads.subtracting(excluded) == leads { alts.append([multi]) }
        else if !leads.subtracting(excluded).isEmpty {
            // Some lead bytes continue a name: fall back to excluding every multi-byte start of
            // those leads (keys diverging there must diverge one character earlier or later).
            for lead in 0xC2...0xF4 where !excluded.contains(UInt8(lead)) {
                let lo: UInt32, hi: UInt32
                switch lead {
                case 0xC2...0xDF: lo = UInt32(lead - 0xC0) << 6; hi = lo + 0x3F
                case 0xE0...0xEF: lo = UInt32(lead - 0xE0) << 12; hi = lo + 0xFFF
                default: lo = UInt32(lead - 0xF0) << 18; hi = min(lo + 0x3FFFF, 0x10FFFF)
                }
                if lo <= hi { alts.append([b.utf8Char(CodepointSet([max(lo, 0x80)...hi]))]) }
            }
        }
        return b.alternatives(alts)
    }

    func array(_ s: Keywords, pointer: String) throws -> [GrammarElement] {
        let minItems = try int(s["minItems"], "minItems", pointer) ?? 0
        let maxItems = try int(s["maxItems"], "maxItems", pointer)
        if let u = s["uniqueItems"], u == .bool(true) {
            // Unique items are exact only when at most one item can appear.
            if (maxItems ?? 2) > 1 {
                throw ConstraintError.unsupportedKeyword(keyword: "uniqueItems", pointer: pointer + "/uniqueItems", reason: "uniqueness of array items")
            }
        }
        if let maxItems, maxItems < minItems { return [.rule(b.rule([], name: "nothing"))] }
        var prefix: [GrammarElement] = []
        if let p = s["prefixItems"] {
            guard let list = p.arrayValue else { throw ConstraintError.invalidSchema(pointer: pointer + "/prefixItems", reason: "must be an array") }
            for (i, sub) in list.enumerated() { prefix.append(.rule(try rule(at: pointer + "/prefixItems/\(i)", schema: sub))) }
        }
        let itemsSchema = s["items"] ?? .bool(true)
        let tail: GrammarElement? = itemsSchema == .bool(false) ? nil : .rule(try rule(at: pointer + "/items", schema: itemsSchema))
        let comma = [ws] + b.literal(",") + [ws]
        let maxCount = maxItems ?? Int.max
        let open = b.literal("[") + [ws], close = [ws] + b.literal("]")
        guard maxCount >= 1, let first = prefix.first ?? tail else {
            return minItems == 0 ? b.literal("[") + [ws] + b.literal("]") : [.rule(b.rule([], name: "nothing"))]
        }
        let rest = try suffix(from: 1, prefix: prefix, tail: tail, minItems: minItems, maxCount: maxCount, comma: comma)
        // One whitespace gap in "[ ]", not two.
        let items = [first, rest] + close
        return open + [minItems == 0 ? b.alternatives([b.literal("]"), items]) : b.group(items)]
    }

    /// Items from index i on (i ≥ 1, each preceded by a comma): prefix items, then tail items,
    /// mandatory below minItems, none beyond maxCount.
    private func suffix(from i: Int, prefix: [GrammarElement], tail: GrammarElement?, minItems: Int, maxCount: Int, comma: [GrammarElement]) throws -> GrammarElement {
        if i >= maxCount { return b.group([]) }
        if i >= prefix.count && i >= minItems {
            guard let tail else { return b.group([]) }
            let more = maxCount == Int.max ? nil : maxCount - i
            return b.group(b.repeated(comma + [tail], min: 0, max: more))
        }
        guard let item = i < prefix.count ? prefix[i] : tail else {
            return i >= minItems ? b.group([]) : .rule(b.rule([], name: "nothing"))
        }
        let next = try suffix(from: i + 1, prefix: prefix, tail: tail, minItems: minItems, maxCount: maxCount, comma: comma)
        let take = comma + [item, next]
        return i >= minItems ? b.alternatives([[], take]) : b.group(take)
    }
}
