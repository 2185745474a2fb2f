/// A memory-mapped GGUF (v2/v3, little-endian) file. Immutable after init; tensor data is
/// served zero-copy from the mapping, which lives as long as this object.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    public let alignment: Int
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// Absolute file offset of the tensor data section.
    public let dataOffset: Int
    public var fileSize: Int { mapping.size }

    private let mapping: MappedFile
    private let tensorIndex: [String: Int]

    public static let magic: UInt32 = 0x4655_4747  // "GGUF" read as little-endian u32
    public static let defaultAlignment = 32

    public init(path: String) throws(GGUFError) {
        let mapping = try MappedFile(path: path)
        var cur = ByteCursor(base: mapping.base, size: mapping.size, path: path)

        guard try cur.read(UInt32.self, "the header (magic)") == Self.magic else { throw cur.error(.badMagic) }
        let version = try cur.read(UInt32.self, "the header (version)")
        guard version == 2 || version == 3 else { throw cur.error(.unsupportedVersion(version)) }
        let tensorCountRaw = try cur.read(UInt64.self, "the header (tensor count)")
        let kvCountRaw = try cur.read(UInt64.self, "the header (metadata count)")
        // Minimum encodings: kv = key length 8 + type 4 + 1-byte value; tensor info = name length 8 +
        // n_dims 4 + type 4 + offset 8.
        let minKV = 13, minTensorInfo = 24
        guard kvCountRaw <= UInt64(cur.remaining / minKV) else {
            throw cur.error(.countTooLarge("metadata key/value count", kvCountRaw))
        }
        guard tensorCountRaw <= UInt64(cur.remaining / minTensorInfo) else {
            throw cur.error(.countTooLarge("tensor count", tensorCountRaw))
        }

        var keys: [String] = []
        keys.reserveCapacity(Int(kvCountRaw))
        var metadata: [String: GGUFValue] = [:]
        metadata.reserveCapacity(Int(kvCountRaw))
        for i in 0..<Int(kvCountRaw) {
            let key = try cur.readString("metadata key #\(i)")
            let type = try cur.readValueType("value type of '\(key)'")
            let value = try cur.readValue(type, key: key)
            guard metadata.updateValue(value, forKey: key) == nil else { throw cur.error(.duplicateKey(key)) }
            keys.append(key)
        }

        var alignment = Self.defaultAlignment
        if let a = metadata["general.alignment"] {
            guard let v = a.intValue else {
                throw cur.error(.wrongMetadataType(key: "general.alignment", expected: "integer"))
            }
            guard v > 0, v & (v - 1) == 0 else { throw cur.error(.badAlignment(UInt64(truncatingIfNeeded: v))) }
            alignment = v
        }

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(Int(tensorCountRaw))
        var index: [String: Int] = [:]
        index.reserveCapacity(Int(tensorCountRaw))
        for i in 0..<Int(tensorCountRaw) {
            let info = try Self.readTensorInfo(&cur, number: i)
            guard index.updateValue(i, forKey: info.name) == nil else { throw cur.error(.duplicateTensor(info.name)) }
            tensors.append(info)
        }

        let (padded, overflow) = cur.position.addingReportingOverflow(alignment - 1)
        let dataOffset = overflow ? Int.max : padded / alignment * alignment
        for t in tensors {
            guard t.offset % alignment == 0 else { throw cur.error(.misalignedTensor(t.name)) }
            let available = mapping.size - min(dataOffset, mapping.size)
            guard dataOffset <= mapping.size, t.offset <= available, t.byteCount <= available - t.offset else {
                throw cur.error(.tensorDataOutOfBounds(t.name))
            }
        }

        self.path = path
        self.version = version
        self.alignment = alignment
        self.metadataKeys = keys
        self.metadata = metadata
        self.tensors = tensors
        self.tensorIndex = index
        self.dataOffset = dataOffset
        self.mapping = mapping
    }

    private static func readTensorInfo(_ cur: inout ByteCursor, number i: Int) throws(GGUFError) -> GGUFTensorInfo {
        let name = try cur.readString("name of tensor #\(i)")
        let nDims = try cur.read(UInt32.self, "dimension count of tensor '\(name)'")
        guard nDims <= 4 else { throw cur.error(.countTooLarge("dimension count of tensor '\(name)' (at most 4)", UInt64(nDims))) }
        var shape: [Int] = []
        shape.reserveCapacity(Int(nDims))
        var elements = 1
        for _ in 0..<Int(nDims) {
            let d = try cur.read(UInt64.self, "shape of tensor '\(name)'")
            guard let dim = Int(exactly: d) else {
                throw cur.error(.countTooLarge("a dimension of tensor '\(name)'", d))
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw cur.error(.countTooLarge("a dimension of tensor '\(name)'", d)) }
            elements = product
            shape.append(dim)
        }
        let rawType = try cur.read(UInt32.self, "type of tensor '\(name)'")
        guard let type = GGMLType(rawValue: rawType) else {
            throw cur.error(.unknownTensorType(name: name, type: rawType))
        }
        let rawOffset = try cur.read(UInt64.self, "data offset of tensor '\(name)'")
        let ne0 = shape.first ?? 1
        guard ne0 % type.blockSize == 0, let bytes = type.byteCount(elements: elements) else {
            throw cur.error(.shapeTypeMismatch(
                "tensor '\(name)' has ne0 = \(ne0), not a multiple of the \(type.name) block size \(type.blockSize)"))
        }
        guard let offset = Int(exactly: rawOffset) else { throw cur.error(.tensorDataOutOfBounds(name)) }
        return GGUFTensorInfo(name: name, shape: shape, type: type, offset: offset, byteCount: bytes)
    }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor's bytes inside the mapping (zero copy); valid while this file object lives.
    /// `info` must come from this file.
    public func data(for info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        precondition(info.offset >= 0 && info.byteCount >= 0
                     && info.offset <= mapping.size - dataOffset
                     && info.byteCount <= mapping.size - dataOffset - info.offset,
                     "tensor '\(info.name)' is not inside \(path)")
        return UnsafeRawBufferPointer(start: mapping.base + dataOffset + info.offset, count: info.byteCount)
    }

    public var architecture: String? { metadata["general.architecture"]?.stringValue }
}
