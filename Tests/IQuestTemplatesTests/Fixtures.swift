import Foundation
import IQuestTemplates

struct FixtureError: Error, CustomStringConvertible {
    var description: String
}

/// Locates Tests/Fixtures/templates (in the repo) and the real templates (in the asset cache).
enum Fixtures {
    /// `$IQUEST_CACHE/llama-vocab/templates`, where tools/fetch-assets.sh puts llama.cpp's template collection.
    static func templatesDir() throws -> URL {
        let env = ProcessInfo.processInfo.environment["IQUEST_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
        let cache = env.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/iquest")
        let dir = cache.appendingPathComponent("llama-vocab/templates")
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("Qwen3-Coder.jinja").path) else {
            throw FixtureError(description: "\(dir.path) has no templates: run tools/fetch-assets.sh vocab")
        }
        return dir
    }

    static func fixture(_ name: String, filePath: String = #filePath) throws -> URL {
        var dir = URL(fileURLWithPath: filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("Fixtures/templates/\(name)")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            dir.deleteLastPathComponent()
        }
        throw FixtureError(description: "fixture Tests/Fixtures/templates/\(name) not found above \(filePath)")
    }

    static func json(_ name: String) throws -> TemplateValue {
        try TemplateValue(json: Data(contentsOf: fixture(name)))
    }

    /// The instant the generator pinned `strftime_now` to (2025-03-14T09:26:53, naive), read as UTC.
    static let renderOptions: RenderOptions = {
        var c = DateComponents()
        (c.year, c.month, c.day, c.hour, c.minute, c.second) = (2025, 3, 14, 9, 26, 53)
        var cal = Calendar(identifier: .gregorian)
        let utc = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? .current
        cal.timeZone = utc
        return RenderOptions(now: cal.date(from: c) ?? Date(timeIntervalSince1970: 0), timeZone: utc)
    }()
}

extension TemplateValue {
    subscript(key: String) -> TemplateValue? {
        if case .dictionary(let d) = self { return d[key] }
        return nil
    }

    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var arrayValue: [TemplateValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// One jinja2 reference result: rendered text, or the exception jinja2 raised.
enum Expected {
    case output(String)
    case error(type: String, message: String)

    init(_ v: TemplateValue) throws {
        if let s = v["output"]?.stringValue {
            self = .output(s)
        } else if let m = v["error"]?.stringValue, let t = v["error_type"]?.stringValue {
            self = .error(type: t, message: m)
        } else {
            throw FixtureError(description: "bad expected entry \(v)")
        }
    }
}

/// Shows where two strings first differ.
func firstDifference(_ a: String, _ b: String) -> String {
    let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
    var i = 0
    while i < x.count, i < y.count, x[i] == y[i] { i += 1 }
    func around(_ s: [Unicode.Scalar]) -> String {
        let lo = max(0, i - 40), hi = min(s.count, i + 40)
        return String(String.UnicodeScalarView(s[lo..<hi])).debugDescription
    }
    return "first difference at scalar \(i): got \(around(x)) expected \(around(y))"
}
