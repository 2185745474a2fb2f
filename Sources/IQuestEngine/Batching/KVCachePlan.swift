import IQuestKernels
import IQuestModels

/// How many tokens of keys/values a run keeps and in what memory, decided once at start and
/// printed so a person can read it: the context length, the storage types, bytes per token and
/// what the pool holds. A context that cannot fit is refused here with the numbers, never
/// discovered at token 90,000.
public struct KVCachePlan: Sendable, Equatable {
    public let types: KVCacheTypes
    public let blockSize: Int
    /// Blocks in the pool (a windowed model takes its pass-2 blocks from the same pool).
    public let blocks: Int
    /// Tokens one sequence may hold (prompt + output).
    public let contextLength: Int
    /// Bytes one position takes in every layer's keys and values.
    public let bytesPerToken: Int
    /// Why the context is shorter than asked, when it is (nil otherwise).
    public let note: String?

    public var bytes: Int { blocks * blockSize * bytesPerToken }
    public var tokens: Int { blocks * blockSize }

    /// One line for the start-up log.
    public var summary: String {
        var line = "context \(contextLength) tokens; KV cache \(types) (\(ByteSize.describe(bytesPerToken)) per token): "
            + "\(blocks) blocks of \(blockSize) = \(tokens) tokens in \(ByteSize.describe(bytes))"
        if let note { line += "; \(note)" }
        return line
    }

    /// Blocks one sequence of `context` tokens needs: its pass-1 blocks, plus for a windowed model
    /// its pass-2 blocks: as many again under the scheduler (a prompt reserves pass-2 blocks for
    /// all its positions while it runs), or, when prompts run in chunks of `chunk` tokens on a
    /// private cache, the window and one chunk.
    static func blocksPerSequence(context: Int, layout: KVLayout, blockSize: Int, chunk: Int? = nil) -> Int {
        let global = (context + blockSize - 1) / blockSize
        guard let window = layout.localWindow else { return global }
        guard let chunk else { return 2 * global }
        return global + min(global, (window - 1 + chunk + blockSize - 1) / blockSize + 1)
    }

    /// Serving: a pool of `poolTokens` tokens or `poolBytes` bytes (else one full context or
    /// 1 GiB, whichever is larger, at most half of `available`), and a context of
    /// `requestedContext` tokens (else the model's, shortened to what the pool holds).
    /// Throws when the types do not suit the model, the pool is larger than the memory
    /// available, or an asked-for context does not fit in the pool.
    public static func serving(layout: KVLayout, types: KVCacheTypes, modelContext: Int, requestedContext: Int?,
                               poolTokens: Int?, poolBytes: Int?, available: Int?,
                               blockSize: Int = KVBlockPool.defaultBlockSize) throws -> KVCachePlan {
        if let reason = types.refusal(headDim: layout.headDim) { throw GenerationError(reason) }
        let perToken = layout.bytesPerToken(types: types), perBlock = perToken * blockSize
        let wanted = min(requestedContext ?? modelContext, modelContext)
        let blocks: Int
        if let poolTokens {
            blocks = (poolTokens + blockSize - 1) / blockSize
        } else if let poolBytes {
            blocks = poolBytes / perBlock
        } else {
            let full = blocksPerSequence(context: wanted, layout: layout, blockSize: blockSize) * perBlock
            var bytes = max(1 << 30, full)
            if let available { bytes = max(perBlock * 4, min(bytes, available / 2)) }
            blocks = bytes / perBlock
        }
        guard blocks >= 1 else {
            throw GenerationError("a KV cache of \(ByteSize.describe(poolBytes ?? 0)) holds no block: one block of \(blockSize) tokens takes \(ByteSize.describe(perBlock)) as \(types)")
        }
        if let available, (poolTokens != nil || poolBytes != nil), blocks * perBlock > available {
            throw GenerationError("the KV cache asked for (\(ByteSize.describe(blocks * perBlock)), \(blocks * blockSize) tokens as \(types)) is more than the \(ByteSize.describe(available)) of memory available")
        }
        let needed = blocksPerSequence(context: wanted, layout: layout, blockSize: blockSize)
        if needed <= blocks {
            return KVCachePlan(types: types, blockSize: blockSize, blocks: blocks, contextLength: wanted, bytesPerToken: perToken, note: nil)
        }
        let fits = layout.localWindow == nil ? blocks * blockSize : blocks / 2 * blockSize
        if requestedContext != nil || fits < 1 {
            throw GenerationError(refusal(context: wanted, perToken: perToken, types: types, holds: fits,
                                          poolBytes: blocks * perBlock, windowed: layout.localWindow != nil))
        }
        return KVCachePlan(types: types, blockSize: blockSize, blocks: blocks, contextLength: fits, bytesPerToken: perToken,
                           note: "the model's \(modelContext)-token context needs \(ByteSize.describe(needed * perBlock)); give --kv-cache-memory or a smaller --kv-cache-type for more")
    }

