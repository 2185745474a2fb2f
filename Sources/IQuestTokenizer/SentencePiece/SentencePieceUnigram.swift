/// sentencepiece's `unigram::Model::EncodeOptimized`: Viterbi over every NORMAL and USER_DEFINED
/// piece that matches (user-defined pieces score `0.1 * (bytes - 1)`), with an unknown node of score
/// `min(normal scores) - 10` for a character no single piece covers. Float arithmetic, tie rules
/// (first candidate kept) and the score re-centering of the reference are reproduced.
struct SentencePieceUnigram: Sendable {
    /// Trie of the pieces over bytes: edge (node << 8 | byte) → child node; node → piece id.
    private let edges: [Int: Int32]
    private let terminal: [Int32]
    private let unkScore: Float

    init(model: SentencePieceModel) {
        var edges: [Int: Int32] = [:]
        var terminal: [Int32] = [-1]
        var minScore = Float.greatestFiniteMagnitude
        for (id, bytes) in model.pieceBytes.enumerated() {
            let type = model.types[id]
            if type == .normal { minScore = min(minScore, model.scores[id]) }
            // The reference's trie holds NORMAL, USER_DEFINED and UNUSED pieces; UNUSED ones are
            // skipped when matched, which is the same as leaving them out.
            guard type == .normal || type == .userDefined || type == .undefined else { continue }
            var node = 0
            for b in bytes {
                let key = node << 8 | Int(b)
                if let child = edges[key] {
                    node = Int(child)
                } else {
                    terminal.append(-1)
                    let child = terminal.count - 1
                    edges[key] = Int32(child)
                    node = child
                }
            }
            terminal[node] = Int32(id)
        }
        self.edges = edges
        self.terminal = terminal
        self.unkScore = minScore - 10
    }

    private struct BestPath {
        var id: Int = -1
        var score: Float = 0
        var startsAt: Int = -1
    }

    func encode(_ text: [UInt8], model: SentencePieceModel) -> [SentencePieceSegment] {
        let size = text.count
        guard size > 0 else { return [] }
        var best = [BestPath](repeating: BestPath(), count: size + 1)
        var startsAt = 0
        var maxFrontier = 0
        let resetThreshold: Float = 100_000
        while startsAt < size {
            var scoreHere = best[startsAt].score
            if scoreHere < -resetThreshold || scoreHere > resetThreshold {
                let offset = scoreHere
                if startsAt <= maxFrontier {
                    for i in startsAt...maxFrontier where i == startsAt || best[i].startsAt != -1 {
                        best[i].score -= offset
                    }
                }
                scoreHere = 0
            }
            var hasSingleNode = false
            let charLength = min(SentencePieceModel.charLength(text[startsAt]), size - startsAt)
            var node = 0
            var keyPos = startsAt
            while keyPos < size {
                guard let child = edges[node << 8 | Int(text[keyPos])] else { break }
                node = Int(child)
                keyPos += 1
                let id = Int(terminal[node])
                guard id >= 0 else { continue }
                maxFrontier = max(maxFrontier, keyPos)
                let length = keyPos - startsAt
                let score: Float = model.types[id] == .userDefined ? Float(0.1 * Double(length - 1)) : model.scores[id]
                let candidate = score + scoreHere
                if best[keyPos].startsAt == -1 || candidate > best[keyPos].score {
                    best[keyPos] = BestPath(id: id, score: candidate, startsAt: startsAt)
                }
                if !hasSingleNode && length == charLength { hasSingleNode = true }
            }
            if !hasSingleNode {
                let end = startsAt + charLength
                maxFrontier = max(maxFrontier, end)
                let candidate = unkScore + scoreHere
                if best[end].startsAt == -1 || candidate > best[end].score {
                    best[end] = BestPath(id: model.unkId ?? -1, score: candidate, startsAt: startsAt)
                }
            }
            startsAt += charLength
        }
        var out: [SentencePieceSegment] = []
        var end = size
        while end > 0 {
            let node = best[end]
            out.append(SentencePieceSegment(range: node.startsAt..<end, id: node.id >= 0 ? node.id : nil))
            end = node.startsAt
        }
        out.reverse()
        return out
    }
}
