import Foundation

/// Python string formatting used by templates: `str.format`, `%`, and `strftime`.
/// Format specs beyond the plain forms are refused, not approximated.

func pythonFormat(_ fmt: String, _ args: [Value], _ kwargs: [(String, Value)]) throws -> String {
    let sc = Array(fmt.unicodeScalars)
    var out = ""
    var i = 0
    var auto = 0
    while i < sc.count {
        let c = sc[i]
        if c == "{" {
            if i + 1 < sc.count, sc[i + 1] == "{" { out += "{"; i += 2; continue }
            guard let close = sc[i...].firstIndex(of: "}") else { throw TemplateError(kind: .type, message: "Single '{' encountered in format string") }
            var field = String(String.UnicodeScalarView(sc[(i + 1)..<close]))
            i = close + 1
            var conversion: Character? = nil
            if let bang = field.firstIndex(of: "!") {
                conversion = field[field.index(after: bang)...].first
                field = String(field[..<bang])
            }
            if field.contains(":") || field.contains("[") || field.contains(".") {
                throw TemplateError(kind: .unsupported, message: "str.format field '{\(field)}' (specs, indexing and attributes are not supported)")
            }
            let v: Value
            if field.isEmpty {
                guard auto < args.count else { throw TemplateError(kind: .type, message: "Replacement index \(auto) out of range for positional args tuple") }
                v = args[auto]
                auto += 1
            } else if let n = Int(field) {
                guard n < args.count else { throw TemplateError(kind: .type, message: "Replacement index \(n) out of range for positional args tuple") }
                v = args[n]
            } else {
                guard let kv = kwargs.first(where: { $0.0 == field }) else { throw TemplateError(kind: .type, message: "KeyError: '\(field)'") }
                v = kv.1
            }
            out += conversion == "r" ? try v.repr() : try v.str()
        } else if c == "}" {
            guard i + 1 < sc.count, sc[i + 1] == "}" else { throw TemplateError(kind: .type, message: "Single '}' encountered in format string") }
            out += "}"
            i += 2
        } else {
            out.unicodeScalars.append(c)
            i += 1
        }
    }
    return out
}

/// Python `fmt % values` for %s, %r, %d, %i and %%.
func percentFormat(_ fmt: String, _ values: Value) throws -> String {
    let args: [Value]
    if case .tuple(let t) = values { args = t } else { args = [values] }
    var out = ""
    var next = 0
    let sc = Array(fmt.unicodeScalars)
    var i = 0
    while i < sc.count {
        let c = sc[i]
        guard c == "%" else { out.unicodeScalars.append(c); i += 1; continue }
        guard i + 1 < sc.count else { throw TemplateError(kind: .type, message: "incomplete format") }
        let spec = sc[i + 1]
        i += 2
        if spec == "%" { out += "%"; continue }
        guard next < args.count else { throw TemplateError(kind: .type, message: "not enough arguments for format string") }
        let v = args[next]
        next += 1
        switch spec {
        case "s": out += try v.str()
        case "r": out += try v.repr()
        case "d", "i":
            switch Num(v) {
            case .int(let n)?: out += String(n)
            case .double(let d)?: out += String(Int(d.rounded(.towardZero)))
            case nil: throw TemplateError(kind: .type, message: "%\(spec) format: a real number is required, not \(v.typeName)")
            }
        default:
            throw TemplateError(kind: .unsupported, message: "% format '%\(spec)' is not supported")
        }
    }
    if next < args.count { throw TemplateError(kind: .type, message: "not all arguments converted during string formatting") }
    return out
}

/// C/Python strftime in the C locale for the common directives.
func strftime(_ fmt: String, _ date: Date, _ tz: TimeZone) throws -> String {
    var cal = Calendar(identifier: .gregorian)
    cal.timeZone = tz
    let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday, .nanosecond], from: date)
    let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    let year = c.year ?? 1970, month = c.month ?? 1, day = c.day ?? 1
    let hour = c.hour ?? 0, minute = c.minute ?? 0, second = c.second ?? 0, weekday = (c.weekday ?? 1) - 1
    let yday = cal.ordinality(of: .day, in: .year, for: date) ?? 1
    func pad(_ n: Int, _ w: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, w - s.count)) + s
    }
    var out = ""
    var it = fmt.makeIterator()
    while let ch = it.next() {
        guard ch == "%" else { out.append(ch); continue }
        guard let d = it.next() else { out += "%"; break }
        switch d {
        case "Y": out += String(year)
        case "y": out += pad(year % 100, 2)
        case "m": out += pad(month, 2)
        case "d": out += pad(day, 2)
        case "e": out += (day < 10 ? " " : "") + String(day)
        case "H": out += pad(hour, 2)
        case "I": out += pad(hour % 12 == 0 ? 12 : hour % 12, 2)
        case "M": out += pad(minute, 2)
        case "S": out += pad(second, 2)
        case "p": out += hour < 12 ? "AM" : "PM"
        case "B": out += months[month - 1]
        case "b", "h": out += String(months[month - 1].prefix(3))
        case "A": out += days[weekday]
        case "a": out += String(days[weekday].prefix(3))
        case "j": out += pad(yday, 3)
        case "w": out += String(weekday)
        case "u": out += String(weekday == 0 ? 7 : weekday)
        case "f": out += pad((c.nanosecond ?? 0) / 1000, 6)
        case "F": out += "\(year)-\(pad(month, 2))-\(pad(day, 2))"
        case "T": out += "\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
        case "D": out += "\(pad(month, 2))/\(pad(day, 2))/\(pad(year % 100, 2))"
        case "%": out += "%"
        default: throw TemplateError(kind: .unsupported, message: "strftime directive %\(d) is not supported")
        }
    }
    return out
}
