import CairnWire
/// A small strict JSON reader (RFC 8259): keeps object keys in document order, rejects
/// duplicate keys, and reports errors with the byte offset and the JSON path of the value
/// being read (`$.protocol.k`, `$.churn.correlated[2]`), so a mistake deep in a scenario
/// file is found at once. Scenario validation builds on it to name the JSON path of every
/// problem (`JSONPath`).
///
/// Linear in the size of the text: duplicate keys are found with a set per object, and
/// nothing is re-read. Hostile text (deep nesting, huge numbers, bad escapes, lone
/// surrogates) is an error, never a trap.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    public static func parse(_ text: String) throws(ScenarioError) -> JSONValue {
        try parse(bytes: Array(text.utf8))
    }

    /// Parses UTF-8 bytes; bytes that are not UTF-8 inside a string are an error.
    public static func parse(bytes: [UInt8]) throws(ScenarioError) -> JSONValue {
        var p = JSONParser(bytes: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == p.bytes.count else { throw p.fail("unexpected text after the JSON value") }
        return v
    }
}

/// How a JSON path names a member or an element: `.name` for keys that are identifiers,
/// `["any key"]` (a JSON string) for the others, `[3]` for array elements. Every path in a
/// scenario error is built with these, so a path can always be read back unambiguously.
public enum JSONPath {
    public static let root = "$"

    public static func member(_ path: String, _ key: String) -> String {
        let identifier = key.utf8.first.map { isIdentifierStart($0) } == true && key.utf8.allSatisfy { isIdentifierStart($0) || (0x30...0x39).contains($0) }
        return identifier ? "\(path).\(key)" : "\(path)[\(Report.jsonString(key))]"
    }

    public static func element(_ path: String, _ index: Int) -> String { "\(path)[\(index)]" }

    private static func isIdentifierStart(_ c: UInt8) -> Bool {
        (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == UInt8(ascii: "_")
    }
}

struct JSONParser {
    let bytes: [UInt8]
    var i = 0
    /// Where the value being read sits, outermost first; rendered only for errors.
    private var path: [Step] = []
    static let depthMax = 64

    private enum Step {
        case key(String)
        case index(Int)
    }

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    func fail(_ message: String) -> ScenarioError {
        var at = JSONPath.root
        for step in path {
            switch step {
            case .key(let k): at = JSONPath.member(at, k)
            case .index(let n): at = JSONPath.element(at, n)
            }
        }
        return ScenarioError(path: at, message: "invalid JSON at byte \(i): \(message)")
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func literal(_ word: StaticString, _ v: JSONValue) throws(ScenarioError) -> JSONValue {
        let count = word.utf8CodeUnitCount
        guard i + count <= bytes.count else { throw fail("expected \(word)") }
        for k in 0..<count where bytes[i + k] != word.utf8Start[k] { throw fail("expected \(word)") }
        i += count
        return v
    }

    mutating func value(depth: Int) throws(ScenarioError) -> JSONValue {
        guard depth < Self.depthMax else { throw fail("nested more than \(Self.depthMax) deep") }
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default: return try number()
        }
    }

    private mutating func object(depth: Int) throws(ScenarioError) -> JSONValue {
        i += 1
        var fields = [(String, JSONValue)]()
        var seen = Set<String>()
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return .object(fields)
        }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
            let key = try string()
            path.append(.key(key))
            guard seen.insert(key).inserted else { throw fail("duplicate key") }
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after the key") }
            i += 1
            skipSpace()
            fields.append((key, try value(depth: depth + 1)))
            skipSpace()
            // The member stays on the path until what follows it is read: an error right
            // after a value names that value.
            guard i < bytes.count else { throw fail("unexpected end in an object") }
            let next = bytes[i]
            guard next == UInt8(ascii: ",") || next == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            i += 1
            path.removeLast()
            if next == UInt8(ascii: "}") { return .object(fields) }
        }
    }

    private mutating func array(depth: Int) throws(ScenarioError) -> JSONValue {
        i += 1
        var items = [JSONValue]()
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            return .array(items)
        }
        while true {
            skipSpace()
            path.append(.index(items.count))
            items.append(try value(depth: depth + 1))
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end in an array") }
            let next = bytes[i]
            guard next == UInt8(ascii: ",") || next == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            i += 1
            path.removeLast()
            if next == UInt8(ascii: "]") { return .array(items) }
        }
    }

    mutating func string() throws(ScenarioError) -> String {
        i += 1
        var out = [UInt8]()
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            if c == UInt8(ascii: "\"") {
                guard let s = String(validating: out, as: UTF8.self) else { throw fail("a string that is not UTF-8") }
                return s
            }
            if c < 0x20 { throw fail("control character in a string") }
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                continue
            }
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"): out.append(contentsOf: Array(String(Character(try escapedScalar())).utf8))
            default: throw fail("bad escape \\\(Character(Unicode.Scalar(e)))")
            }
        }
        throw fail("unterminated string")
    }

    /// The scalar of a `\uXXXX` escape (the `\u` read), joining a surrogate pair.
    private mutating func escapedScalar() throws(ScenarioError) -> Unicode.Scalar {
        let high = try hex4()
        if (0xDC00...0xDFFF).contains(high) { throw fail("a lone low surrogate \\u\(String(high, radix: 16))") }
        guard (0xD800...0xDBFF).contains(high) else {
            guard let scalar = Unicode.Scalar(high) else { throw fail("bad \\u escape") }
            return scalar
        }
        guard i + 2 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
            throw fail("a high surrogate \\u\(String(high, radix: 16)) without its low half")
        }
        i += 2
        let low = try hex4()
        guard (0xDC00...0xDFFF).contains(low) else { throw fail("a high surrogate followed by \\u\(String(low, radix: 16))") }
        guard let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) else { throw fail("bad \\u escape") }
        return scalar
    }

    /// Four hex digits, exactly.
    private mutating func hex4() throws(ScenarioError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("bad \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("bad \\u escape")
            }
            v = v << 4 | digit
            i += 1
        }
        return v
    }

    /// A number as RFC 8259 writes it: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    mutating func number() throws(ScenarioError) -> JSONValue {
        let start = i
        func digits(_ i: inout Int, _ bytes: [UInt8]) -> Int {
            let from = i
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            return i - from
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        let whole = i
        guard digits(&i, bytes) > 0 else {
            i = start
            throw fail("expected a value")
        }
        guard bytes[whole] != UInt8(ascii: "0") || i - whole == 1 else {
            i = whole
            throw fail("a number with a leading zero")
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits(&i, bytes) > 0 else { throw fail("a number with no digits after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(&i, bytes) > 0 else { throw fail("a number with no digits in its exponent") }
        }
        guard let v = Double(String(decoding: bytes[start..<i], as: UTF8.self)), v.isFinite else {
            i = start
            throw fail("a number too large for a double")
        }
        return .number(v)
    }
}
