import IQuestEngine
import IQuestKernels
import IQuestModels
import Testing

@Suite("KV cache planning: what fits is said at start, what does not is refused with the numbers")
struct KVCachePlanTests {
    /// The IQuest-7B shape's KV: 14 layers × 8 kv heads × 128.
    static let iquest7B = KVLayout(layers: 14, kvWidth: 8 * 128, kvHeads: 8)
    static let gib = 1 << 30

    @Test func bytesPerTokenFollowTheTypes() {
        let layout = Self.iquest7B
        #expect(layout.bytesPerToken(types: .f32) == 14 * 2 * 8 * 128 * 4)          // 112 KiB
        #expect(layout.bytesPerToken(types: .standard) == 14 * 2 * 8 * 128 * 2)     // half
        #expect(layout.bytesPerToken(types: KVCacheTypes(.q8_0)) == 14 * 2 * 8 * 136)
        #expect(layout.bytesPerToken(types: KVCacheTypes(.q4_0)) == 14 * 2 * 8 * 72)
        #expect(layout.bytesPerToken(types: KVCacheTypes(keys: .q8_0, values: .f16)) == 14 * 8 * (136 + 256))
    }

    @Test func fullContextFitsWhenTheMemoryIsThere() throws {
        let plan = try KVCachePlan.serving(layout: Self.iquest7B, types: .standard, modelContext: 131_072, requestedContext: 131_072,
                                           poolTokens: nil, poolBytes: nil, available: 64 * Self.gib)
        #expect(plan.contextLength == 131_072)
        #expect(plan.tokens >= 131_072)
        #expect(plan.bytes == plan.tokens * 14 * 2 * 8 * 128 * 2)
        #expect(plan.summary.contains("context 131072 tokens") && plan.summary.contains("f16"))
        #expect(plan.note == nil)
    }

    /// An asked-for context that the pool cannot hold is refused, naming the sizes; q8_0 then fits.
    @Test func explicitContextThatDoesNotFitIsRefused() throws {
        do {
            _ = try KVCachePlan.serving(layout: Self.iquest7B, types: .standard, modelContext: 131_072, requestedContext: 131_072,
                                        poolTokens: nil, poolBytes: 4 * Self.gib, available: 64 * Self.gib)
            Issue.record("a 7.0 GiB context in a 4 GiB pool was accepted")
        } catch let error as GenerationError {
            #expect(error.message.contains("131072 tokens"))
            #expect(error.message.contains("7.00 GiB"))
            #expect(error.message.contains("4.00 GiB"))
            #expect(error.message.contains("q8_0"))
        }
        let q8 = try KVCachePlan.serving(layout: Self.iquest7B, types: KVCacheTypes(.q8_0), modelContext: 131_072,
                                         requestedContext: 131_072, poolTokens: nil, poolBytes: 4 * Self.gib, available: 64 * Self.gib)
        #expect(q8.contextLength == 131_072 && q8.tokens >= 131_072)
    }

    /// Without --max-model-len the context shrinks to what the pool holds, and says so.
    @Test func defaultContextShrinksToThePool() throws {
        let plan = try KVCachePlan.serving(layout: Self.iquest7B, types: .standard, modelContext: 131_072, requestedContext: nil,
                                           poolTokens: nil, poolBytes: nil, available: 8 * Self.gib)
        // Default pool: at most half of the 8 GiB available.
        #expect(plan.bytes <= 4 * Self.gib)
        #expect(plan.contextLength == plan.tokens && plan.contextLength < 131_072 && plan.contextLength > 70_000)
        #expect(plan.note?.contains("131072") == true)
    }

    @Test func poolLargerThanMemoryIsRefused() {
        #expect(throws: GenerationError.self) {
            try KVCachePlan.serving(layout: Self.iquest7B, types: .standard, modelContext: 131_072, requestedContext: 4096,
                                    poolTokens: nil, poolBytes: 32 * Self.gib, available: 16 * Self.gib)
        }
    }

    /// A windowed (Loop) model counts its pass-2 blocks: on a private cache the window plus one
    /// prompt chunk; under the scheduler (which reserves them for a whole prompt) as many again.
    @Test func windowedModelsCountTheSecondPass() throws {
        let loop = KVLayout(layers: 80, kvWidth: 8 * 128, kvHeads: 8, localWindow: 8192)
        let plan = try KVCachePlan.sequence(layout: loop, types: .standard, modelContext: 131_072, requestedContext: 32_768,
                                            available: 256 * Self.gib)
        #expect(plan.blocks == 32_768 / 16 + (8191 + 512 + 15) / 16 + 1)
        // 131072 tokens × 320 KiB = 40 GiB (+ 2.7 GiB of window) do not fit in 32 GiB.
        #expect(throws: GenerationError.self) {
            try KVCachePlan.sequence(layout: loop, types: .standard, modelContext: 131_072, requestedContext: 131_072,
                                     available: 32 * Self.gib)
        }
        let shrunk = try KVCachePlan.sequence(layout: loop, types: .standard, modelContext: 131_072, requestedContext: nil,
                                              available: 32 * Self.gib)
        #expect(shrunk.contextLength < 131_072 && shrunk.bytes <= 16 * Self.gib && shrunk.note != nil)
        let served = try KVCachePlan.serving(layout: loop, types: .standard, modelContext: 131_072, requestedContext: 4096,
                                             poolTokens: nil, poolBytes: 4 * Self.gib, available: 64 * Self.gib)
        #expect(served.blocks >= 2 * 4096 / 16)
    }

    @Test func typesThatCannotHoldTheHeadsAreRefused() {
        let small = KVLayout(layers: 2, kvWidth: 2 * 16, kvHeads: 2)
        #expect(throws: GenerationError.self) {
            try KVCachePlan.sequence(layout: small, types: KVCacheTypes(.q4_0), modelContext: 256, requestedContext: nil, available: nil)
        }
    }
}
