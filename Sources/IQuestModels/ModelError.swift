/// Why a checkpoint cannot be run. Thrown before any weight is touched whenever possible; the
/// message names the file and the offending key or tensor.
public struct ModelError: Error, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
