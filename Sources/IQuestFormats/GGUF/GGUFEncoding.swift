/// Little-endian GGUF encoding into a byte buffer.
struct GGUFEncoder {
    var bytes: [UInt8] = []

    mutating func put<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func put(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            put(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func put(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): put(v)
        case .int8(let v): put(v)
        case .uint16(let v): put(v)
        case .int16(let v): put(v)
        case .uint32(let v): put(v)
        case .int32(let v): put(v)
        case .float32(let v): put(v.bitPattern)
        case .bool(let v): put(UInt8(v ? 1 : 0))
        case .string(let v): put(v)
        case .uint64(let v): put(v)
        case .int64(let v): put(v)
        case .float64(let v): put(v.bitPattern)
        case .array(let t, let items):
            put(t.rawValue)
            put(UInt64(items.count))
            for item in items { put(item) }
        }
    }

    mutating func pad(to alignment: Int) {
        let r = bytes.count % alignment
        if r != 0 { bytes.append(contentsOf: repeatElement(0, count: alignment - r)) }
    }

    /// Why `value` cannot be encoded, or nil: every array element must have the array's type.
    static func defect(in value: GGUFValue) -> String? {
        guard case .array(let t, let items) = value else { return nil }
        for (i, item) in items.enumerated() {
            if item.type != t { return "array element \(i) is \(item.typeDescription), the array holds \(t)" }
            if let d = defect(in: item) { return d }
        }
        return nil
    }
}
