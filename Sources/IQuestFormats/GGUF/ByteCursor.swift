/// Bounds-checked little-endian reads over a mapped GGUF image.
struct ByteCursor {
    let base: UnsafeRawPointer
    let size: Int
    let path: String
    var position = 0

    var remaining: Int { size - position }

    func error(_ defect: GGUFError.Defect) -> GGUFError { GGUFError(path: path, defect: defect) }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        guard remaining >= MemoryLayout<T>.size else { throw error(.truncated(what())) }
        let v = T(littleEndian: base.loadUnaligned(fromByteOffset: position, as: T.self))
        position += MemoryLayout<T>.size
        return v
    }

    /// A u64 count of items of at least `minItemSize` bytes each, checked against the rest of the file.
    mutating func readCount(minItemSize: Int, _ what: @autoclosure () -> String) throws(GGUFError) -> Int {
        let n = try read(UInt64.self, what())
        guard n <= UInt64(remaining / max(minItemSize, 1)) else { throw error(.countTooLarge(what(), n)) }
        return Int(n)
    }

    /// A GGUF string: u64 byte length, then UTF-8 bytes (no terminator).
    mutating func readString(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let n = try readCount(minItemSize: 1, "length of \(what())")
        let bytes = UnsafeBufferPointer(start: (base + position).assumingMemoryBound(to: UInt8.self), count: n)
        guard let s = String(validating: bytes, as: UTF8.self) else { throw error(.invalidUTF8(what())) }
        position += n
        return s
    }

    mutating func readValueType(_ what: @autoclosure () -> String) throws(GGUFError) -> GGUFValueType {
        let raw = try read(UInt32.self, what())
        guard let t = GGUFValueType(rawValue: raw) else { throw error(.unknownValueType(raw)) }
        return t
    }

    /// Nesting limit for arrays of arrays; bounds recursion depth on hostile input.
    static let maxArrayDepth = 16

    mutating func readValue(_ type: GGUFValueType, key: String, depth: Int = 0) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, "value of '\(key)'"))
        case .int8: return .int8(try read(Int8.self, "value of '\(key)'"))
        case .uint16: return .uint16(try read(UInt16.self, "value of '\(key)'"))
        case .int16: return .int16(try read(Int16.self, "value of '\(key)'"))
        case .uint32: return .uint32(try read(UInt32.self, "value of '\(key)'"))
        case .int32: return .int32(try read(Int32.self, "value of '\(key)'"))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, "value of '\(key)'")))
        case .bool:
            let b = try read(UInt8.self, "value of '\(key)'")
            guard b <= 1 else { throw error(.wrongMetadataType(key: key, expected: "bool (0 or 1, found \(b))")) }
            return .bool(b == 1)
        case .string: return .string(try readString("string value of '\(key)'"))
        case .uint64: return .uint64(try read(UInt64.self, "value of '\(key)'"))
        case .int64: return .int64(try read(Int64.self, "value of '\(key)'"))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, "value of '\(key)'")))
        case .array:
            guard depth < Self.maxArrayDepth else {
                throw error(.countTooLarge("array nesting depth of '\(key)' (limit \(Self.maxArrayDepth))", UInt64(depth + 1)))
            }
            let elementType = try readValueType("array element type of '\(key)'")
            let n = try readCount(minItemSize: elementType.minimumSize, "array length of '\(key)'")
            var values: [GGUFValue] = []
            values.reserveCapacity(n)
            for _ in 0..<n {
                values.append(try readValue(elementType, key: key, depth: depth + 1))
            }
            return .array(elementType, values)
        }
    }
}
