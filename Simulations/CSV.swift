/// RFC 4180 CSV, as sweep.csv and summary.csv are written and read back by `merge`: fields
/// holding a comma, a quote or a line break are quoted (quotes doubled); lines end in "\n".
public enum CSV {
    public static func line(_ fields: [String]) -> String {
        fields.map(quote).joined(separator: ",") + "\n"
    }

    static func quote(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return field }
        var out = "\""
        for c in field.unicodeScalars {
            if c == "\"" { out += "\"\"" } else { out.unicodeScalars.append(c) }
        }
        return out + "\""
    }

    /// Records of `text` (one pass); `file` names it in errors, with the line.
    public static func parse(_ text: String, file: String) throws(SweepError) -> [[String]] {
        var records = [[String]]()
        var record = [String]()
        var field = [UInt8]()
        var quoted = false
        var line = 1
        var bytes = Array(text.utf8)[...]
        func fail(_ m: String) -> SweepError { SweepError(path: "\(file):\(line)", message: m) }
        while let c = bytes.popFirst() {
            if quoted {
                if c == 0x22 {
                    if bytes.first == 0x22 {
                        field.append(0x22)
                        bytes.removeFirst()
                    } else {
                        quoted = false
                        guard bytes.first == nil || bytes.first == 0x2C || bytes.first == 0x0A else { throw fail("text after a closing quote") }
                    }
                } else {
                    if c == 0x0A { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case 0x22:
                guard field.isEmpty else { throw fail("a quote inside an unquoted field") }
                quoted = true
            case 0x2C:
                record.append(String(decoding: field, as: UTF8.self))
                field = []
            case 0x0A:
                record.append(String(decoding: field, as: UTF8.self))
                records.append(record)
                record = []
                field = []
                line += 1
            default:
                field.append(c)
            }
        }
        guard !quoted else { throw fail("an unterminated quoted field") }
        guard record.isEmpty, field.isEmpty else { throw fail("the last line does not end in a line break (a truncated file?)") }
        return records
    }
}
