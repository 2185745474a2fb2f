import Foundation

/// A checkpoint directory's `config.json` (merged with `generation_config.json` for stop ids),
/// with typed accessors whose errors name the file and key.
public struct HFConfig: @unchecked Sendable {
    public let path: String
    let values: [String: Any]
    /// `eos_token_id` from config.json and generation_config.json (int or list), merged in order.
    public let eosTokenIds: [Int]
    public let bosTokenId: Int?

    public init(directory: String) throws(ModelError) {
        path = (directory as NSString).appendingPathComponent("config.json")
        guard let v = try Self.readObject(path, required: true) else {
            throw ModelError("\(path): missing")
        }
        values = v
        let generation = try Self.readObject((directory as NSString).appendingPathComponent("generation_config.json"),
                                             required: false) ?? [:]
        var eos: [Int] = []
        for source in [values, generation] {
            for id in Self.intList(source["eos_token_id"]) where !eos.contains(id) { eos.append(id) }
        }
        eosTokenIds = eos
        bosTokenId = Self.intList(values["bos_token_id"]).first ?? Self.intList(generation["bos_token_id"]).first
    }

    private static func readObject(_ path: String, required: Bool) throws(ModelError) -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: path) else {
            if required { throw ModelError("\(path): missing; a checkpoint directory needs config.json") }
            return nil
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ModelError("\(path): cannot be read")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError("\(path): not a valid JSON object")
        }
        return object
    }

    private static func intList(_ value: Any?) -> [Int] {
        if let n = value as? NSNumber, !(value is Bool) { return [n.intValue] }
        if let list = value as? [Any] { return list.compactMap { ($0 as? NSNumber)?.intValue } }
        return []
    }

    /// The value of `key`, nil when absent or JSON null.
    public func raw(_ key: String) -> Any? {
        guard let v = values[key], !(v is NSNull) else { return nil }
        return v
    }

    public func int(_ key: String) throws(ModelError) -> Int? {
        guard let v = raw(key) else { return nil }
        guard let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded() else {
            throw ModelError("\(path): '\(key)' should be an integer, found \(v)")
        }
        return n.intValue
    }

    public func requireInt(_ key: String) throws(ModelError) -> Int {
        guard let v = try int(key) else { throw ModelError("\(path): required key '\(key)' is missing") }
        return v
    }

    public func double(_ key: String) throws(ModelError) -> Double? {
        guard let v = raw(key) else { return nil }
        guard let n = v as? NSNumber else { throw ModelError("\(path): '\(key)' should be a number, found \(v)") }
        return n.doubleValue
    }

    public func bool(_ key: String) throws(ModelError) -> Bool? {
        guard let v = raw(key) else { return nil }
        guard let b = v as? Bool else { throw ModelError("\(path): '\(key)' should be true or false, found \(v)") }
        return b
    }

    public func string(_ key: String) -> String? { raw(key) as? String }

    public var architectures: [String] { (raw("architectures") as? [Any])?.compactMap { $0 as? String } ?? [] }
}
