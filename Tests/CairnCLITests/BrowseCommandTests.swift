import Foundation
import CairnTestSupport
import Testing

@Suite struct BrowseCommandTests {
    /// Two snapshots of one folder: a file added, one removed, one changed, one only
    /// chmod'ed, one replaced by a folder, and names that need escaping.
    @Test func lsFindAndDiffThroughTheBinary() throws {
        let r = try SmallRepository()
        let src = r.scratch.sub("src")
        try r.write("src/keep.txt", Array("same".utf8))
        try r.write("src/gone.txt", Array("bye".utf8))
        try r.write("src/edit.txt", Array("before".utf8))
        try r.write("src/mode.txt", Array("mode".utf8))
        try r.write("src/swap", Array("file first".utf8))
        try r.write("src/docs/report.odt", Array("report".utf8))
        try r.write("src/line\nbreak.odt", Array("odd name".utf8))
        try FileManager.default.createSymbolicLink(atPath: src + "/link", withDestinationPath: "keep.txt")
        // A name that is not UTF-8: "bad-" and the byte 0xff.
        let raw = Array((src + "/bad-").utf8CString.dropLast()) + [CChar(bitPattern: 0xff), 0]
        let fd = open(raw, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        #expect(fd >= 0)
        close(fd)
        let old = try r.backup([src])

        try FileManager.default.removeItem(atPath: src + "/gone.txt")
        try r.write("src/new.txt", Array("hello".utf8))
        try r.write("src/edit.txt", Array("after, longer".utf8))
        chmod(src + "/mode.txt", 0o600)
        try FileManager.default.removeItem(atPath: src + "/swap")
        try FileManager.default.createDirectory(atPath: src + "/swap", withIntermediateDirectories: false)
        let new = try r.backup([src])

        // ls: every path under the folder asked for; -l shows mode, size and the link.
        let ls = try CLI.run(["ls", "latest", src + "/docs"] + r.d)
        #expect(ls.status == 0, "\(ls.stderr)")
        #expect(ls.stdout == "\(src)/docs\n\(src)/docs/report.odt\n", "\(ls.stdout)")
        let long = try CLI.run(["ls", String(old.prefix(6)), src, "-l"] + r.d)
        #expect(long.status == 0, "\(long.stderr)")
        let lines = long.stdout.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("-rw-r--r--") && $0.hasSuffix(" \(src)/gone.txt") && $0.contains(" 3 ") }, "\(long.stdout)")
        #expect(lines.contains { $0.hasPrefix("lrwxrwxrwx") && $0.hasSuffix("\(src)/link -> keep.txt") }, "\(long.stdout)")
        #expect(lines.contains { $0.hasSuffix("\(src)/line\\x0abreak.odt") }, "a newline in a name is escaped: \(long.stdout)")
        #expect(lines.contains { $0.hasSuffix("\(src)/bad-\\xff") }, "a byte that is not UTF-8 is escaped: \(long.stdout)")
        let bad = try CLI.run(["find", "bad-*"] + r.d)
        #expect(bad.stdout.contains("\(src)/bad-\\xff  (file; in 2 snapshots"), "\(bad.stdout)")
        #expect(!lines.contains { $0.contains("new.txt") })
        let (_, lsJSON) = try r.json(["ls", new, src + "/edit.txt"])
        let entries = try #require(lsJSON["entries"] as? [[String: Any]])
        #expect(entries.count == 1)
        #expect(entries[0]["path"] as? String == src + "/edit.txt")
        #expect(entries[0]["type"] as? String == "file")
        #expect(entries[0]["size"] as? Int == 13)
        #expect(entries[0]["mode"] as? String == "644")
        let nothing = try CLI.run(["ls", "latest", src + "/nope"] + r.d)
        #expect(nothing.status == 1)
        #expect(nothing.stderr.contains("has nothing at"), "\(nothing.stderr)")
        let noSnap = try CLI.run(["ls", "ffffffff"] + r.d)
        #expect(noSnap.status == 1)
        #expect(noSnap.stderr.contains("no snapshot ffffffff"), "\(noSnap.stderr)")

        // find: names by glob, with the snapshots that hold each.
        let (_, found) = try r.json(["find", "*.txt"])
        let matches = try #require(found["matches"] as? [[String: Any]])
        let byPath = Dictionary(uniqueKeysWithValues: matches.map { ($0["path"] as! String, $0["snapshots"] as! [String]) })
        #expect(byPath["\(src)/gone.txt"] == [old])
        #expect(byPath["\(src)/new.txt"] == [new])
        #expect(byPath["\(src)/keep.txt"] == [old, new])
        #expect(byPath.count == 5)
        #expect(found["snapshots_searched"] as? Int == 2)
        let byWholePath = try CLI.run(["find", src + "/docs/*"] + r.d)
        #expect(byWholePath.status == 0, "\(byWholePath.stderr)")
        #expect(byWholePath.stdout.contains("\(src)/docs/report.odt  (file; in 2 snapshots: \(old) \(new))"), "\(byWholePath.stdout)")
        #expect(byWholePath.stdout.hasSuffix("1 match in 2 snapshots\n"))
        let relative = try CLI.run(["find", "docs/*"] + r.d)
        #expect(relative.status == 64)
        #expect(relative.stderr.contains("not absolute"), "\(relative.stderr)")

        // diff: each kind of change once.
        let (_, diff) = try r.json(["diff", old, new])
        let changes = try #require(diff["changes"] as? [[String: Any]])
        let kinds = Dictionary(uniqueKeysWithValues: changes.map { ($0["path"] as! String, $0["change"] as! String) })
        #expect(kinds["\(src)/new.txt"] == "added")
        #expect(kinds["\(src)/gone.txt"] == "removed")
        #expect(kinds["\(src)/edit.txt"] == "changed")
        #expect(kinds["\(src)/mode.txt"] == "metadata")
        #expect(kinds["\(src)/swap"] == "type")
        #expect(kinds["\(src)/keep.txt"] == nil)
        #expect(kinds["\(src)/docs/report.odt"] == nil)
        #expect(diff["added"] as? Int == 1)
        // The folder itself: entries came and went, so its mtime changed.
        #expect(kinds[src] == "metadata")
        #expect(diff["metadata_only"] as? Int == 2)
        let human = try CLI.run(["diff", String(old.prefix(8)), "latest"] + r.d)
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stdout.contains("+    \(src)/new.txt\n"), "\(human.stdout)")
        #expect(human.stdout.contains("-    \(src)/gone.txt\n"))
        #expect(human.stdout.contains("M    \(src)/edit.txt\n"))
        #expect(human.stdout.contains("U    \(src)/mode.txt  (mode"))
        #expect(human.stdout.contains("T    \(src)/swap\n"))
    }
}
