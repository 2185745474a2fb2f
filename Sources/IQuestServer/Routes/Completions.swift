import Foundation
import Hummingbird
import IQuestEngine
import Logging

/// `POST /v1/completions` (the legacy text API).
extension OpenAIRoutes {
    func completions(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        let body = try CompletionRequest(try await readJSON(request), defaults: model.samplingDefaults)
        // Held until the response is written; any error below releases it as it goes away.
        let admission = try admit(context)
        if body.echo && body.logprobs != nil {
            throw OpenAIError.invalid("'echo' together with 'logprobs' is not supported (prompt log-probabilities are not computed)",
                                      param: "echo")
        }
        // Each prompt: its ids and the text `echo` repeats.
        var prompts: [(ids: [Int], text: String)] = []
        for prompt in body.prompts {
            switch prompt {
            case .text(var text):
                if let suffix = body.suffix {
                    guard let fim = model.fim else {
                        throw OpenAIError.invalid("'suffix' needs a model with fill-in-the-middle tokens; this one has none", param: "suffix")
                    }
                    text = fim.prefix + text + fim.suffix + suffix + fim.middle
                }
                prompts.append((try backend.tokenize(text, addSpecialTokens: true), text))
            case .ids(let ids):
                if body.suffix != nil {
                    throw OpenAIError.invalid("'suffix' works with text prompts only", param: "suffix")
                }
                // Detokenizing also rejects ids outside the vocabulary (400) before any stream starts.
                let text = try backend.detokenize(ids)
                prompts.append((ids, body.echo ? text : ""))
            }
        }
        var requests: [GenerationRequest] = []
        for p in prompts {
            let budget = try completionBudget(promptCount: p.ids.count, requested: body.fields.maxTokens, model: model)
            var request = GenerationRequest(promptIds: p.ids, sampling: body.fields.sampling, maxTokens: budget,
                                            stopStrings: body.fields.stop, logprobs: body.logprobs != nil,
                                            topLogprobs: body.logprobs ?? 0)
            request.ignoreStopTokens = body.fields.ignoreEOS
            try constrain(&request, format: body.format, logitBias: body.logitBias, forcedTools: nil, startsInReasoning: false)
            request.speculative = body.fields.speculative
            requests.append(request)
        }
        let id = OpenAIShapes.newID("cmpl-")
        let created = Int(Date().timeIntervalSince1970)
        let n = body.fields.n
        let promptTokens = prompts.reduce(0) { $0 + $1.ids.count }
        if body.fields.stream {
            return streamCompletions(body, requests: requests, echoes: prompts.map { body.echo ? $0.text : "" },
                                     id: id, created: created, model: model, promptTokens: promptTokens, admission: admission,
                                     logger: context.logger)
        }
        let routes = self
        let echoes = prompts.map { body.echo ? $0.text : "" }
        let wantLogprobs = body.logprobs != nil
        let generations = requests
        return jsonResponse(route: "/v1/completions", admission: admission, logger: context.logger) { writer, started in
            var choices: [JSONOut] = []
            var completionTokens = 0
            var cached = 0
            for (p, base) in generations.enumerated() {
                for k in 0..<n {
                    var request = base
                    request.sampling = routes.sampling(base.sampling, choice: k)
                    let (tokens, stats) = try await routes.collect(request, admission: admission, body: started, heartbeat: &writer)
                    completionTokens += stats.generatedTokens
                    cached += stats.cachedPromptTokens
                    let text = tokens.map(\.text).joined()
                    let lp: JSONOut = wantLogprobs ? routes.legacyLogprobs(tokens, offset: echoes[p].utf8.count) : .null
                    choices.append(["index": .int(p * n + k), "text": .string(echoes[p] + text), "logprobs": lp,
                                    "finish_reason": .string(OpenAIShapes.finishReason(stats.finishReason, toolCalls: false))])
                }
            }
            return [
                "id": .string(id), "object": "text_completion", "created": .int(created), "model": .string(model.id),
                "system_fingerprint": .string(OpenAIShapes.systemFingerprint), "choices": .array(choices),
                "usage": OpenAIShapes.usage(prompt: promptTokens * n, completion: completionTokens, cached: cached),
            ]
        }
    }

