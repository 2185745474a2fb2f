/// Misuse of `GGUFWriter` or a failure writing its output.
public enum GGUFWriteError: Error, CustomStringConvertible, Equatable {
    case unsupportedVersion(UInt32)
    case duplicateKey(String)
    case duplicateTensor(String)
    /// A metadata value that cannot be encoded (array element of the wrong type, bad alignment, ...).
    case invalidValue(key: String, reason: String)
    case invalidShape(name: String, reason: String)
    case dataSizeMismatch(name: String, expected: Int, actual: Int)
    /// `finish()` or `write(to:)` before every declared tensor received its data.
    case missingTensorData(String)
    /// A call that does not fit the writer's phase (declare → beginTensorData → write → finish).
    case wrongState(String)
    case io(path: String, message: String)

    public var description: String {
        switch self {
        case .unsupportedVersion(let v): return "GGUFWriter: version \(v) is not supported; use 2 or 3."
        case .duplicateKey(let k): return "GGUFWriter: metadata key '\(k)' was added twice."
        case .duplicateTensor(let n): return "GGUFWriter: tensor '\(n)' was added twice."
        case .invalidValue(let k, let r): return "GGUFWriter: metadata key '\(k)': \(r)."
        case .invalidShape(let n, let r): return "GGUFWriter: tensor '\(n)': \(r)."
        case .dataSizeMismatch(let n, let e, let a):
            return "GGUFWriter: tensor '\(n)' needs \(e) bytes of data but got \(a)."
        case .missingTensorData(let n): return "GGUFWriter: no data was written for tensor '\(n)'."
        case .wrongState(let s): return "GGUFWriter: \(s)."
        case .io(let p, let m): return "\(p): \(m)"
        }
    }
}
