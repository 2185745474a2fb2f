/// Every failure while parsing or rendering a template.
public struct TemplateError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// The template's source is malformed (jinja2's TemplateSyntaxError).
        case syntax
        /// The template uses something this engine does not implement; it never guesses.
        case unsupported
        /// An undefined value was used where jinja2 raises (UndefinedError).
        case undefined
        /// An operation on the wrong kind of value (Python's TypeError/ValueError/ZeroDivisionError).
        case type
        /// The sandbox refuses the operation (jinja2's SecurityError), e.g. `list.append`.
        case security
        /// Unknown filter or test (jinja2's TemplateAssertionError).
        case assertion
        /// The template called `raise_exception(message)`; `message` is the template's own text.
        case raised
    }

    public var kind: Kind
    public var message: String
    /// 1-based line in the template source, when known.
    public var line: Int?
    public var column: Int?

    public init(kind: Kind, message: String, line: Int? = nil, column: Int? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        guard let line else { return "\(kind.rawValue) error: \(message)" }
        let col = column.map { ", column \($0)" } ?? ""
        return "\(kind.rawValue) error at line \(line)\(col): \(message)"
    }

    /// Attaches a position unless an inner, more precise one is already there.
    func at(_ pos: Pos) -> TemplateError {
        guard line == nil else { return self }
        var e = self
        e.line = pos.line
        e.column = pos.column
        return e
    }
}

/// A source position (1-based).
struct Pos: Sendable {
    var line: Int
    var column: Int
}
