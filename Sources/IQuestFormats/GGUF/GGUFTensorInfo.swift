/// One tensor's directory entry.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml order: innermost (contiguous) dimension first.
    public let shape: [Int]
    public let type: GGMLType
    /// Byte offset relative to the start of the data section.
    public let offset: Int
    public let byteCount: Int

    public init(name: String, shape: [Int], type: GGMLType, offset: Int, byteCount: Int) {
        self.name = name
        self.shape = shape
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
    }

    public var elementCount: Int { shape.reduce(1, *) }
}
