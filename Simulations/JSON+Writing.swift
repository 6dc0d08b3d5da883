/// JSON text from a `JSONValue`: the form a sweep's cell is printed in (`--expand`) and the
/// canonical bytes its fingerprint is taken over. Keys stay in document order; numbers are
/// written so that reading them back gives the same double (integers without a fraction).
extension JSONValue {
    /// Compact: no spaces, `{"a":1,"b":[2,3]}`. Canonical for a given value.
    public var compact: String {
        var out = ""
        write(into: &out, style: .compact)
        return out
    }

    /// Indented by two spaces; below the top, any object or array whose compact form is at
    /// most 72 characters on one line (a distribution, a `choice`), so an expanded cell
    /// reads like a hand-written file.
    public var pretty: String {
        var out = ""
        write(into: &out, style: .pretty(depth: 0))
        return out + "\n"
    }

    private enum Style {
        case compact
        /// One line, a space after each ',' and ':'.
        case spaced
        case pretty(depth: Int)
    }

    /// A number as JSON: an integer when it is one (and exactly representable), otherwise
    /// Swift's shortest text that reads back as the same double.
    public static func numberText(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 9_007_199_254_740_992 { return String(Int64(x)) }
        return "\(x)"
    }

    private func write(into out: inout String, style: Style) {
        let members: [(String?, JSONValue)]
        let open: String, close: String
        switch self {
        case .null: return out += "null"
        case .bool(let b): return out += b ? "true" : "false"
        case .number(let x): return out += Self.numberText(x)
        case .string(let s): return out += Report.jsonString(s)
        case .array(let items): (members, open, close) = (items.map { (nil, $0) }, "[", "]")
        case .object(let fields): (members, open, close) = (fields.map { ($0.0, $0.1) }, "{", "}")
        }
        out += open
        switch style {
        case .pretty(let depth) where !members.isEmpty && (depth == 0 || compact.count > 72):
            let inner = String(repeating: "  ", count: depth + 1)
            for (i, (key, value)) in members.enumerated() {
                out += (i == 0 ? "\n" : ",\n") + inner + (key.map { Report.jsonString($0) + ": " } ?? "")
                value.write(into: &out, style: .pretty(depth: depth + 1))
            }
            out += "\n" + String(repeating: "  ", count: depth)
        case .compact:
            for (i, (key, value)) in members.enumerated() {
                out += (i == 0 ? "" : ",") + (key.map { Report.jsonString($0) + ":" } ?? "")
                value.write(into: &out, style: .compact)
            }
        case .spaced, .pretty:
            for (i, (key, value)) in members.enumerated() {
                out += (i == 0 ? "" : ", ") + (key.map { Report.jsonString($0) + ": " } ?? "")
                value.write(into: &out, style: .spaced)
            }
        }
        out += close
    }
}