    /// One sequence (generate, chat, bench): a private pool of exactly one context of
    /// `requestedContext` tokens, its prompt run in chunks of `chunk` (else the model's, shortened to half of `available` if it
    /// would not fit). Throws when the types do not suit the model or an asked-for context is
    /// more than the memory available.
    public static func sequence(layout: KVLayout, types: KVCacheTypes, modelContext: Int, requestedContext: Int?,
                                available: Int?, blockSize: Int = KVBlockPool.defaultBlockSize,
                                chunk: Int = 512) throws -> KVCachePlan {
        if let reason = types.refusal(headDim: layout.headDim) { throw GenerationError(reason) }
        let perToken = layout.bytesPerToken(types: types), perBlock = perToken * blockSize
        let wanted = min(requestedContext ?? modelContext, modelContext)
        let needed = blocksPerSequence(context: wanted, layout: layout, blockSize: blockSize, chunk: chunk)
        guard let available, needed * perBlock > available else {
            return KVCachePlan(types: types, blockSize: blockSize, blocks: needed, contextLength: wanted, bytesPerToken: perToken, note: nil)
        }
        let blocks = available / 2 / perBlock
        // Pass-2 blocks a long sequence holds at most (none for a dense model).
        let local = layout.localWindow.map { (($0 - 1 + chunk + blockSize - 1) / blockSize) + 1 } ?? 0
        let fits = max(0, blocks - local) * blockSize
        if requestedContext != nil || fits < 1 {
            throw GenerationError(refusal(context: wanted, perToken: perToken, types: types, holds: fits,
                                          poolBytes: available, windowed: layout.localWindow != nil, memory: true))
        }
        return KVCachePlan(types: types, blockSize: blockSize,
                           blocks: blocksPerSequence(context: fits, layout: layout, blockSize: blockSize, chunk: chunk),
                           contextLength: fits, bytesPerToken: perToken,
                           note: "the model's \(modelContext)-token context would need \(ByteSize.describe(needed * perBlock)) of KV cache, more than half the \(ByteSize.describe(available)) available; give --ctx-size or a smaller --kv-cache-type")
    }

    private static func refusal(context: Int, perToken: Int, types: KVCacheTypes, holds: Int, poolBytes: Int,
                                windowed: Bool, memory: Bool = false) -> String {
        let need = ByteSize.describe(context * perToken * (windowed ? 2 : 1))
        let other = types.keys == .q4_0 && types.values == .q4_0 ? "" : " or a smaller --kv-cache-type (q8_0 takes about half of f16, q4_0 a quarter)"
        let room = memory ? "the \(ByteSize.describe(poolBytes)) of memory available" : "the KV cache's \(ByteSize.describe(poolBytes))"
        return "a context of \(context) tokens needs \(need) of KV cache as \(types) (\(ByteSize.describe(perToken)) per token\(windowed ? ", twice for the windowed pass" : "")), "
            + "but \(room) holds \(max(0, holds)) tokens; lower the context length, give more memory\(other)"
    }
}
