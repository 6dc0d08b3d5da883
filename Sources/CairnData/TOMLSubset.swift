import Foundation

/// The part of TOML a node's config file needs — `key = value` lines, `[table]` headers,
/// strings (basic and literal), integers, booleans, arrays of those (over several lines
/// too), comments — read into the same dictionary shape `JSONSerialization` gives, so one
/// validation serves both formats. Everything else TOML has (dotted keys, inline tables,
/// arrays of tables, floats, dates, multi-line strings) is refused by name with its line,
/// as are duplicate keys and tables; nothing is guessed.
///
/// Hand-written because the TOML library this machine carries (TOMLKit over toml++)
/// aborts the process on some malformed files (an assertion in its key parser), and a
/// config file must get an error, not a crash. Linear in the input; arrays cannot nest,
/// so there is no recursion to exhaust.
public struct TOMLSubset {
    public struct Problem: Error, CustomStringConvertible {
        public let line: Int
        public let what: String
        public var description: String { "line \(line): \(what)" }
    }

    private let bytes: [UInt8]
    private var i = 0
    private var line = 1

    public static func parse(_ data: Data) throws(Problem) -> [String: Any] {
        var p = TOMLSubset(bytes: [UInt8](data))
        return try p.document()
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func document() throws(Problem) -> [String: Any] {
        var top: [String: Any] = [:]
        var tables: [String: [String: Any]] = [:]
        var order: [String] = []
        var current: String? = nil
        func set(_ key: String, _ value: Any, line: Int) throws(Problem) {
            if let t = current {
                guard tables[t]![key] == nil else { throw Problem(line: line, what: "\(t).\(key) is set twice") }
                tables[t]![key] = value
            } else {
                guard top[key] == nil else { throw Problem(line: line, what: "\(key) is set twice") }
                top[key] = value
            }
        }
        while true {
            skipBlankAndComments()
            guard let c = peek() else { break }
            let at = line
            if c == UInt8(ascii: "[") {
                i += 1
                guard peek() != UInt8(ascii: "[") else { throw Problem(line: at, what: "arrays of tables ([[…]]) are not used in cairn config files") }
                skipSpaces()
                let name = try key()
                skipSpaces()
                guard peek() == UInt8(ascii: "]") else {
                    throw Problem(line: at, what: peek() == UInt8(ascii: ".") ? "dotted table names are not used in cairn config files" : "a table header must end with ]")
                }
                i += 1
                try endOfLine()
                guard top[name] == nil, tables[name] == nil else { throw Problem(line: at, what: "[\(name)] appears twice, or is also a key") }
                tables[name] = [:]
                order.append(name)
                current = name
                continue
            }
            let k = try key()
            skipSpaces()
            guard peek() != UInt8(ascii: ".") else { throw Problem(line: at, what: "dotted keys are not used in cairn config files: write a [table]") }
            guard peek() == UInt8(ascii: "=") else { throw Problem(line: at, what: "expected = after \(k)") }
            i += 1
            skipSpaces()
            let v = try value(allowArray: true)
            try endOfLine()
            try set(k, v, line: at)
        }
        for name in order {
            guard top[name] == nil else { throw Problem(line: line, what: "\(name) is both a key and a table") }
            top[name] = tables[name]!
        }
        return top
    }

    // MARK: Pieces

    private func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

    private mutating func skipSpaces() {
        while let c = peek(), c == 0x20 || c == 0x09 { i += 1 }
    }

    private mutating func skipComment() {
        guard peek() == UInt8(ascii: "#") else { return }
        while let c = peek(), c != 0x0a { i += 1 }
    }

    /// Spaces, newlines and comments (between statements and inside arrays).
    private mutating func skipBlankAndComments() {
        while let c = peek() {
            if c == 0x20 || c == 0x09 || c == 0x0d {
                i += 1
            } else if c == 0x0a {
                i += 1
                line += 1
            } else if c == UInt8(ascii: "#") {
                skipComment()
            } else {
                break
            }
        }
    }

    private mutating func endOfLine() throws(Problem) {
        skipSpaces()
        skipComment()
        if peek() == 0x0d { i += 1 }
        guard let c = peek() else { return }
        guard c == 0x0a else { throw Problem(line: line, what: "unexpected \(Self.show(c)) after the value (one setting per line)") }
        i += 1
        line += 1
    }

    private mutating func key() throws(Problem) -> String {
        guard let c = peek() else { throw Problem(line: line, what: "a key was expected at the end of the file") }
        if c == UInt8(ascii: "\"") { return try basicString() }
        if c == UInt8(ascii: "'") { return try literalString() }
        let start = i
        while let c = peek(), Self.isBare(c) { i += 1 }
        guard i > start else { throw Problem(line: line, what: "a key was expected, found \(Self.show(c))") }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    private mutating func value(allowArray: Bool) throws(Problem) -> Any {
        guard let c = peek(), c != 0x0a else { throw Problem(line: line, what: "a value was expected after =") }
        switch c {
        case UInt8(ascii: "\""):
            return try basicString()
        case UInt8(ascii: "'"):
            return try literalString()
        case UInt8(ascii: "["):
            guard allowArray else { throw Problem(line: line, what: "arrays inside arrays are not used in cairn config files") }
            return try array()
        case UInt8(ascii: "{"):
            throw Problem(line: line, what: "inline tables ({…}) are not used in cairn config files: write a [table]")
        default:
            let start = i
            while let c = peek(), Self.isBare(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") { i += 1 }
            let word = String(decoding: bytes[start..<i], as: UTF8.self)
            if word == "true" { return NSNumber(value: true) }
            if word == "false" { return NSNumber(value: false) }
            return try integer(word)
        }
    }

    private func integer(_ word: String) throws(Problem) -> Any {
        var digits = Substring(word)
        var negative = false
        if let sign = digits.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        let parts = digits.split(separator: "_", omittingEmptySubsequences: false)
        guard !digits.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              !(digits.count > 1 && digits.first == "0")
        else {
            let numeric = digits.first.map { $0.isASCII && $0.isNumber } ?? false
            if (numeric && (word.contains(".") || word.lowercased().contains("e"))) || digits == "inf" || digits == "nan" {
                throw Problem(line: line, what: "\(word): only whole numbers are used in cairn config files")
            }
            throw Problem(line: line, what: word.isEmpty ? "a value was expected" : "\(word) is not a string, whole number, boolean or array (strings need quotes)")
        }
        guard let magnitude = Int(parts.joined()) else { throw Problem(line: line, what: "\(word) is too large") }
        return NSNumber(value: negative ? -magnitude : magnitude)
    }

    private mutating func array() throws(Problem) -> [Any] {
        let at = line
        i += 1
        var out: [Any] = []
        while true {
            skipBlankAndComments()
            guard let c = peek() else { throw Problem(line: at, what: "an array that never ends (missing ])") }
            if c == UInt8(ascii: "]") {
                i += 1
                return out
            }
            out.append(try value(allowArray: false))
            skipBlankAndComments()
            if peek() == nil {
                throw Problem(line: at, what: "an array that never ends (missing ])")
            } else if peek() == UInt8(ascii: ",") {
                i += 1
            } else if peek() != UInt8(ascii: "]") {
                throw Problem(line: line, what: "expected , or ] in the array begun on line \(at)")
            }
        }
    }

    private mutating func literalString() throws(Problem) -> String {
        guard !(bytes[i...].starts(with: Array("'''".utf8))) else {
            throw Problem(line: line, what: "multi-line strings are not used in cairn config files")
        }
        i += 1
        let start = i
        while let c = peek(), c != UInt8(ascii: "'") {
            guard c != 0x0a, c >= 0x20 || c == 0x09, c != 0x7f else { throw Problem(line: line, what: "a string that does not end on its line") }
            i += 1
        }
        guard peek() != nil else { throw Problem(line: line, what: "a string that does not end") }
        let s = bytes[start..<i]
        i += 1
        return try Self.utf8(s, line: line)
    }

    private mutating func basicString() throws(Problem) -> String {
        guard !(bytes[i...].starts(with: Array("\"\"\"".utf8))) else {
            throw Problem(line: line, what: "multi-line strings are not used in cairn config files")
        }
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek(), c != 0x0a else { throw Problem(line: line, what: "a string that does not end on its line") }
            i += 1
            if c == UInt8(ascii: "\"") { return try Self.utf8(out[...], line: line) }
            guard c >= 0x20 || c == 0x09, c != 0x7f else { throw Problem(line: line, what: "a control character in a string (write it as an escape)") }
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                continue
            }
            guard let e = peek() else { throw Problem(line: line, what: "a string that does not end") }
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(e)
            case UInt8(ascii: "\\"): out.append(e)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let count = e == UInt8(ascii: "u") ? 4 : 8
                guard i + count <= bytes.count, let code = UInt32(String(decoding: bytes[i..<i + count], as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(code)
                else { throw Problem(line: line, what: "\\\(Character(Unicode.Scalar(e))) needs \(count) hex digits of a Unicode scalar") }
                i += count
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw Problem(line: line, what: "\\\(Self.show(e)) is not a TOML escape")
            }
        }
    }

    private static func utf8(_ bytes: ArraySlice<UInt8>, line: Int) throws(Problem) -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else { throw Problem(line: line, what: "a string that is not UTF-8") }
        return s
    }

    private static func isBare(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }

    private static func show(_ c: UInt8) -> String {
        c >= 0x21 && c < 0x7f ? "'\(Character(Unicode.Scalar(c)))'" : String(format: "byte 0x%02x", c)
    }
}
