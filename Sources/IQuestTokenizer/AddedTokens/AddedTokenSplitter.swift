/// A token added on top of a model's vocabulary (HF `added_tokens_decoder` / `added_tokens`):
/// always one id, matched whole in the text, decoded to its literal content.
public struct AddedToken: Sendable, Equatable {
    public let id: Int
    public let content: String
    /// Special tokens are dropped by `skip_special_tokens` and matched only when parsing specials.
    public let special: Bool

    public init(id: Int, content: String, special: Bool) {
        self.id = id
        self.content = content
        self.special = special
    }
}

/// Splits text on added tokens the way HF does: scanning left to right, at each position the longest
/// added token that starts there is taken; the text between tokens is left for the model.
struct AddedTokenSplitter: Sendable {
    enum Fragment: Equatable {
        case text(Range<Int>)
        case token(Int)
    }

    private struct Entry {
        let bytes: [UInt8]
        let id: Int
        let special: Bool
    }

    /// Per first byte, longest first.
    private let byFirstByte: [[Entry]]
    let isEmpty: Bool

    init(_ tokens: [AddedToken]) {
        var table = [[Entry]](repeating: [], count: 256)
        for t in tokens {
            let bytes = Array(t.content.utf8)
            guard !bytes.isEmpty else { continue }
            table[Int(bytes[0])].append(Entry(bytes: bytes, id: t.id, special: t.special))
        }
        for i in 0..<256 { table[i].sort { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id } }
        byFirstByte = table
        isEmpty = tokens.isEmpty
    }

    /// `includeSpecial` false leaves special tokens' text to the model (HF `split_special_tokens`).
    func split(_ text: [UInt8], includeSpecial: Bool) -> [Fragment] {
        var out: [Fragment] = []
        var pending = 0
        var i = 0
        while i < text.count {
            if let e = match(text, at: i, includeSpecial: includeSpecial) {
                if pending < i { out.append(.text(pending..<i)) }
                out.append(.token(e.id))
                i += e.bytes.count
                pending = i
            } else {
                i += 1
            }
        }
        if pending < text.count { out.append(.text(pending..<text.count)) }
        return out
    }

    private func match(_ text: [UInt8], at i: Int, includeSpecial: Bool) -> Entry? {
        outer: for e in byFirstByte[Int(text[i])] where (includeSpecial || !e.special) && i + e.bytes.count <= text.count {
            for j in 1..<e.bytes.count where text[i + j] != e.bytes[j] { continue outer }
            return e
        }
        return nil
    }
}
