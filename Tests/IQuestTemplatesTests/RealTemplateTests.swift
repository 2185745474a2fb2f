import Foundation
import IQuestTemplates
import Testing

/// Templates that must render every fixture conversation byte-for-byte as transformers + jinja2 do
/// (or throw where jinja2 raised; `raise_exception` messages must match exactly).
let supportedTemplates: [String] = [
    "Apertus-8B-Instruct.jinja",
    "Apriel-1.6-15b-Thinker-fixed.jinja",
    "Bielik-11B-v3.0-Instruct.jinja",
    "ByteDance-Seed-OSS.jinja",
    "Cohere2MoE.jinja",
    "CohereForAI-c4ai-command-r-plus-tool_use.jinja",
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja",
    "GLM-4.6.jinja",
    "GLM-4.7-Flash.jinja",
    "GigaChat3-10B-A1.8B.jinja",
    "GigaChat3.1-10B-A1.8B.jinja",
    "HuggingFaceTB-SmolLM3-3B.jinja",
    "Kimi-K2-Instruct.jinja",
    "Kimi-K2-Thinking.jinja",
    "Kimi-K3.jinja",
    "LFM2-8B-A1B.jinja",
    "LFM2.5-8B-A1B.jinja",
    "LFM2.5-Instruct.jinja",
    "MiMo-VL.jinja",
    "MiniMax-M1.jinja",
    "MiniMax-M2.jinja",
    "MiniMax-M3.jinja",
    "Mistral-Small-3.2-24B-Instruct-2506.jinja",
    "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja",
    "NVIDIA-Nemotron-Nano-v2.jinja",
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja",
    "Qwen-QwQ-32B.jinja",
    "Qwen-Qwen2.5-7B-Instruct.jinja",
    "Qwen-Qwen3-0.6B.jinja",
    "Qwen3-Coder.jinja",
    "Qwen3.5-4B.jinja",
    "Reka-Edge.jinja",
    "Spark2.5.jinja",
    "StepFun3.5-Flash.jinja",
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
    "deepseek-ai-DeepSeek-V3.1.jinja",
    "deepseek-ai-DeepSeek-V3.2.jinja",
    "deepseek-ai-DeepSeek-V4-Flash-0731.jinja",
    "deepseek-ai-DeepSeek-V4.jinja",
    "fireworks-ai-llama-3-firefunction-v2.jinja",
    "google-gemma-2-2b-it.jinja",
    "google-gemma-4-31B-it-interleaved.jinja",
    "google-gemma-4-31B-it.jinja",
    "ibm-granite-granite-3.3-2B-Instruct.jinja",
    "ibm-granite-granite-4.0.jinja",
    "ibm-granite-granite-4.1.jinja",
    "inclusionai-ling-3.0-flash.jinja",
    "llama-cpp-deepseek-r1.jinja",
    "llama-cpp-rwkv-world.jinja",
    "meetkai-functionary-medium-v3.1.jinja",
    "meetkai-functionary-medium-v3.2.jinja",
    "meta-llama-Llama-3.1-8B-Instruct.jinja",
    "meta-llama-Llama-3.2-3B-Instruct.jinja",
    "meta-llama-Llama-3.3-70B-Instruct.jinja",
    "microsoft-Phi-3.5-mini-instruct.jinja",
    "mistralai-Ministral-3-14B-Reasoning-2512.jinja",
    "mistralai-Mistral-Nemo-Instruct-2407.jinja",
    "moonshotai-Kimi-K2.jinja",
    "muse-glimmer.jinja",
    "openai-gpt-oss-120b.jinja",
    "openbmb-MiniCPM5-1B.jinja",
    "poolside-Laguna-S-2.1.jinja",
    "poolside-Laguna-XS-2.1.jinja",
    "poolside-Laguna-XS.2.jinja",
    "tencent-Hy3.jinja",
    "unsloth-Apriel-1.5.jinja",
    "unsloth-mistral-Devstral-Small-2507.jinja",
    "upstage-Solar-Open-100B.jinja",
]


struct LoadedFixtures: Sendable {
    let expected: TemplateValue
    let cases: [TemplateValue]
    let bos: String
    let eos: String
}

let loadedFixtures: Result<LoadedFixtures, FixtureError> = {
    do {
        let expected = try Fixtures.json("expected.json")
        guard let cases = try Fixtures.json("conversations.json").arrayValue,
              let bos = expected["bos_token"]?.stringValue, let eos = expected["eos_token"]?.stringValue else {
            return .failure(FixtureError(description: "malformed template fixtures"))
        }
        return .success(LoadedFixtures(expected: expected, cases: cases, bos: bos, eos: eos))
    } catch {
        return .failure(FixtureError(description: "\(error)"))
    }
}()

