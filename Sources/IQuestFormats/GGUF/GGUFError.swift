/// A structural defect in a GGUF file, naming the file.
public struct GGUFError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let defect: Defect

    public enum Defect: Equatable, Sendable {
        case badMagic
        case unsupportedVersion(UInt32)
        /// The file ended while reading the named item.
        case truncated(String)
        /// A count (named) that cannot fit in the bytes that remain.
        case countTooLarge(String, UInt64)
        case unknownValueType(UInt32)
        case unknownTensorType(name: String, type: UInt32)
        case tensorDataOutOfBounds(String)
        case shapeTypeMismatch(String)
        case misalignedTensor(String)
        case duplicateTensor(String)
        case duplicateKey(String)
        /// The named string is not valid UTF-8.
        case invalidUTF8(String)
        case missingMetadata(String)
        case wrongMetadataType(key: String, expected: String)
        case badAlignment(UInt64)
        case notAFile
        case ioError(String)
    }

    public init(path: String, defect: Defect) {
        self.path = path
        self.defect = defect
    }

    public var description: String { "\(path): \(sentence)" }

    private var sentence: String {
        switch defect {
        case .badMagic:
            return "not a GGUF file (the first 4 bytes are not \"GGUF\")."
        case .unsupportedVersion(let v):
            let hint = v > 0xFFFF && v.byteSwapped <= 3 ? " (a big-endian file?)" : ""
            return "GGUF version \(v) is not supported\(hint); only versions 2 and 3 are."
        case .truncated(let what):
            return "file is truncated: it ends while reading \(what)."
        case .countTooLarge(let what, let n):
            return "\(what) is \(n), which cannot fit in the rest of the file (corrupt count)."
        case .unknownValueType(let t):
            return "unknown metadata value type \(t)."
        case .unknownTensorType(let name, let t):
            return "tensor '\(name)' has unsupported ggml type \(t)."
        case .tensorDataOutOfBounds(let name):
            return "data of tensor '\(name)' extends past the end of the file (truncated data?)."
        case .shapeTypeMismatch(let detail):
            return "tensor shape does not fit its type: \(detail)."
        case .misalignedTensor(let name):
            return "data offset of tensor '\(name)' is not a multiple of the file's alignment."
        case .duplicateTensor(let name):
            return "tensor name '\(name)' appears more than once."
        case .duplicateKey(let key):
            return "metadata key '\(key)' appears more than once."
        case .invalidUTF8(let what):
            return "\(what) is not valid UTF-8."
        case .missingMetadata(let key):
            return "required metadata key '\(key)' is missing."
        case .wrongMetadataType(let key, let expected):
            return "metadata key '\(key)' does not hold the expected \(expected)."
        case .badAlignment(let a):
            return "general.alignment is \(a); it must be a power of two."
        case .notAFile:
            return "not a regular file (a directory or device?)."
        case .ioError(let message):
            return message
        }
    }
}
