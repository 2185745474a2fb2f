import Foundation

/// A parsed JSON file with typed, failing accessors whose errors name the file and the key.
struct JSONFile {
    let path: String
    let root: [String: Any]

    init(path: String) throws(TokenizerLoadError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerLoadError(file: path, "cannot read the file: \(error.localizedDescription)")
        }
        try self.init(data: data, path: path)
    }

    init(data: Data, path: String) throws(TokenizerLoadError) {
        self.path = path
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw TokenizerLoadError(file: path, "not valid JSON (\(error.localizedDescription)).")
        }
        guard let object = parsed as? [String: Any] else {
            throw TokenizerLoadError(file: path, "the top level is not a JSON object.")
        }
        self.root = object
    }

    func fail(_ message: String) -> TokenizerLoadError { TokenizerLoadError(file: path, message) }

    static func isNull(_ value: Any?) -> Bool { value == nil || value is NSNull }

    func bool(_ key: String, in object: [String: Any]? = nil, context: String = "") throws(TokenizerLoadError) -> Bool? {
        let value = (object ?? root)[key]
        if Self.isNull(value) { return nil }
        guard let b = value as? Bool else { throw fail("\(context)'\(key)' is not true or false.") }
        return b
    }

    func string(_ key: String, in object: [String: Any]? = nil, context: String = "") throws(TokenizerLoadError) -> String? {
        let value = (object ?? root)[key]
        if Self.isNull(value) { return nil }
        guard let s = value as? String else { throw fail("\(context)'\(key)' is not a string.") }
        return s
    }

    func int(_ value: Any?, _ what: String) throws(TokenizerLoadError) -> Int {
        if let n = value as? Int, !(value is Bool) { return n }
        if let d = value as? Double, d == d.rounded(), abs(d) < 1e15 { return Int(d) }
        throw fail("\(what) is not an integer.")
    }

    func object(_ key: String, in object: [String: Any]? = nil, context: String = "") throws(TokenizerLoadError) -> [String: Any]? {
        let value = (object ?? root)[key]
        if Self.isNull(value) { return nil }
        guard let o = value as? [String: Any] else { throw fail("\(context)'\(key)' is not an object.") }
        return o
    }

    func array(_ key: String, in object: [String: Any]? = nil, context: String = "") throws(TokenizerLoadError) -> [Any]? {
        let value = (object ?? root)[key]
        if Self.isNull(value) { return nil }
        guard let a = value as? [Any] else { throw fail("\(context)'\(key)' is not an array.") }
        return a
    }

    /// A special-token field written as a string or as `{"content": ...}` (HF's AddedToken form).
    func tokenContent(_ key: String, in object: [String: Any]? = nil) throws(TokenizerLoadError) -> String? {
        let value = (object ?? root)[key]
        if Self.isNull(value) { return nil }
        if let s = value as? String { return s }
        if let o = value as? [String: Any], let s = o["content"] as? String { return s }
        throw fail("'\(key)' is neither a string nor an object with a string 'content'.")
    }

    /// An id or a list of ids (`eos_token_id` in generation_config.json).
    func intList(_ key: String) throws(TokenizerLoadError) -> [Int]? {
        let value = root[key]
        if Self.isNull(value) { return nil }
        if let list = value as? [Any] {
            var out: [Int] = []
            for (i, v) in list.enumerated() { out.append(try int(v, "'\(key)'[\(i)]")) }
            return out
        }
        return [try int(value, "'\(key)'")]
    }
}