enum CaseOutcome {
    case match
    case expectedErrorThrown
    case wrongOutput(String)
    case unexpectedError(TemplateError)
    case missingError(String)
    case wrongRaisedMessage(String)
}

/// Renders one fixture case and compares it with jinja2's result.
func check(_ template: ChatTemplate, _ c: TemplateValue, _ expected: Expected, _ fx: LoadedFixtures) -> CaseOutcome {
    var kwargs: [String: TemplateValue] = [:]
    if case .dictionary(let d)? = c["kwargs"] { for (k, v) in d.pairs { kwargs[k] = v } }
    let result: Result<String, TemplateError>
    do {
        result = .success(try template.apply(
            messages: c["messages"]?.arrayValue ?? [],
            tools: c["tools"]?.arrayValue,
            addGenerationPrompt: c["add_generation_prompt"] == .bool(true),
            specialTokens: ["bos_token": fx.bos, "eos_token": fx.eos],
            kwargs: kwargs,
            options: Fixtures.renderOptions))
    } catch let e as TemplateError {
        result = .failure(e)
    } catch {
        result = .failure(TemplateError(kind: .type, message: "non-template error \(error)"))
    }
    switch (expected, result) {
    case (.output(let want), .success(let got)):
        return got == want ? .match : .wrongOutput(firstDifference(got, want))
    case (.output, .failure(let e)):
        return .unexpectedError(e)
    case (.error(let type, let message), .failure(let e)):
        if type == "TemplateError" && (e.kind != .raised || e.message != message) {
            return .wrongRaisedMessage("jinja2 raised \(message.debugDescription), we threw \(e)")
        }
        return .expectedErrorThrown
    case (.error(let type, let message), .success(let got)):
        return .missingError("jinja2 raised \(type): \(message); we rendered \(got.prefix(120).debugDescription)")
    }
}

/// (case id, case, expected) for every fixture case that applies to `name`.
func cases(for name: String, _ fx: LoadedFixtures) throws -> [(String, TemplateValue, Expected)] {
    guard case .dictionary(let results)? = fx.expected["templates"]?[name] else {
        throw FixtureError(description: "no expected results for \(name): rerun tools/gen_template_fixtures.py")
    }
    var out: [(String, TemplateValue, Expected)] = []
    for c in fx.cases {
        guard let id = c["id"]?.stringValue else { throw FixtureError(description: "case without id") }
        guard let r = results[id] else { continue }
        out.append((id, c, try Expected(r)))
    }
    return out
}

@Suite struct RealTemplateTests {
    @Test func everyCachedTemplateIsClassified() throws {
        let dir = try Fixtures.templatesDir()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".jinja") }
        // Every cached template renders as jinja2 does (the last unsupported one was fixed; a
        // template that cannot be rendered must throw, which the cases' error checks cover).
        let listed = Set(supportedTemplates)
        #expect(Set(files) == listed, "templates in \(dir.path) and the lists differ: \(Set(files).symmetricDifference(listed).sorted())")
        #expect(files.count >= 70)
    }

    @Test(arguments: supportedTemplates)
    func rendersLikeJinja2(_ name: String) throws {
        let fx = try loadedFixtures.get()
        let source = try String(contentsOf: Fixtures.templatesDir().appendingPathComponent(name), encoding: .utf8)
        let template = try ChatTemplate(source: source)
        let all = try cases(for: name, fx)
        #expect(all.count >= 28, "fixture has \(all.count) cases for \(name)")
        for (id, c, expected) in all {
            switch check(template, c, expected, fx) {
            case .match, .expectedErrorThrown: break
            case .wrongOutput(let d): Issue.record("\(name) [\(id)]: \(d)")
            case .unexpectedError(let e): Issue.record("\(name) [\(id)]: threw \(e)")
            case .missingError(let d), .wrongRaisedMessage(let d): Issue.record("\(name) [\(id)]: \(d)")
            }
        }
    }

    @Test func qwen3EnableThinkingFalseIsCovered() throws {
        // The fixture must exercise kwargs: Qwen3 with enable_thinking=false inserts an empty think block.
        let fx = try loadedFixtures.get()
        let all = try cases(for: "Qwen-Qwen3-0.6B.jinja", fx)
        guard let (_, _, expected) = all.first(where: { $0.0 == "system_user+gen+nothink" }), case .output(let s) = expected else {
            Issue.record("missing Qwen3 nothink case")
            return
        }
        #expect(s.hasSuffix("<|im_start|>assistant\n<think>\n\n</think>\n\n"))
    }
}
