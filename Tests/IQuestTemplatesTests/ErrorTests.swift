import Foundation
import IQuestTemplates
import Testing

/// Parse and render errors are thrown with a kind and the line (and column) they come from.
@Suite struct ErrorTests {
    func parseError(_ source: String) -> TemplateError? {
        do {
            _ = try ChatTemplate(source: source)
            return nil
        } catch {
            return error as? TemplateError
        }
    }

    func renderError(_ source: String, _ context: [String: TemplateValue] = [:]) -> TemplateError? {
        do {
            _ = try ChatTemplate(source: source).render(context: context)
            return nil
        } catch {
            return error as? TemplateError
        }
    }

    @Test func unclosedBlockNamesOpeningLine() throws {
        let e = try #require(parseError("line1\n{% for x in xs %}\n{% if x %}\nx\n{% endfor %}\n"))
        #expect(e.kind == .syntax)
        #expect(e.line == 5)
        #expect(e.message.contains("'if'"))
        let e2 = try #require(parseError("a\n{% if true %}\nb\n"))
        #expect(e2.kind == .syntax)
        #expect(e2.message.contains("(opened at line 2)"))
    }

    @Test func unknownTagNamesLine() throws {
        let e = try #require(parseError("a\nb\n  {% frobnicate x %}"))
        #expect(e.kind == .syntax)
        #expect(e.line == 3)
        #expect(e.column == 3)
        #expect(e.message == "Encountered unknown tag 'frobnicate'.")
    }

    @Test func badExpressionNamesLineAndColumn() throws {
        let e = try #require(parseError("ok\n{{ 1 + }}"))
        #expect(e.kind == .syntax)
        #expect(e.line == 2)
        let e2 = try #require(parseError("{{ (1, 2 }}"))
        #expect(e2.kind == .syntax)
        let e3 = try #require(parseError("x\n\n{{ 'unterminated }}"))
        #expect(e3.line == 3)
        let e4 = try #require(parseError("{% set %}"))
        #expect(e4.kind == .syntax)
        #expect(e4.line == 1)
    }

    @Test func unsupportedSyntaxIsRefused() throws {
        #expect(parseError("{% include 'x.jinja' %}")?.kind == .unsupported)
        #expect(parseError("{% for x in xs recursive %}{% endfor %}")?.kind == .unsupported)
        #expect(parseError("{{ x | truncate(3) }}") == nil, "unimplemented filters only fail when executed, like jinja2's runtime lookups")
        #expect(renderError("{{ 'abc' | truncate(3) }}")?.kind == .unsupported)
        #expect(renderError("{{ 'a{:>4}'.format(1) }}")?.kind == .unsupported)
    }

    @Test func unknownFilterOutsideIfIsAParseError() throws {
        let e = try #require(parseError("a\n{{ x | from_json }}"))
        #expect(e.kind == .assertion)
        #expect(e.line == 2)
        // Inside an `if`, jinja2 defers the lookup to when the branch runs.
        #expect(parseError("{% if false %}{{ x | from_json }}{% endif %}") == nil)
        #expect(renderError("{% if true %}\n{{ 1 | from_json }}{% endif %}")?.line == 2)
    }

    @Test func raiseExceptionCarriesTheTemplateMessage() throws {
        let e = try #require(renderError("x\n{{ raise_exception('Only user and assistant roles are supported!') }}"))
        #expect(e.kind == .raised)
        #expect(e.message == "Only user and assistant roles are supported!")
        #expect(e.line == 2)
    }

    @Test func undefinedMisuseThrows() throws {
        #expect(renderError("{{ missing.attr }}")?.kind == .undefined)
        #expect(renderError("{{ missing + 1 }}")?.kind == .undefined)
        #expect(renderError("{{ m.content.strip() }}", ["m": ["role": "user"]])?.message == "'dict object' has no attribute 'content'")
        #expect(renderError("{% set l = [] %}{{ l.append(1) }}")?.kind == .security)
    }

    @Test func runawayMacroRecursionThrows() throws {
        let e = try #require(renderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(0) }}"))
        #expect(e.kind == .type)
        #expect(e.message.contains("recursion"))
    }
}
