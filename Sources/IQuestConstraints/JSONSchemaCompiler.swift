import Foundation

// JSON Schema (draft 2020-12, with the draft-07 spellings real schemas still use) → grammar.
//
// Every subschema is compiled once per location (its JSON pointer), which is also what makes
// $ref recursion work: a reference to a location being compiled gets that location's rule.
// Composition is lowered before types: allOf is merged into one schema where the merge is exact,
// anyOf/oneOf become alternatives (each merged with the sibling keywords), and a schema without
// `type` admits every type, each branch applying only its own type's keywords (as validation
// does). Objects emit properties in schema order (required ones mandatory, optional ones
// skippable), then any additional properties; whitespace between tokens is bounded. A keyword
// whose meaning the grammar cannot enforce exactly is refused with its pointer; oneOf is treated
// as anyOf (exclusivity is not enforced), which `JSONSchemaOptions.oneOfAsAnyOf` makes explicit.

public struct JSONSchemaOptions: Sendable {
    /// Most whitespace bytes between two JSON tokens (a model must not pad until max_tokens).
    public var whitespaceLimit = 20
    /// Digits allowed in an integer part, fraction and exponent.
    public var maxIntegerDigits = 20
    public var maxFractionDigits = 20
    public var maxExponentDigits = 3
    /// Accept oneOf as anyOf (exclusivity unchecked); false refuses oneOf.
    public var oneOfAsAnyOf = true
    /// `format` values are enforced; false makes `format` an annotation (the 2020-12 default).
    public var enforceFormat = true
    /// Objects with at most this many declared properties accept them in any order.
    public var anyOrderLimit = 6
    /// Integers may be written with a zero fraction (1.0), which JSON Schema counts as an
    /// integer; off by default so generated integers parse as integers everywhere.
    public var integerAllowsZeroFraction = false

    public init() {}
}

public final class JSONSchemaCompiler {
    let root: JSONValue
    let options: JSONSchemaOptions
    let b: GrammarBuilder
    private var compiled: [String: Int] = [:]
    private var wsElement: GrammarElement?

    public init(schema: JSONValue, options: JSONSchemaOptions = JSONSchemaOptions(), builder: GrammarBuilder = GrammarBuilder()) {
        root = schema
        self.options = options
        b = builder
    }

    /// The schema's value as one element of `builder`'s grammar (several schemas, e.g. each
    /// tool's parameters, can share one builder; each resolves its own $refs).
    public func valueElement() throws -> GrammarElement {
        try checkDialect(root)
        return .rule(try rule(at: "", schema: root))
    }

    /// Bounded whitespace as the JSON grammars use it.
    public var whitespace: GrammarElement { ws }

    func checkDialect(_ schema: JSONValue) throws {
        if let dialect = schema["$schema"] {
            guard let uri = dialect.stringValue, uri.contains("json-schema.org/") else {
                throw ConstraintError.unsupportedKeyword(keyword: "$schema", pointer: "/$schema", reason: "only the standard JSON Schema dialects (json-schema.org) are known")
            }
        }
    }

    public static func grammar(for schema: JSONValue, options: JSONSchemaOptions = JSONSchemaOptions()) throws -> Grammar {
        let c = JSONSchemaCompiler(schema: schema, options: options)
        try c.checkDialect(schema)
        let start = try c.rule(at: "", schema: schema)
        let top = c.b.rule([[c.ws, .rule(start), c.ws]], name: "root")
        do { return try c.b.build(start: top) } catch ConstraintError.grammar(let m) {
            throw ConstraintError.invalidSchema(pointer: "", reason: "the schema refers to itself without consuming input (\(m))")
        }
    }

    /// Any JSON value (json_object mode).
    public static func anyJSON(options: JSONSchemaOptions = JSONSchemaOptions()) throws -> Grammar {
        try grammar(for: .object([("type", .array(["object", "array", "string", "number", "boolean", "null"].map { .string($0) }))]), options: options)
    }

    var ws: GrammarElement {
        if let w = wsElement { return w }
        let w = b.group(b.repeated([.bytes(ByteSet(Array(" \t\n\r".utf8)))], min: 0, max: options.whitespaceLimit))
        wsElement = w
        return w
    }

    // MARK: schemas by location

    func rule(at pointer: String, schema: JSONValue) throws -> Int {
        if let r = compiled[pointer] { return r }
        let r = b.declare("schema" + pointer)
        compiled[pointer] = r
        b.define(r, [try compile(schema, pointer: pointer)])
        return r
    }

