/// Text ↔ token ids for one model's vocabulary.
public protocol Tokenizer: Sendable {
    var vocabularySize: Int { get }
    var bosTokenId: Int? { get }
    /// Every id that ends generation: EOS first, then EOT/EOM and other end-of-turn tokens.
    var eosTokenIds: [Int] { get }
    /// Whether `encode(_, addSpecialTokens: true)` puts BOS first.
    var addBOS: Bool { get }

    /// `addSpecialTokens` adds BOS/EOS as the model asks. `parseSpecial` turns control-token text
    /// found in `text` (e.g. `<|im_start|>`) into those tokens' ids; without it that text is
    /// tokenized as ordinary characters. User-defined tokens are always matched whole.
    func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int]
    /// Same as `encode(text, addSpecialTokens:, parseSpecial: addSpecialTokens)`: a prompt built
    /// for the model (with special markers) wants both, a plain string wants neither.
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int]
    /// The text of `ids`. Invalid UTF-8 (e.g. a character cut in half) becomes U+FFFD;
    /// ids outside the vocabulary contribute nothing.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String
    /// The raw bytes `id` stands for; control, unknown and user-defined tokens give their literal
    /// text. Empty for ids outside the vocabulary.
    func tokenBytes(_ id: Int) -> [UInt8]
    /// Control and unknown tokens: those `decode(_, skipSpecialTokens: true)` leaves out.
    func isSpecial(_ id: Int) -> Bool
    /// The id of a vocabulary entry, spelled as stored (byte-level BPE: `"Ġhello"`).
    func tokenId(for piece: String) -> Int?
    /// The vocabulary entry of `id` as stored, or nil outside the vocabulary.
    func piece(for id: Int) -> String?
    /// The bytes `id` adds to streamed text when it follows `previous` (nil: not known). Same as
    /// `tokenBytes` except where decoding drops something by context, e.g. the dummy-prefix space
    /// of the first SentencePiece piece after an added token.
    func streamBytes(_ id: Int, after previous: Int?) -> [UInt8]
}

extension Tokenizer {
    public func streamBytes(_ id: Int, after previous: Int?) -> [UInt8] { tokenBytes(id) }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        encode(text, addSpecialTokens: addSpecialTokens, parseSpecial: addSpecialTokens)
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        for id in ids where !(skipSpecialTokens && isSpecial(id)) {
            bytes.append(contentsOf: tokenBytes(id))
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// `tokenizer.ggml.token_type` values.
public enum TokenType: Int, Sendable, Equatable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    case control = 3
    case userDefined = 4
    case unused = 5
    case byte = 6
}

public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case unsupportedModel(String)
    case unsupportedPreTokenizer(String, supported: [String])
    case emptyVocabulary
    case countMismatch(key: String, count: Int, expected: Int)
    case invalidTokenType(index: Int, value: Int)
    case duplicateToken(String, firstId: Int, secondId: Int)
    case emptyToken(index: Int)
    case malformedMerge(index: Int, text: String)
    case tokenIdOutOfRange(key: String, id: Int, vocabularySize: Int)
    case missingRequiredToken(flag: String, idKey: String)
    /// The GGUF reader's error, kept as text so this enum stays `Equatable` across modules.
    case gguf(String)
    /// A SentencePiece vocabulary rebuilt from GGUF metadata failed validation (the message names
    /// the token or key).
    case sentencePiece(String)

    public var description: String {
        switch self {
        case .unsupportedModel(let m):
            return "tokenizer.ggml.model is '\(m)'; supported: 'gpt2' (byte-level BPE), 'llama' (SentencePiece)."
        case .unsupportedPreTokenizer(let p, let supported):
            return "tokenizer.ggml.pre is '\(p)', which is not supported; supported: \(supported.joined(separator: ", "))."
        case .emptyVocabulary:
            return "tokenizer.ggml.tokens is empty."
        case .countMismatch(let key, let count, let expected):
            return "\(key) has \(count) entries but the vocabulary has \(expected) tokens."
        case .invalidTokenType(let index, let value):
            return "token \(index) has token type \(value); valid types are 0...6."
        case .duplicateToken(let text, let a, let b):
            return "token text '\(text)' appears twice in the vocabulary (ids \(a) and \(b))."
        case .emptyToken(let index):
            return "token \(index) has empty text."
        case .malformedMerge(let index, let text):
            return "merge \(index) ('\(text)') is not two tokens separated by a space."
        case .tokenIdOutOfRange(let key, let id, let size):
            return "\(key) is \(id), outside the vocabulary of \(size) tokens."
        case .missingRequiredToken(let flag, let idKey):
            return "\(flag) is true, but \(idKey) is not set."
        case .gguf(let message), .sentencePiece(let message):
            return message
        }
    }
}
