import CairnData
import CairnTestSupport
import Foundation
import Testing

/// The TOML a node's config file may use reads into the dictionary JSON would give; what
/// it may not use, and anything malformed, is an error naming its line — never a crash.
@Suite struct TOMLSubsetTests {
    private func parse(_ text: String) throws -> [String: Any] { try TOMLSubset.parse(Data(text.utf8)) }

    private func problem(_ text: String) -> TOMLSubset.Problem? {
        do {
            _ = try parse(text)
            return nil
        } catch let p as TOMLSubset.Problem {
            return p
        } catch {
            return nil
        }
    }

    @Test func aConfigReadsAsJSONWould() throws {
        let t = try parse("""
            # a node on the home server
            coordinator = "coord.example.org:7400"   # where it joins
            offer = '10G'
            k = 3
            n = +5
            notify = "mailto:me@example.org"
            big = 1_000_000
            flag = true

            [backup]
            paths = [
                "/home/me",      # first
                "/srv/photos\\t\\u00e9",
            ]
            every_minutes = 360
            exclude = []
            """)
        #expect(t["coordinator"] as? String == "coord.example.org:7400")
        #expect(t["offer"] as? String == "10G")
        #expect((t["k"] as? NSNumber)?.intValue == 3 && (t["n"] as? NSNumber)?.intValue == 5)
        #expect((t["big"] as? NSNumber)?.intValue == 1_000_000)
        #expect(String(cString: (t["flag"] as! NSNumber).objCType) == "c")
        let backup = try #require(t["backup"] as? [String: Any])
        #expect(backup["paths"] as? [String] == ["/home/me", "/srv/photos\t\u{e9}"])
        #expect((backup["every_minutes"] as? NSNumber)?.intValue == 360)
        #expect((backup["exclude"] as? [Any])?.isEmpty == true)
        #expect(Set(t.keys) == ["coordinator", "offer", "k", "n", "notify", "big", "flag", "backup"])
    }

    @Test func whatIsNotUsedOrIsMalformedIsRefusedWithItsLine() {
        let cases: [(String, Int, String)] = [
            ("k = 1\nk = 2", 2, "set twice"),
            ("[backup]\n[backup]", 2, "appears twice"),
            ("a.b = 1", 1, "dotted keys"),
            ("[a.b]", 1, "dotted table"),
            ("[[x]]", 1, "arrays of tables"),
            ("x = {a = 1}", 1, "inline tables"),
            ("x = 1.5", 1, "whole numbers"),
            ("x = 1e3", 1, "whole numbers"),
            ("x = 99999999999999999999999", 1, "too large"),
            ("x = 012", 1, "not a string"),
            ("x = hello", 1, "strings need quotes"),
            ("x = \"open", 1, "does not end"),
            ("x = \"\"\"a\"\"\"", 1, "multi-line"),
            ("x = [1, [2]]", 1, "arrays inside arrays"),
            ("x = [1, 2", 1, "never ends"),
            ("x = [1 2]", 1, "expected , or ]"),
            ("x = 1 y = 2", 1, "one setting per line"),
            ("x =", 1, "a value was expected"),
            ("\n\n= 3", 3, "a key was expected"),
            ("x = \"\\q\"", 1, "not a TOML escape"),
            ("x = \"\\uD800\"", 1, "Unicode scalar"),
            ("x = \"a\u{01}b\"", 1, "control character"),
            ("backup = 1\n[backup]", 2, "appears twice"),
        ]
        for (text, line, words) in cases {
            let p = problem(text)
            #expect(p?.line == line && p?.what.contains(words) == true, "\(text.debugDescription): \(String(describing: p))")
        }
    }

    /// Hostile bytes: every mutation of a valid config is either read or refused.
    @Test func mutatedConfigsNeverTrap() {
        let seed = Array("""
            coordinator = "c:1"
            offer = "1G"
            [backup]
            paths = ["/a", '/b'] # c
            every_minutes = 5
            """.utf8)
        var rng = SeededRandom(seed: 77)
        var read = 0, refused = 0
        for _ in 0..<20_000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: at)
                default: bytes.insert(Array("[]{}=\"'#\n\\,._".utf8).randomElement(using: &rng)!, at: at)
                }
                if bytes.isEmpty { bytes = [0x3d] }
            }
            if (try? TOMLSubset.parse(Data(bytes))) != nil { read += 1 } else { refused += 1 }
        }
        #expect(read > 0 && refused > 0, "read \(read), refused \(refused)")
    }
}
