import Foundation
import IQuestTemplates
import Testing

/// Public value model and the transformers-style `apply` convenience. The expected strings here were
/// produced by transformers 5.24 `render_jinja_template` / jinja2 3.1.6 (Python's `json.dumps`,
/// `datetime.strftime`) on the same inputs.
@Suite struct ValueTests {
    @Test func jsonKeepsKeyOrderAndTypes() throws {
        let v = try TemplateValue(json: #"{"zeta": 1, "alpha": [true, null, 1.5, "s\u00e9\ud83d\ude80"], "mid": {"b": 2, "a": 1}}"#)
        guard case .dictionary(let d) = v else { Issue.record("not a dictionary"); return }
        #expect(d.keys == ["zeta", "alpha", "mid"])
        #expect(d["alpha"] == .array([.bool(true), .none, .double(1.5), .string("sé🚀")]))
        let out = try ChatTemplate(source: "{{ v | tojson }}").render(context: ["v": v])
        #expect(out == #"{"zeta": 1, "alpha": [true, null, 1.5, "sé🚀"], "mid": {"b": 2, "a": 1}}"#)
        #expect(throws: TemplateError.self) { try TemplateValue(json: "{\"a\": }") }
        #expect(throws: TemplateError.self) { try TemplateValue(json: "[1] x") }
    }

    @Test func jsonObjectFromFoundation() throws {
        let obj = try JSONSerialization.jsonObject(with: Data(#"{"b": [1, 2.5, true, null, "x"], "a": false}"#.utf8))
        let v = try TemplateValue(jsonObject: obj)
        guard case .dictionary(let d) = v else { Issue.record("not a dictionary"); return }
        #expect(d["b"] == .array([.int(1), .double(2.5), .bool(true), .none, .string("x")]))
        #expect(d["a"] == .bool(false))
    }

    @Test func applyFollowsTransformersConventions() throws {
        let t = try ChatTemplate(source: """
        {{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m | tojson }}|{% endfor %}\
        {{ tools is none }}/{{ documents is none }}/{{ add_generation_prompt }}/{{ enable_thinking }}
        """)
        let out = try t.apply(
            messages: [["role": "assistant", "content": nil, "reasoning_content": "r", "tool_calls": .undefined]],
            specialTokens: ["bos_token": "<s>"],
            kwargs: ["enable_thinking": false])
        // None-valued keys are dropped; reasoning is also exposed as `thinking`, placed first.
        #expect(out == #"<s>assistant:{"thinking": "r", "role": "assistant", "reasoning_content": "r"}|True/True/False/False"#)
    }

    @Test func strftimeNowUsesTheGivenInstant() throws {
        let t = try ChatTemplate(source: "{{ strftime_now('%d %b %Y %H:%M') }}")
        #expect(try t.render(context: [:], options: Fixtures.renderOptions) == "14 Mar 2025 09:26")
    }

    @Test func templateIsReusableAndSendable() async throws {
        let t = try ChatTemplate(source: "{% for x in xs %}{{ x }}{% endfor %}")
        async let a = t.render(context: ["xs": [1, 2]])
        async let b = t.render(context: ["xs": ["a"]])
        let (ra, rb) = try await (a, b)
        #expect(ra == "12")
        #expect(rb == "a")
    }
}
