/// Prompt-lookup drafting: find the latest earlier place where the sequence's last n tokens
/// occurred (n from `ngramMax` down to `ngramMin`, longest first, so the most specific context
/// wins) and propose the tokens that followed it there. Code edits copy their input, so the
/// continuation of a matched n-gram is usually what the model writes next.
public enum NGramDrafter {
    /// Up to `count` tokens continuing `tokens` (prompt + output so far); empty when no suffix
    /// of length ≥ ngramMin occurs earlier. O(tokens · n) per call: a few microseconds for a few
    /// thousand tokens, nothing next to a forward.
    public static func draft(_ tokens: [Int], count: Int, ngramMax: Int, ngramMin: Int) -> [Int] {
        let length = tokens.count
        guard count > 0, length >= 2 else { return [] }
        return tokens.withUnsafeBufferPointer { t -> [Int] in
            for n in stride(from: min(ngramMax, length - 1), through: max(1, ngramMin), by: -1) {
                let suffix = length - n
                // Latest start j < suffix whose n tokens equal the suffix's.
                var j = suffix - 1
                while j >= 0 {
                    var equal = true
                    for i in 0..<n where t[j + i] != t[suffix + i] {
                        equal = false
                        break
                    }
                    if equal { break }
                    j -= 1
                }
                guard j >= 0 else { continue }
                let from = j + n
                let to = min(from + count, length)
                if from < to { return Array(t[from..<to]) }
            }
            return []
        }
    }
}
