import ArgumentParser
import Foundation
import IQuestEngine

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text.")

    @OptionGroup var modelOptions: ModelOptions
    @Argument(help: "Text to tokenize.")
    var text: String
    @Flag(help: "Print a JSON array of {id, piece} objects.")
    var json = false
    @Flag(help: "Turn special-token text such as <|im_start|> into its token.")
    var parseSpecial = false

    func run() throws {
        try failingCleanly {
            let loaded = try LoadedModel.load(path: modelOptions.model, threads: 1, progress: printError)
            let ids = loaded.tokenizer.encode(text, addSpecialTokens: false, parseSpecial: parseSpecial)
            if json {
                struct Entry: Encodable { let id: Int; let piece: String; let text: String }
                let entries = ids.map {
                    Entry(id: $0, piece: loaded.tokenizer.piece(for: $0) ?? "",
                          text: String(decoding: loaded.tokenizer.tokenBytes($0), as: UTF8.self))
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(entries), as: UTF8.self))
            } else {
                print(ids.map(String.init).joined(separator: " "))
            }
        }
    }
}
