/// Typed metadata accessors. `require*` throw `.missingMetadata` when the key is absent; all of
/// them throw `.wrongMetadataType` when the key holds a different type. The optional variants
/// return nil only when the key is absent.
extension GGUFFile {
    private func fail(_ defect: GGUFError.Defect) -> GGUFError { GGUFError(path: path, defect: defect) }

    private func require(_ key: String) throws(GGUFError) -> GGUFValue {
        guard let v = metadata[key] else { throw fail(.missingMetadata(key)) }
        return v
    }

    private func convert<T>(_ value: GGUFValue, _ key: String, _ expected: String,
                            _ f: (GGUFValue) -> T?) throws(GGUFError) -> T {
        guard let r = f(value) else { throw fail(.wrongMetadataType(key: key, expected: expected)) }
        return r
    }

    private static func strings(_ v: GGUFValue) -> [String]? {
        guard case .array(let t, let items) = v, t == .string || items.isEmpty else { return nil }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .string(let s) = item else { return nil }
            out.append(s)
        }
        return out
    }

    private static func ints(_ v: GGUFValue) -> [Int]? {
        guard let items = v.arrayValues else { return nil }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let i = item.intValue else { return nil }
            out.append(i)
        }
        return out
    }

    private static func floats(_ v: GGUFValue) -> [Float]? {
        guard let items = v.arrayValues else { return nil }
        var out: [Float] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let d = item.doubleValue else { return nil }
            out.append(Float(d))
        }
        return out
    }

    public func requireString(_ key: String) throws(GGUFError) -> String {
        try convert(require(key), key, "string") { $0.stringValue }
    }

    public func requireInt(_ key: String) throws(GGUFError) -> Int {
        try convert(require(key), key, "integer") { $0.intValue }
    }

    public func requireDouble(_ key: String) throws(GGUFError) -> Double {
        try convert(require(key), key, "number") { $0.doubleValue }
    }

    public func requireStringArray(_ key: String) throws(GGUFError) -> [String] {
        try convert(require(key), key, "array of strings", Self.strings)
    }

    public func string(_ key: String) throws(GGUFError) -> String? {
        guard let v = metadata[key] else { return nil }
        return try convert(v, key, "string") { $0.stringValue }
    }

    public func int(_ key: String) throws(GGUFError) -> Int? {
        guard let v = metadata[key] else { return nil }
        return try convert(v, key, "integer") { $0.intValue }
    }

    public func double(_ key: String) throws(GGUFError) -> Double? {
        guard let v = metadata[key] else { return nil }
        return try convert(v, key, "number") { $0.doubleValue }
    }

    public func bool(_ key: String) throws(GGUFError) -> Bool? {
        guard let v = metadata[key] else { return nil }
        return try convert(v, key, "bool") { $0.boolValue }
    }

    public func stringArray(_ key: String) throws(GGUFError) -> [String]? {
        guard let v = metadata[key] else { return nil }
        return try convert(v, key, "array of strings", Self.strings)
    }

    public func intArray(_ key: String) throws(GGUFError) -> [Int]? {
        guard let v = metadata[key] else { return nil }
        return try convert(v, key, "array of integers", Self.ints)
    }

    public func floatArray(_ key: String) throws(GGUFError) -> [Float]? {
        guard let v = metadata[key] else { return nil }
        return try convert(v, key, "array of numbers", Self.floats)
    }
}