    static let annotations: Set<String> = ["title", "description", "default", "examples", "$schema", "$comment",
        "deprecated", "readOnly", "writeOnly", "$defs", "definitions", "contentMediaType", "contentEncoding",
        "contentSchema", "$id", "id", "example", "discriminator", "nullable_annotation", "$vocabulary", "markdownDescription",
        "errorMessage", "x-order"]
    static let unsupported: [String: String] = [
        "not": "negation cannot be expressed as a grammar here",
        "if": "conditional subschemas", "then": "conditional subschemas", "else": "conditional subschemas",
        "dependentRequired": "dependencies between properties", "dependentSchemas": "dependencies between properties",
        "dependencies": "dependencies between properties",
        "patternProperties": "property names constrained by a pattern",
        "propertyNames": "property names constrained by a schema",
        "unevaluatedProperties": "unevaluated properties", "unevaluatedItems": "unevaluated items",
        "contains": "array contains", "minContains": "array contains", "maxContains": "array contains",
        "multipleOf": "multiples", "minProperties": "property counts", "maxProperties": "property counts",
        "$dynamicRef": "dynamic references", "$dynamicAnchor": "dynamic references", "$recursiveRef": "dynamic references",
        "$recursiveAnchor": "dynamic references", "$anchor": "anchors",
    ]

    /// The grammar alternatives for `schema` found at `pointer`.
    func compile(_ schema: JSONValue, pointer: String) throws -> [GrammarElement] {
        switch schema {
        case .bool(true): return [anyValue(pointer: pointer)]
        case .bool(false): return [.rule(b.rule([], name: "nothing"))]
        case .object: break
        default: throw ConstraintError.invalidSchema(pointer: pointer, reason: "a schema must be an object or a boolean")
        }
        var s = try normalize(schema, pointer: pointer)
        // A lone $ref (siblings are annotations) is the referenced location's rule.
        if let ref = s["$ref"] {
            let assertions = s.keys.filter { $0 != "$ref" && !Self.annotations.contains($0) }
            if assertions.isEmpty {
                let (target, targetPointer) = try resolve(ref, pointer: pointer)
                return [.rule(try rule(at: targetPointer, schema: target))]
            }
            let (target, targetPointer) = try resolve(ref, pointer: pointer)
            s.remove("$ref")
            s = try merge(s, try normalize(target, pointer: targetPointer), pointer: pointer)
        }
        for key in s.keys {
            if let reason = Self.unsupported[key], !isTrivial(key, s[key]) {
                throw ConstraintError.unsupportedKeyword(keyword: key, pointer: pointer + "/" + escape(key), reason: reason)
            }
        }
        let options = (s["anyOf"].map { ("anyOf", $0) } ?? s["oneOf"].map { ("oneOf", $0) })
        if let (key, value) = options {
            if key == "oneOf" && !self.options.oneOfAsAnyOf {
                throw ConstraintError.unsupportedKeyword(keyword: "oneOf", pointer: pointer + "/oneOf", reason: "exclusive alternatives")
            }
            if s["anyOf"] != nil && s["oneOf"] != nil {
                throw ConstraintError.unsupportedKeyword(keyword: "oneOf", pointer: pointer + "/oneOf", reason: "anyOf and oneOf together")
            }
            guard let list = value.arrayValue, !list.isEmpty else {
                throw ConstraintError.invalidSchema(pointer: pointer + "/" + key, reason: "must be a non-empty array")
            }
            var rest = s
            rest.remove(key)
            let siblings = rest.keys.filter { !Self.annotations.contains($0) }
            var alts: [[GrammarElement]] = []
            for (i, option) in list.enumerated() {
                let p = pointer + "/\(key)/\(i)"
                if siblings.isEmpty {
                    alts.append([.rule(try rule(at: p, schema: option))])
                } else {
                    let merged = try merge(rest, try normalize(option, pointer: p), pointer: p)
                    alts.append(try compile(.object(merged.members), pointer: p + "+"))
                }
            }
            return [b.alternatives(alts)]
        }
        return try compileFlat(s, pointer: pointer)
    }

    private func isTrivial(_ key: String, _ value: JSONValue?) -> Bool {
        switch key {
        case "minProperties", "minContains": return value?.numberValue == 0 && key == "minProperties"
        case "dependentRequired", "dependentSchemas", "dependencies", "patternProperties":
            return value?.objectMembers?.isEmpty ?? false
        default: return false
        }
    }

