/// A tokenizer file (`tokenizer.model`, `tokenizer.json`, `tokenizer_config.json`, ...) that cannot be
/// used: what is wrong and where.
public struct TokenizerLoadError: Error, Equatable, CustomStringConvertible {
    /// The file (path or name) the problem is in.
    public let file: String
    public let message: String

    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
