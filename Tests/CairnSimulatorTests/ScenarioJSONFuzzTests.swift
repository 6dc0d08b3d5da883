import CairnSimulator
import Foundation
import Testing

/// The scenario JSON parser on hostile and large input: linear in the number of keys,
/// strict about RFC 8259, and every error names the full JSON path of the value it was
/// reading. (The mutation campaign over it is the `scenario-json` fuzz target, run by
/// CairnFuzzTests and `cairn-fuzz`.)
@Suite struct ScenarioJSONFuzzTests {
    static func failure(_ json: String) -> ScenarioError? {
        do {
            _ = try JSONValue.parse(json)
            return nil
        } catch {
            return error
        }
    }

    // MARK: linear

    /// This thread's CPU time, in seconds: other processes on a loaded machine do not
    /// count, as they do in wall-clock time.
    static func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Best of five, in CPU seconds.
    static func parseTime(_ text: String) throws -> Double {
        var best = Double.infinity
        for _ in 0..<5 {
            let start = cpuSeconds()
            _ = try JSONValue.parse(text)
            best = min(best, cpuSeconds() - start)
        }
        return best
    }

    static func object(keys: Int) -> String {
        "{" + (0..<keys).map { "\"key-\($0)\": [\($0), {\"x\": \"v\"}]" }.joined(separator: ", ") + "}"
    }

    /// Ten times the keys take about ten times as long: a duplicate check that compares
    /// each key with all before it (what the parser did) takes a hundred times as long.
    @Test func parsingIsLinearInTheNumberOfKeys() throws {
        let small = try Self.parseTime(Self.object(keys: 1_500))
        let large = try Self.parseTime(Self.object(keys: 15_000))
        #expect(large / small < 30, "1,500 keys: \(small) s, 15,000 keys: \(large) s (×\(large / small))")
        guard case .object(let fields) = try JSONValue.parse(Self.object(keys: 15_000)) else { Issue.record("not an object"); return }
        #expect(fields.count == 15_000 && fields.last?.0 == "key-14999")
    }

    @Test func aDuplicateKeyAmongManyIsFound() {
        let text = Self.object(keys: 5_000).dropLast() + ", \"key-17\": 1}"
        let e = Self.failure(String(text))
        #expect(e?.path == "$.key-17" || e?.path == "$[\"key-17\"]")
        #expect(e?.message.contains("duplicate key") == true)
    }

    // MARK: paths

    @Test(arguments: [
        (#"{"protocol": {"k": 4, "n": 0x8}}"#, "$.protocol.n", "expected ',' or '}'"),
        (#"{"churn": {"correlated": [{"at_day": 1}, {"at_day": tru}]}}"#, "$.churn.correlated[1].at_day", "expected true"),
        (#"{"a.b": [1, -]}"#, #"$["a.b"][1]"#, "expected a value"),
        (#"{"x": {"y": [[], [[0, 01]]]}}"#, "$.x.y[1][0][1]", "leading zero"),
        (#"{"protocol": {"k": 1, "k": 2}}"#, "$.protocol.k", "duplicate key"),
        (#"{"name": "a\qb"}"#, "$.name", "bad escape"),
        (#"{"deep": {"er": "unterminated}}"#, "$.deep.er", "unterminated string"),
        (#"{"s": {"t": [1, 2}}"#, "$.s.t[1]", "expected ',' or ']'"),
        (#"{"s": {"t": 5"#, "$.s.t", "unexpected end in an object"),
        (#"{"q\"uote": nul}"#, #"$["q\"uote"]"#, "expected null"),
    ])
    func syntaxErrorsNameTheFullPath(json: String, path: String, fragment: String) {
        let e = Self.failure(json)
        #expect(e?.path == path, "\(e?.description ?? "no error")")
        #expect(e?.message.contains(fragment) == true, "\(e?.description ?? "no error")")
        #expect(e?.message.contains("invalid JSON at byte") == true)
    }

    @Test func scenarioErrorsNameTheFullPath() {
        func error(_ json: String) -> String? {
            do { _ = try Scenario.parse(json); return nil } catch { return error.description }
        }
        #expect(error(#"{"nodes": 10, "churn": {"partitions": [{"at_day": 1, "fraction": 0.5, "duration_hours": 1}, {"at_day": 2, "fraction": 0.5, "duration_hours": true}]}}"#)
            == "$.churn.partitions[1].duration_hours: expected a number, found a boolean")
        #expect(error(#"{"nodes": 10, "expect": {"detection_hours_max": {"droppers": "soon"}}}"#)
            == "$.expect.detection_hours_max.droppers: expected a number, found a string")
        #expect(error(#"{"nodes": 10, "protocol": {"k": 3, "n": [}}"#)?.hasPrefix("$.protocol.n[0]: invalid JSON at byte") == true)
    }

    @Test func pathsQuoteKeysThatAreNotNames() {
        #expect(JSONPath.member("$", "nodes") == "$.nodes")
        #expect(JSONPath.member("$", "a b") == #"$["a b"]"#)
        #expect(JSONPath.member("$", "") == #"$[""]"#)
        #expect(JSONPath.member("$", "9lives") == #"$["9lives"]"#)
        #expect(JSONPath.member("$.x", "tab\there\"") == #"$.x["tab\there\""]"#)
        #expect(JSONPath.element("$.x", 3) == "$.x[3]")
    }

    // MARK: strict and hostile input

    @Test(arguments: ["01", "1.", ".5", "-", "1e", "1e+", "+1", "--1", "0x10", "1e999", "-1e999", "NaN", "Infinity",
                      #""\u12g4""#, #""\u+123""#, #""\ud800""#, #""\udc00x""#, #""\ud800\u0041""#, "\"a\u{01}b\"",
                      "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{1: 2}", "tru", "nulll", "[] []", "\u{FEFF}{}", ""])
    func rejectsWhatRFC8259Rejects(_ text: String) {
        #expect(Self.failure(text) != nil, "accepted \(text)")
    }

    @Test func acceptsWhatRFC8259Accepts() throws {
        #expect(try JSONValue.parse("-0") == .number(0))
        #expect(try JSONValue.parse("1E+2") == .number(100))
        #expect(try JSONValue.parse("0.25e-1") == .number(0.025))
        #expect(try JSONValue.parse(#""\ud83d\ude00 \u00e9 \/ \b\f\n\r\t""#) == .string("😀 é / \u{08}\u{0C}\n\r\t"))
        #expect(try JSONValue.parse(" \t\n[ ] ") == .array([]))
    }

    @Test func hostileNestingAndSizesAreErrors() {
        // 64 levels is the limit: deeper is an error naming where, never a stack overflow.
        let deep = String(repeating: "[", count: 100_000)
        #expect(Self.failure(deep)?.message.contains("nested more than 64 deep") == true)
        #expect(Self.failure(String(repeating: "{\"a\":", count: 65) + "1" + String(repeating: "}", count: 65))?.path
            == "$" + String(repeating: ".a", count: 64))
        let ok = String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        #expect(Self.failure(ok) == nil)
        #expect(Self.failure("\"" + String(repeating: "x", count: 1 << 20) + "\"") == nil)
        #expect((try? JSONValue.parse(bytes: [0x22, 0xFF, 0x22])) == nil)  // not UTF-8 inside a string
    }
}