    func escape(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    func resolve(_ ref: JSONValue, pointer: String) throws -> (JSONValue, String) {
        guard let text = ref.stringValue else { throw ConstraintError.invalidSchema(pointer: pointer + "/$ref", reason: "$ref must be a string") }
        guard text.hasPrefix("#") else {
            throw ConstraintError.unsupportedKeyword(keyword: "$ref", pointer: pointer + "/$ref", reason: "only local references (#/…) are resolved, not '\(text)'")
        }
        let path = String(text.dropFirst())
        if !path.isEmpty && !path.hasPrefix("/") {
            throw ConstraintError.unsupportedKeyword(keyword: "$ref", pointer: pointer + "/$ref", reason: "anchor references ('\(text)')")
        }
        var node = root
        var resolved = ""
        for raw in path.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let part = (String(raw).removingPercentEncoding ?? String(raw))
                .replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            resolved += "/" + escape(part)
            if let next = node[part] { node = next }
            else if let arr = node.arrayValue, let i = Int(part), i >= 0, i < arr.count { node = arr[i] }
            else { throw ConstraintError.invalidSchema(pointer: pointer + "/$ref", reason: "'\(text)' points at nothing") }
        }
        return (node, resolved)
    }

    // MARK: keyword sets

    /// An ordered keyword → value map (a schema object) with allOf merged in.
    struct Keywords {
        var members: [(String, JSONValue)]
        var keys: [String] { members.map { $0.0 } }
        subscript(key: String) -> JSONValue? { members.first { $0.0 == key }?.1 }
        mutating func remove(_ key: String) { members.removeAll { $0.0 == key } }
        mutating func set(_ key: String, _ v: JSONValue) {
            if let i = members.firstIndex(where: { $0.0 == key }) { members[i].1 = v } else { members.append((key, v)) }
        }
    }

    func normalize(_ schema: JSONValue, pointer: String) throws -> Keywords {
        switch schema {
        case .bool(true): return Keywords(members: [])
        case .bool(false): return Keywords(members: [("not", .object([]))])
        case .object(let m):
            var k = Keywords(members: m)
            if let nested = k["$id"]?.stringValue, !pointer.isEmpty, !nested.hasPrefix("#"), k["$ref"] != nil || containsRef(schema) {
                throw ConstraintError.unsupportedKeyword(keyword: "$id", pointer: pointer + "/$id", reason: "references relative to a nested $id")
            }
            // draft-07 tuple form.
            if let items = k["items"], case .array = items {
                k.set("prefixItems", items)
                if let extra = k["additionalItems"] { k.set("items", extra) } else { k.remove("items") }
                k.remove("additionalItems")
            } else if k["additionalItems"] != nil {
                k.remove("additionalItems")  // ignored without a tuple `items`, as draft-07 says
            }
            if let all = k["allOf"] {
                guard let list = all.arrayValue, !list.isEmpty else {
                    throw ConstraintError.invalidSchema(pointer: pointer + "/allOf", reason: "must be a non-empty array")
                }
                k.remove("allOf")
                for (i, sub) in list.enumerated() {
                    let p = pointer + "/allOf/\(i)"
                    var subKeywords = try normalize(sub, pointer: p)
                    if let ref = subKeywords["$ref"] {
                        let (target, tp) = try resolve(ref, pointer: p)
                        if tp == pointer || pointer.hasPrefix(tp + "/") {
                            throw ConstraintError.unsupportedKeyword(keyword: "allOf", pointer: p, reason: "a recursive reference inside allOf")
                        }
                        subKeywords.remove("$ref")
                        subKeywords = try merge(subKeywords, try normalize(target, pointer: tp), pointer: p)
                    }
                    k = try merge(k, subKeywords, pointer: p)
                }
            }
            return k
        default:
            throw ConstraintError.invalidSchema(pointer: pointer, reason: "a schema must be an object or a boolean")
        }
    }

    private func containsRef(_ v: JSONValue) -> Bool {
        switch v {
        case .object(let m): return m.contains { $0.0 == "$ref" || containsRef($0.1) }
        case .array(let a): return a.contains { containsRef($0) }
        default: return false
        }
    }

