import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Generates through any OpenAI-compatible server: `POST {url}/v1/completions` (completion mode,
/// with the stop strings; the text is cut again client-side) or `/v1/chat/completions` (chat
/// mode), `parallel` requests in flight. The model name is `model`, else the first of `/v1/models`.
public final class HTTPCompletionSource: CompletionSource {
    public let baseURL: URL
    public let apiKey: String?
    public let parallel: Int
    public private(set) var model: String?
    public var name: String { model ?? baseURL.absoluteString }
    let session: URLSession

    public init(url: String, model: String?, apiKey: String?, parallel: Int, requestTimeout: Double = 600) throws {
        guard let base = URL(string: url.hasSuffix("/") ? String(url.dropLast()) : url), base.scheme == "http" || base.scheme == "https",
              base.host != nil else {
            throw EvalError("--url must look like http://host:port, got '\(url)'")
        }
        baseURL = base
        self.model = model
        self.apiKey = apiKey
        self.parallel = max(1, parallel)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = requestTimeout
        configuration.timeoutIntervalForResource = requestTimeout
        session = URLSession(configuration: configuration)
    }

    func request(path: String, body: [String: Any]?) throws -> URLRequest {
        var request = URLRequest(url: baseURL.appendingPathComponent(path))
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        }
        return request
    }

    func send(_ request: URLRequest) async throws -> [String: Any] { try await Self.send(request, session: session) }

    static func send(_ request: URLRequest, session: URLSession) async throws -> [String: Any] {
        let (data, response) = try await session.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let text = String(decoding: data.prefix(500), as: UTF8.self)
        guard status == 200 else { throw EvalError("\(request.url?.absoluteString ?? "?") answered HTTP \(status): \(text)") }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw EvalError("\(request.url?.absoluteString ?? "?") answered with something that is not a JSON object: \(text)")
        }
        return object
    }

    func resolveModel() async throws -> String {
        if let model { return model }
        let object = try await send(try request(path: "v1/models", body: nil))
        guard let list = object["data"] as? [[String: Any]], let id = list.first?["id"] as? String else {
            throw EvalError("\(baseURL)/v1/models lists no model; name one with --served-model")
        }
        model = id
        return id
    }

    func body(_ job: GenerationJob, model: String) -> (path: String, body: [String: Any]) {
        var body: [String: Any] = ["model": model, "max_tokens": job.maxTokens, "temperature": Double(job.temperature), "stream": false]
        if job.temperature > 0 { body["top_p"] = Double(job.topP) }
        if let seed = job.seed { body["seed"] = Int(truncatingIfNeeded: seed) }
        switch job.mode {
        case .completion:
            body["prompt"] = job.text
            body["stop"] = job.stopStrings
            return ("v1/completions", body)
        case .chat:
            body["messages"] = [["role": "user", "content": job.text]]
            return ("v1/chat/completions", body)
        }
    }

    static func answer(_ object: [String: Any], mode: PromptMode) throws -> (text: String, finish: String, tokens: Int) {
        guard let choice = (object["choices"] as? [[String: Any]])?.first else { throw EvalError("the server's answer has no choices") }
        let text: String?
        switch mode {
        case .completion: text = choice["text"] as? String
        case .chat: text = (choice["message"] as? [String: Any])?["content"] as? String
        }
        guard let text else { throw EvalError("the server's answer has no \(mode == .completion ? "choices[0].text" : "choices[0].message.content")") }
        let tokens = ((object["usage"] as? [String: Any])?["completion_tokens"] as? Int) ?? 0
        return (text, choice["finish_reason"] as? String ?? "", tokens)
    }

    public func generate(_ jobs: [GenerationJob], progress: @escaping @Sendable (Int) -> Void) async throws -> [GeneratedText] {
        let model = try await resolveModel()
        let prepared = try jobs.map { job in
            let (path, body) = body(job, model: model)
            return (job.mode, try request(path: path, body: body))
        }
        var results = Array(repeating: GeneratedText(text: "", tokens: 0, finishReason: "", seconds: 0), count: jobs.count)
        let session = self.session
        try await withThrowingTaskGroup(of: (Int, GeneratedText).self) { group in
            var next = 0, finished = 0
            func launch() {
                guard next < prepared.count else { return }
                let index = next, (mode, request) = prepared[next]
                next += 1
                group.addTask {
                    let started = Date()
                    let object = try await Self.send(request, session: session)
                    let (text, finish, tokens) = try Self.answer(object, mode: mode)
                    return (index, GeneratedText(text: text, tokens: tokens, finishReason: finish, seconds: Date().timeIntervalSince(started)))
                }
            }
            for _ in 0..<parallel { launch() }
            while let (index, result) = try await group.next() {
                results[index] = result
                finished += 1
                progress(finished)
                launch()
            }
        }
        return results
    }
}
