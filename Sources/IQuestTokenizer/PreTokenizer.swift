/// The pre-tokenizer named by `tokenizer.ggml.pre`: a sequence of split rules applied in turn,
/// each one re-splitting every piece the previous ones produced (HF's `Sequence` of `Split`s).
///
/// Names and rule sets follow llama.cpp's `llama-vocab.cpp`, which groups many model names under
/// one regex set (e.g. "smollm" is the StarCoder set: digits alone, then the GPT-2 regex).
struct PreTokenizer: Sendable {
    let name: String
    let rules: [SplitRule]
    /// Llama 3's BPE model has `ignore_merges`: a word that is itself a token skips the merges.
    let ignoreMerges: Bool
    /// Whether llama.cpp adds BOS for this pre-tokenizer when the GGUF has no `add_bos_token`.
    let defaultAddBOS: Bool

    /// Families and the names llama.cpp maps to them (only those whose regex sets are supported).
    private static let families: [(names: [String], rules: [SplitRule], ignoreMerges: Bool, addBOS: Bool)] = [
        (["gpt-2", "phi-2", "mpt", "olmo", "exaone4", "mellum"], [.gpt2], false, false),
        (["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"],
         [.eachNumber, .gpt2], false, false),
        (["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"],
         [.llama3(maxDigits: 3)], true, true),
        (["dbrx", "smaug-bpe"], [.llama3(maxDigits: 3)], false, false),
        (["qwen2", "deepseek-r1-qwen", "megrez", "stablelm2"], [.llama3(maxDigits: 1)], false, false),
        (["deepseek-coder"],
         [.eachNewline, .spaceThenLetters, .spaceThenPunctuation, .run(DeepSeekSets.cjk), .eachNumber],
         false, false),
        (["deepseek-llm"],
         [.eachNewline, .spaceThenRun(DeepSeekSets.casedLetters), .spaceThenRun(DeepSeekSets.punctuation),
          .trailingWhitespace, .run(DeepSeekSets.cjk), .numberRun],
         false, false),
        (["falcon"], [.punctuationAndSymbols(backtick: true), .gpt2, .asciiDigitTriple], false, false),
        // llama.cpp's fallback for GGUFs converted before `tokenizer.ggml.pre` existed.
        (["default"], [.punctuationAndSymbols(backtick: false), .gpt2, .numberRun, .asciiDigitTriple], false, false),
    ]

    static let supportedNames: [String] = families.flatMap(\.names)

    init(name: String) throws(TokenizerError) {
        guard let family = Self.families.first(where: { $0.names.contains(name) }) else {
            throw .unsupportedPreTokenizer(name, supported: Self.supportedNames)
        }
        self.name = name
        self.rules = family.rules
        self.ignoreMerges = family.ignoreMerges
        self.defaultAddBOS = family.addBOS
    }

    /// Pieces of `text` as ranges of scalar indices, in order, covering all of it.
    func split(_ text: ScalarText) -> [Range<Int>] {
        guard text.count > 0 else { return [] }
        var pieces = [0..<text.count]
        var next: [Range<Int>] = []
        for rule in rules {
            next.removeAll(keepingCapacity: true)
            for piece in pieces { rule.split(text, piece, into: &next) }
            swap(&pieces, &next)
        }
        return pieces
    }
}

/// Literal character classes of DeepSeek's tokenizer.json regexes.
enum DeepSeekSets {
    /// `[一-龥ࠀ-一가-퟿]`
    static let cjk = ScalarSet([0x4E00...0x9FA5, 0x0800...0x4E00, 0xAC00...0xD7FF])

    /// `[!-/:-~！-／：-～‘-‟　-。]`
    static let punctuation = ScalarSet([
        0x21...0x2F, 0x3A...0x7E, 0xFF01...0xFF0F, 0xFF1A...0xFF5E, 0x2018...0x201F, 0x3000...0x3002,
    ])

    /// DeepSeek-LLM's class of cased letters (Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee,
    /// Glagolitic, Coptic, Deseret, Osage, ...), transcribed range by range from its regex.
    static let casedLetters = ScalarSet([
        0x41...0x5A, 0x61...0x7A, 0xB5...0xB5, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x1BA, 0x1BC...0x1BF,
        0x1C4...0x293, 0x295...0x2AF, 0x370...0x373, 0x376...0x377, 0x37B...0x37D, 0x37F...0x37F,
        0x386...0x386, 0x388...0x38A, 0x38C...0x38C, 0x38E...0x3A1, 0x3A3...0x3F5, 0x3F7...0x481,
        0x48A...0x52F, 0x531...0x556, 0x10A0...0x10C5, 0x13A0...0x13F5, 0x13F8...0x13FD,
        0x1C90...0x1CBA, 0x1CBD...0x1CBF, 0x1D00...0x1D2B, 0x1D6B...0x1D77, 0x1D79...0x1D9A,
        0x1E00...0x1F15, 0x1F18...0x1F1D, 0x1F20...0x1F45, 0x1F48...0x1F4D, 0x1F50...0x1F57,
        0x1F59...0x1F59, 0x1F5B...0x1F5B, 0x1F5D...0x1F5D, 0x1F5F...0x1F7D, 0x1F80...0x1FB4,
        0x1FB6...0x1FBC, 0x1FBE...0x1FBE, 0x1FC2...0x1FC4, 0x1FC6...0x1FCC, 0x1FD0...0x1FD3,
        0x1FD6...0x1FDB, 0x1FE0...0x1FEC, 0x1FF2...0x1FF4, 0x1FF6...0x1FFC, 0x2102...0x2102,
        0x2107...0x2107, 0x210A...0x2113, 0x2115...0x2115, 0x2119...0x211D, 0x2124...0x2124,
        0x2126...0x2126, 0x2128...0x2128, 0x212A...0x212D, 0x212F...0x2134, 0x2139...0x2139,
        0x213C...0x213F, 0x2145...0x2149, 0x214E...0x214E, 0x2183...0x2184, 0x2C00...0x2C7B,
        0x2C7E...0x2CE4, 0x2CEB...0x2CEE, 0x2CF2...0x2CF3, 0xA640...0xA66D, 0xA680...0xA69B,
        0xA722...0xA76F, 0xA771...0xA787, 0xA78B...0xA78E, 0xAB70...0xABBF, 0xFB00...0xFB06,
        0xFB13...0xFB17, 0xFF21...0xFF3A, 0xFF41...0xFF5A, 0x10400...0x1044F, 0x104B0...0x104D3,
        0x104D8...0x104FB, 0x10C80...0x10CB2, 0x10CC0...0x10CF2, 0x118A0...0x118DF,
        0x1E900...0x1E943,
    ])
}