    /// The conjunction of two keyword sets, where it can be written as one; else unsupported.
    func merge(_ a: Keywords, _ c: Keywords, pointer: String) throws -> Keywords {
        var out = a
        func refuse(_ key: String, _ why: String) -> ConstraintError {
            .unsupportedKeyword(keyword: "allOf", pointer: pointer, reason: "cannot combine '\(key)': \(why)")
        }
        // additionalProperties sees only its own schema's properties: combining is exact only
        // when the other side declares no property it lacks.
        let namesA = Set((a["properties"]?.objectMembers ?? []).map { $0.0 }), namesC = Set((c["properties"]?.objectMembers ?? []).map { $0.0 })
        if let ap = a["additionalProperties"], ap != .bool(true), !namesC.isSubset(of: namesA) { throw refuse("additionalProperties", "it applies to different property sets") }
        if let ap = c["additionalProperties"], ap != .bool(true), !namesA.isSubset(of: namesC) { throw refuse("additionalProperties", "it applies to different property sets") }
        // items applies after its own schema's prefixItems only.
        if (a["items"] != nil && c["prefixItems"] != nil && a["prefixItems"] != c["prefixItems"])
            || (c["items"] != nil && a["prefixItems"] != nil && a["prefixItems"] != c["prefixItems"]) {
            throw refuse("items", "it applies after a different prefixItems")
        }
        for (key, v) in c.members {
            guard let existing = out[key] else { out.set(key, v); continue }
            if existing == v { continue }
            if Self.annotations.contains(key) { continue }
            switch key {
            case "type":
                let t1 = Set(typeList(existing)), t2 = Set(typeList(v))
                var both = t1.intersection(t2)
                if t1.contains("number") && t2.contains("integer") || t2.contains("number") && t1.contains("integer") { both.insert("integer") }
                out.set(key, .array(both.sorted().map { .string($0) }))
            case "required":
                var names = existing.arrayValue ?? []
                for n in v.arrayValue ?? [] where !names.contains(n) { names.append(n) }
                out.set(key, .array(names))
            case "properties":
                var props = existing.objectMembers ?? []
                for (name, sub) in v.objectMembers ?? [] {
                    if let i = props.firstIndex(where: { $0.0 == name }) {
                        props[i].1 = .object([("allOf", .array([props[i].1, sub]))])
                    } else { props.append((name, sub)) }
                }
                if (out["additionalProperties"].map { $0 != .bool(true) } ?? false) || (c["additionalProperties"].map { $0 != .bool(true) } ?? false) {
                    let n1 = Set((existing.objectMembers ?? []).map { $0.0 }), n2 = Set((v.objectMembers ?? []).map { $0.0 })
                    if n1 != n2 { throw refuse("additionalProperties", "it applies to different property sets") }
                }
                out.set(key, .object(props))
            case "minimum", "exclusiveMinimum", "minLength", "minItems":
                out.set(key, (existing.numberValue ?? 0) >= (v.numberValue ?? 0) ? existing : v)
            case "maximum", "exclusiveMaximum", "maxLength", "maxItems":
                out.set(key, (existing.numberValue ?? 0) <= (v.numberValue ?? 0) ? existing : v)
            case "enum":
                let other = v.arrayValue ?? []
                out.set(key, .array((existing.arrayValue ?? []).filter { other.contains($0) }))
            case "items", "additionalProperties":
                out.set(key, .object([("allOf", .array([existing, v]))]))
            case "anyOf", "oneOf":
                // (A1|A2) ∧ (B1|B2) = pairwise conjunctions.
                var pairs: [JSONValue] = []
                for x in existing.arrayValue ?? [] { for y in v.arrayValue ?? [] { pairs.append(.object([("allOf", .array([x, y]))])) } }
                out.set(key, .array(pairs))
            default:
                throw refuse(key, "different values")
            }
        }
        return out
    }

    func typeList(_ v: JSONValue?) -> [String] {
        switch v {
        case .string(let s)?: return [s]
        case .array(let a)?: return a.compactMap { $0.stringValue }
        default: return ["null", "boolean", "object", "array", "string", "number"]
        }
    }

    // MARK: one schema without composition

