import Foundation
import Hummingbird
import IQuestTemplates

/// `/v1/models`, `/health`, `/metrics`, `/tokenize`, `/detokenize`.
extension OpenAIRoutes {
    func models(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        let names = [model.id] + configuration.modelAliases.filter { $0 != model.id }
        return jsonResponse(["object": "list", "data": .array(names.map { name -> JSONOut in [
            "id": .string(name), "object": "model", "created": .int(startTime), "owned_by": "iquest",
            "max_model_len": .int(model.contextLength),
        ] })])
    }

    /// 200 when ready; 503 with the load progress (or the load error, or while shutting down)
    /// otherwise.
    func health(_ request: Request, context: some RequestContext) async throws -> Response {
        if gate.isDraining { return jsonResponse(["status": "shutting_down"], status: .serviceUnavailable) }
        switch backend.state {
        case .ready: return jsonResponse(["status": "ok"])
        case .loading(let progress): return jsonResponse(["status": "loading", "progress": .string(progress)], status: .serviceUnavailable)
        case .failed(let message): return jsonResponse(["status": "error", "error": .string(message)], status: .serviceUnavailable)
        }
    }

    func metricsText(_ request: Request, context: some RequestContext) async throws -> Response {
        let depth = backend.queueDepth
        metrics.updateQueue(waiting: depth.waiting, running: depth.running)
        metrics.updateEngine(backend.engineStats)
        metrics.updateAdmission(openConnections: connections?.openConnections ?? 0, admitted: gate.held, capacity: gate.capacity)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition())))
    }

    /// vLLM's shape (`prompt` or `messages`, → `tokens`, `count`, `max_model_len`); llama.cpp's
    /// `content` is accepted too.
    func tokenize(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try readyModel()
        let body = try await readJSON(request)
        let addSpecial = try body.bool("add_special_tokens") ?? true
        let text: String
        if let prompt = try body.string("prompt") ?? body.string("content") {
            text = prompt
        } else if body.value("messages") != nil {
            text = try render(ChatRequest(body, defaults: model.samplingDefaults).turn).prompt
        } else {
            throw OpenAIError.invalid("send 'prompt' (a string) or 'messages'", param: "prompt")
        }
        let ids = try backend.tokenize(text, addSpecialTokens: addSpecial)
        return jsonResponse(["count": .int(ids.count), "max_model_len": .int(model.contextLength),
                             "tokens": .array(ids.map { .int($0) })])
    }

    func detokenize(_ request: Request, context: some RequestContext) async throws -> Response {
        _ = try readyModel()
        let body = try await readJSON(request)
        guard let raw = try body.array("tokens") else { throw OpenAIError.invalid("'tokens' is required", param: "tokens") }
        var ids: [Int] = []
        for item in raw {
            guard case .int(let id) = item else { throw OpenAIError.invalid("'tokens' must hold integers", param: "tokens") }
            ids.append(id)
        }
        let text = try backend.detokenize(ids)
        return jsonResponse(["prompt": .string(text), "content": .string(text)])
    }
}

private let startTime = Int(Date().timeIntervalSince1970)
