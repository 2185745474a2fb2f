import Foundation
import IQuestTemplates
import Testing

/// Small templates from tools/gen_template_fixtures.py (SNIPPETS) with jinja2's output or exception.
@Suite struct SnippetTests {
    @Test func snippetsRenderLikeJinja2() throws {
        let fx = try loadedFixtures.get()
        guard let snippets = fx.expected["snippets"]?.arrayValue else { throw FixtureError(description: "no snippets in expected.json") }
        #expect(snippets.count >= 130)
        var errorsExpected = 0
        for s in snippets {
            guard let id = s["id"]?.stringValue, let source = s["template"]?.stringValue else { throw FixtureError(description: "bad snippet \(s)") }
            var context: [String: TemplateValue] = [:]
            if case .dictionary(let d)? = s["context"] { for (k, v) in d.pairs { context[k] = v } }
            let expected = try Expected(s)
            let result: Result<String, Error> = Result { try ChatTemplate(source: source).render(context: context, options: Fixtures.renderOptions) }
            switch (expected, result) {
            case (.output(let want), .success(let got)):
                #expect(got == want, "[\(id)] \(firstDifference(got, want))")
            case (.output(let want), .failure(let e)):
                Issue.record("[\(id)] threw \(e), jinja2 rendered \(want.debugDescription)")
            case (.error(let type, let message), .success(let got)):
                Issue.record("[\(id)] rendered \(got.debugDescription), jinja2 raised \(type): \(message)")
            case (.error(let type, let message), .failure(let e)):
                errorsExpected += 1
                guard let te = e as? TemplateError else {
                    Issue.record("[\(id)] threw a non-TemplateError \(e)")
                    continue
                }
                // Map jinja2's exception class to our kind, so errors are not just "something threw".
                let kinds: [String: TemplateError.Kind] = [
                    "TemplateError": .raised, "TemplateSyntaxError": .syntax, "UndefinedError": .undefined,
                    "SecurityError": .security, "TemplateAssertionError": .assertion, "TemplateRuntimeError": .assertion,
                    "TypeError": .type, "ZeroDivisionError": .type, "ValueError": .type,
                ]
                #expect(kinds[type] == te.kind, "[\(id)] jinja2 raised \(type), we threw \(te)")
                if type == "TemplateError" || type == "SecurityError" || type == "TemplateAssertionError" {
                    #expect(te.message == message, "[\(id)] message \(te.message.debugDescription) vs jinja2 \(message.debugDescription)")
                }
            }
        }
        #expect(errorsExpected >= 20)
    }
}