    func compileFlat(_ s: Keywords, pointer: String) throws -> [GrammarElement] {
        if s["not"] != nil { return [.rule(b.rule([], name: "nothing"))] }  // only from `false`
        var types = typeList(s["type"])
        if let t = s["type"], t.stringValue == nil, t.arrayValue == nil {
            throw ConstraintError.invalidSchema(pointer: pointer + "/type", reason: "type must be a string or an array")
        }
        for t in types where !["null", "boolean", "object", "array", "string", "number", "integer"].contains(t) {
            throw ConstraintError.invalidSchema(pointer: pointer + "/type", reason: "unknown type '\(t)'")
        }
        if types.contains("number") { types.removeAll { $0 == "integer" } }
        if let literals = s["enum"] ?? s["const"].map({ .array([$0]) }) {
            guard let values = literals.arrayValue else {
                throw ConstraintError.invalidSchema(pointer: pointer + "/enum", reason: "enum must be an array")
            }
            let typeKeys: Set<String> = ["type", "enum", "const"]
            if let other = s.keys.first(where: { !typeKeys.contains($0) && !Self.annotations.contains($0) && !Self.ignoredWithLiterals.contains($0) }) {
                throw ConstraintError.unsupportedKeyword(keyword: other, pointer: pointer + "/" + escape(other), reason: "combined with enum/const")
            }
            if let c = s["const"], s["enum"] != nil, !(s["enum"]?.arrayValue?.contains(c) ?? false) {
                return [.rule(b.rule([], name: "nothing"))]
            }
            let allowed = values.filter { v in types.contains { Self.hasType(v, $0) } }
            if allowed.isEmpty { return [.rule(b.rule([], name: "nothing"))] }
            return [b.alternatives(allowed.map { literal($0) })]
        }
        var alts: [[GrammarElement]] = []
        for t in types {
            switch t {
            case "null": alts.append(b.literal("null"))
            case "boolean": alts.append([b.alternatives([b.literal("true"), b.literal("false")])])
            case "string": alts.append(try string(s, pointer: pointer))
            case "integer": alts.append(try number(s, pointer: pointer, integer: true))
            case "number": alts.append(try number(s, pointer: pointer, integer: false))
            case "object": alts.append(try object(s, pointer: pointer))
            case "array": alts.append(try array(s, pointer: pointer))
            default: break
            }
        }
        return [b.alternatives(alts)]
    }

    /// Keywords that cannot change which enum/const values are valid in practice (types checked).
    static let ignoredWithLiterals: Set<String> = ["format", "additionalProperties", "uniqueItems"]

    static func hasType(_ v: JSONValue, _ t: String) -> Bool {
        switch (v, t) {
        case (.null, "null"), (.bool, "boolean"), (.string, "string"), (.array, "array"), (.object, "object"): return true
        case (.number, "number"): return true
        case (.number(_, let d), "integer"): return d == d.rounded()
        default: return false
        }
    }

    /// The value exactly as given (canonical string escapes), whitespace allowed between tokens.
    func literal(_ v: JSONValue) -> [GrammarElement] {
        switch v {
        case .array(let items):
            if items.isEmpty { return b.literal("[") + [ws] + b.literal("]") }
            var out = b.literal("[") + [ws]
            for (i, x) in items.enumerated() {
                if i > 0 { out += [ws] + b.literal(",") + [ws] }
                out += literal(x)
            }
            return out + [ws] + b.literal("]")
        case .object(let members):
            let elements = members.map { (k, x) in
                (element: b.group(b.literal(JSONValue.quoted(k)) + [ws] + b.literal(":") + [ws] + literal(x)), required: true)
            }
            return objectBody(elements, extra: nil)
        case .number(let text, let d):
            // Equal numbers are equal values: an integral one may be written 1, 1.0, 1.00….
            if d == d.rounded(), abs(d) <= 9007199254740992 {
                let integer = String(Int(d) == 0 && text.hasPrefix("-") ? 0 : Int(d))
                return b.literal(integer) + b.repeated(b.literal(".") + b.repeated(b.literal("0"), min: 1, max: options.maxFractionDigits), min: 0, max: 1)
            }
            return b.literal(text)
        default:
            return b.literal(v.serialized())
        }
    }

    func anyValue(pointer: String) -> GrammarElement {
        if let r = compiled["#any"] { return .rule(r) }
        let r = b.declare("any")
        compiled["#any"] = r
        // Build with the same construction as an untyped, keyword-free schema.
        b.define(r, [(try? compileFlat(Keywords(members: []), pointer: pointer)) ?? []])
        return .rule(r)
    }

    func int(_ v: JSONValue?, _ key: String, _ pointer: String) throws -> Int? {
        guard let v else { return nil }
        guard let d = v.numberValue, d >= 0, d == d.rounded(), d < 1e9 else {
            throw ConstraintError.invalidSchema(pointer: pointer + "/" + key, reason: "must be a non-negative integer")
        }
        return Int(d)
    }
}