    /// The legacy `logprobs` object: parallel arrays plus byte offsets into the choice's text.
    func legacyLogprobs(_ tokens: [GeneratedToken], offset start: Int) -> JSONOut {
        var offset = start
        var texts: [JSONOut] = [], lps: [JSONOut] = [], tops: [JSONOut] = [], offsets: [JSONOut] = []
        for t in tokens {
            let text = backend.tokenText(t.id)
            texts.append(.string(text))
            lps.append(.float(t.logprob ?? 0))
            tops.append(.object(t.topLogprobs.map { (backend.tokenText($0.id), .float($0.logprob)) }))
            offsets.append(.int(offset))
            offset += t.text.utf8.count
        }
        return ["tokens": .array(texts), "token_logprobs": .array(lps), "top_logprobs": .array(tops), "text_offset": .array(offsets)]
    }

    private func streamCompletions(_ body: CompletionRequest, requests: [GenerationRequest], echoes: [String], id: String,
                                   created: Int, model: ServedModel, promptTokens: Int, admission: Admission, logger: Logger) -> Response {
        let routes = self
        let n = body.fields.n
        return eventStreamResponse(route: "/v1/completions", admission: admission, logger: logger) { writer, started in
            func chunk(_ index: Int, text: String, logprobs: JSONOut = .null, finish: JSONOut = .null) -> JSONOut {
                ["id": .string(id), "object": "text_completion", "created": .int(created), "model": .string(model.id),
                 "system_fingerprint": .string(OpenAIShapes.systemFingerprint),
                 "choices": [["index": .int(index), "text": .string(text), "logprobs": logprobs, "finish_reason": finish]]]
            }
            var completionTokens = 0
            var cached = 0
            for (p, base) in requests.enumerated() {
                for k in 0..<n {
                    let index = p * n + k
                    var request = base
                    request.sampling = routes.sampling(base.sampling, choice: k)
                    if !echoes[p].isEmpty { try await started.write(Self.sse(chunk(index, text: echoes[p])), to: &writer) }
                    var timing = LatencyTracker(metrics: routes.metrics)
                    var finished: GenerationStats?
                    do {
                        for try await event in pumpEvents(routes.backend.generate(request), pingInterval: routes.configuration.pingInterval,
                                                                   admission: admission) {
                            switch event {
                            case .ping: try await started.write(ByteBuffer(string: ": ping\n\n"), to: &writer)
                            case .generation(.started): break
                            case .generation(.token(let t)):
                                timing.token()
                                let lp: JSONOut = request.logprobs ? routes.legacyLogprobs([t], offset: 0) : .null
                                if !t.text.isEmpty || request.logprobs { try await started.write(Self.sse(chunk(index, text: t.text, logprobs: lp)), to: &writer) }
                            case .generation(.finished(let stats)):
                                timing.finished(stats)
                                finished = stats
                            }
                        }
                    } catch {
                        // Client gone (a write failed) or the generation failed: counted as aborted.
                        if finished == nil { timing.aborted() }
                        throw error
                    }
                    guard let stats = finished else { throw OpenAIError.server("the generation ended without a result") }
                    completionTokens += stats.generatedTokens
                    cached += stats.cachedPromptTokens
                    let reason = OpenAIShapes.finishReason(stats.finishReason, toolCalls: false)
                    try await started.write(Self.sse(chunk(index, text: "", finish: .string(reason))), to: &writer)
                }
            }
            if body.fields.includeUsage {
                let usage: JSONOut = ["id": .string(id), "object": "text_completion", "created": .int(created), "model": .string(model.id),
                                      "system_fingerprint": .string(OpenAIShapes.systemFingerprint), "choices": [],
                                      "usage": OpenAIShapes.usage(prompt: promptTokens * n, completion: completionTokens,
                                                                                  cached: cached)]
                try await started.write(Self.sse(usage), to: &writer)
            }
            try await started.write(ByteBuffer(string: "data: [DONE]\n\n"), to: &writer)
        }
    }
}
