import Foundation
import CairnTestSupport
import Testing

/// A name that is not UTF-8 is shown with its odd bytes as `\xNN` by every command that
/// prints names, once (not escaped twice), and never dropped.
@Suite struct ByteNameDisplayTests {
    func create(_ path: [UInt8], contents: String) {
        let fd = (path + [0]).withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        }
        #expect(fd >= 0)
        _ = contents.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }

    @Test func lsFindAndDiffEscapeBytesThatAreNotUTF8() throws {
        let r = try SmallRepository()
        let src = r.scratch.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let latin1 = Array((src + "/caf").utf8) + [0xE9] + Array(".txt".utf8)
        create(latin1, contents: "first")
        let old = try r.backup([src])
        create(latin1, contents: "second, longer")
        let new = try r.backup([src])

        let ls = try CLI.run(["ls", "latest", src] + r.d)
        #expect(ls.status == 0, "\(ls.stderr)")
        #expect(ls.stdout.contains("\(src)/caf\\xe9.txt\n"), "\(ls.stdout)")
        let find = try CLI.run(["find", "caf*"] + r.d)
        #expect(find.stdout.contains("\(src)/caf\\xe9.txt  (file; in 2 snapshots"), "\(find.stdout)")
        let diff = try CLI.run(["diff", old, new] + r.d)
        #expect(diff.stdout.contains("M    \(src)/caf\\xe9.txt"), "\(diff.stdout)")
        for out in [ls.stdout, find.stdout, diff.stdout] { #expect(!out.contains("\\x5c"), "escaped twice: \(out)") }
    }

    /// JSON can only carry text, and the escaped text of a name that is not UTF-8 could be
    /// a real name too (`caf\xe9.txt` spelled out): `path_bytes` (and `link_target_bytes`)
    /// give the exact bytes as base64, only when they are not UTF-8.
    @Test func jsonGivesTheBytesOfNamesThatAreNotUTF8() throws {
        let r = try SmallRepository()
        let src = r.scratch.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let latin1 = Array((src + "/caf").utf8) + [0xE9] + Array(".txt".utf8)
        create(latin1, contents: "first")
        // A real name that reads like the escaped one, and a link to the odd name.
        create(Array((src + "/caf\\xe9.txt").utf8), contents: "look-alike")
        let target = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)
        #expect((target + [0]).withUnsafeBufferPointer { t in
            t.withMemoryRebound(to: CChar.self) { symlink($0.baseAddress!, src + "/link") }
        } == 0)
        let old = try r.backup([src])
        create(latin1, contents: "second, longer")
        let new = try r.backup([src])
        let raw = Data(latin1).base64EncodedString()

        func object(_ result: CLIResult) throws -> [String: Any] {
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        }
        let ls = try object(try CLI.run(["ls", "latest", src, "--json"] + r.d))
        let entries = try #require(ls["entries"] as? [[String: Any]])
        let odd = entries.filter { $0["path_bytes"] != nil }
        #expect(odd.count == 1, "\(entries)")
        #expect(odd.first?["path_bytes"] as? String == raw)
        #expect(odd.first?["path"] as? String == src + "/caf\\xe9.txt")
        let alike = entries.first { $0["path"] as? String == src + "/caf\\xe9.txt" && $0["path_bytes"] == nil }
        #expect(alike != nil, "the real name that reads the same has no bytes field: \(entries)")
        let link = try #require(entries.first { ($0["path"] as? String)?.hasSuffix("/link") == true })
        #expect(link["link_target_bytes"] as? String == Data(target).base64EncodedString())

        let find = try object(try CLI.run(["find", "caf*", "--json"] + r.d))
        let matches = try #require(find["matches"] as? [[String: Any]])
        #expect(matches.compactMap { $0["path_bytes"] as? String } == [raw], "\(matches)")

        let diff = try object(try CLI.run(["diff", old, new, "--json"] + r.d))
        let changes = try #require(diff["changes"] as? [[String: Any]])
        #expect(changes.compactMap { $0["path_bytes"] as? String } == [raw], "\(changes)")
    }

    /// Swift turns argv bytes that are not UTF-8 into U+FFFD, which names another path:
    /// such a backup root is refused by its real name, not reported missing.
    @Test func aBackupRootThatIsNotUTF8IsRefusedByName() throws {
        let r = try SmallRepository()
        let src = r.scratch.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let odd = Array((src + "/caf").utf8) + [0xE9]
        #expect((odd + [0]).withUnsafeBufferPointer { b in b.withMemoryRebound(to: CChar.self) { mkdir($0.baseAddress!, 0o755) } } == 0)
        let bin = try #require(CLI.binary)
        // The shell passes the byte through; Swift's own process arguments cannot.
        let result = try ChildProcess.run("/bin/sh", ["-c", #"exec "$0" backup "$1$(printf '\351')" "$2" "$3""#, bin, src + "/caf"] + r.d)
        #expect(result.status == 64, "\(result.stderrText)")
        #expect(result.stderrText.contains("\(src)/caf\\xe9 is not valid UTF-8"), "\(result.stderrText)")
        #expect(!result.stderrText.contains("does not exist"), "\(result.stderrText)")
    }
}
