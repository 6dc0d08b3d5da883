import Foundation
import CairnTestSupport
import Testing

/// A data directory with targets and a helper to back up, for the retention commands.
final class SmallRepository {
    let scratch: TemporaryFolder
    let d: [String]
    let targets: [String]

    init(n: Int = 3, k: Int = 2) throws {
        let scratch = try TemporaryFolder("cli")
        self.scratch = scratch
        d = ["--data-dir", scratch.sub("data")]
        targets = (1...n).map { scratch.sub("t\($0)") }
        self.k = k
        let i = try CLI.run(["init"] + d + ["--phrase-out", scratch.sub("phrase")])
        #expect(i.status == 0, "\(i.stderr)")
    }

    private let k: Int
    private var first = true

    /// Backs up `paths`; returns the snapshot id.
    func backup(_ paths: [String]) throws -> String {
        var args = ["backup"] + d + paths + ["--json"]
        if first { args += ["--to", targets.joined(separator: ","), "--k", "\(k)"] }
        first = false
        let b = try CLI.run(args)
        #expect(b.status == 0, "\(b.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any])
        return try #require(summary["snapshot"] as? String)
    }

    func snapshotIDs() throws -> [String] {
        let r = try CLI.run(["snapshots"] + d + ["--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        return list.compactMap { $0["id"] as? String }
    }

    func json(_ args: [String]) throws -> (CLIResult, [String: Any]) {
        let r = try CLI.run(args + d + ["--json"])
        #expect(r.status == 0, "cairn \(args.joined(separator: " ")): \(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
        return (r, obj)
    }

    func write(_ relative: String, _ bytes: [UInt8]) throws {
        let p = scratch.sub(relative)
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: p, contents: Data(bytes)))
    }
}

@Suite struct ForgetCommandTests {
    @Test func keepLastPerGroupWithDryRunAndReasons() throws {
        let r = try SmallRepository()
        try r.write("a/f", Array("one".utf8))
        try r.write("b/g", Array("other".utf8))
        var ids: [String] = []
        for i in 0..<3 {
            try r.write("a/f", Array("version \(i)".utf8))
            ids.append(try r.backup([r.scratch.sub("a")]))
        }
        let other = try r.backup([r.scratch.sub("b")])

        let (_, dry) = try r.json(["forget", "--keep-last", "2", "--dry-run"])
        #expect(dry["dry_run"] as? Bool == true)
        #expect(dry["removed"] as? Int == 1)
        #expect(dry["kept"] as? Int == 3)
        let groups = try #require(dry["groups"] as? [[String: Any]])
        #expect(groups.count == 2)
        let first = try #require(groups.first { ($0["paths"] as? [String])?.first?.hasSuffix("/a") == true })
        let snaps = try #require(first["snapshots"] as? [[String: Any]])
        #expect(snaps.map { $0["id"] as? String } == [ids[2], ids[1], ids[0]])
        #expect(snaps.map { $0["keep"] as? Bool } == [true, true, false])
        #expect(snaps[0]["reasons"] as? [String] == ["last snapshot"])
        #expect(try r.snapshotIDs().count == 4, "a dry run changes nothing")

        let human = try CLI.run(["forget"] + r.d + ["--keep-last", "2"])
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stdout.contains("remove 1 snapshot:"), "\(human.stdout)")
        #expect(human.stdout.contains("last snapshot"))
        #expect(human.stdout.contains("cairn prune"))
        #expect(try r.snapshotIDs().sorted() == [ids[1], ids[2], other].sorted())

        let gone = try CLI.run(["restore", ids[0]] + r.d + ["--to", r.scratch.sub("out")])
        #expect(gone.status == 1)
        #expect(gone.stderr.contains("no snapshot \(ids[0])"), "\(gone.stderr)")
        let kept = try CLI.run(["restore", ids[1]] + r.d + ["--to", r.scratch.sub("out")])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(try String(contentsOfFile: r.scratch.sub("out") + r.scratch.sub("a/f"), encoding: .utf8) == "version 1")

        // Without groups, keep-last counts across every path.
        let (_, all) = try r.json(["forget", "--keep-last", "1", "--group-by", ""])
        #expect(all["removed"] as? Int == 2)
        #expect(try r.snapshotIDs() == [other])
    }

    /// `forget ID...`: exactly the snapshots named go (ids and unique prefixes), with
    /// `--dry-run` and `--json` as the policy form; an unknown or ambiguous prefix is an
    /// error naming it and nothing changes; then `prune` frees the data only they used.
    @Test func forgetByIDRemovesExactlyThoseAndPruneFreesTheirData() throws {
        let r = try SmallRepository()
        var rng = SeededRandom(seed: 21)
        // Snapshots of the same folder, each with a file of its own, until two ids share
        // a first digit (at most 17: there are 16 digits), for an ambiguous prefix, and
        // at least three, so one is left when the two victims go.
        var ids: [String] = []
        var shared: String?
        while shared == nil || ids.count < 3 {
            try r.write("a/only-\(ids.count)", rng.bytes(200_000))
            let id = try r.backup([r.scratch.sub("a")])
            if shared == nil { shared = ids.first { $0.first == id.first }.map { _ in String(id.prefix(1)) } }
            ids.append(id)
            try FileManager.default.removeItem(atPath: r.scratch.sub("a/only-\(ids.count - 1)"))
        }
        let ambiguousPrefix = try #require(shared)
        // The first given whole, the last by its shortest unique prefix.
        let last = ids[ids.count - 1]
        let prefix = try #require((1...last.count).map { String(last.prefix($0)) }.first { p in ids.count { $0.hasPrefix(p) } == 1 })
        let victims = [ids[0], last]
        let before = try r.snapshotIDs()

        // Refused, naming what was wrong; nothing removed.
        for (bad, words) in [(ambiguousPrefix, "\(ambiguousPrefix) matches"), ("ffffffffffffffff0", "no snapshot ffffffffffffffff0")] {
            let refused = try CLI.run(["forget"] + r.d + [victims[0], bad])
            #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
            #expect(refused.stderr.contains(words) && refused.stderr.contains("nothing was forgotten"), "\(refused.stderr)")
            #expect(try r.snapshotIDs() == before)
        }
        let mixed = try CLI.run(["forget"] + r.d + [victims[0], "--keep-last", "1"])
        #expect(mixed.status == 64, "\(mixed.stderr)")
        #expect(mixed.stderr.contains("not both"), "\(mixed.stderr)")
        let empty = try CLI.run(["forget"] + r.d + [""])
        #expect(empty.status == 1 && empty.stderr.contains("is empty"), "\(empty.stderr)")

        // A dry run says what would go and changes nothing.
        let (_, dry) = try r.json(["forget", victims[0], prefix, "--dry-run"])
        #expect(dry["dry_run"] as? Bool == true)
        #expect(dry["removed"] as? Int == 2)
        #expect(dry["kept"] as? Int == ids.count - 2)
        let listed = try #require((dry["groups"] as? [[String: Any]])?.first?["snapshots"] as? [[String: Any]])
        #expect(Set(listed.filter { $0["keep"] as? Bool == false }.compactMap { $0["id"] as? String }) == Set(victims))
        #expect(listed.compactMap { $0["id"] as? String } == Array(ids.reversed()), "newest first")
        #expect(try r.snapshotIDs() == before)
        let words = try CLI.run(["forget"] + r.d + [victims[0], "--dry-run"])
        #expect(words.status == 0 && words.stdout.contains("would remove 1 snapshot given by id:") && words.stdout.contains(victims[0]),
                "\(words.stdout)")

        // The id given twice (whole and as a prefix) counts once.
        let human = try CLI.run(["forget"] + r.d + [victims[0], prefix, String(victims[0].prefix(12))])
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stdout.contains("remove 2 snapshots given by id:") && human.stdout.contains("cairn prune"), "\(human.stdout)")
        #expect(try r.snapshotIDs() == before.filter { !victims.contains($0) })
        let gone = try CLI.run(["restore", victims[0]] + r.d + ["--to", r.scratch.sub("out")])
        #expect(gone.status == 1 && gone.stderr.contains("no snapshot \(victims[0])"), "\(gone.stderr)")

        // Prune frees what only they used (each had a file of its own); the rest restores.
        let (_, pruned) = try r.json(["prune", "--max-unused", "0%"])
        #expect((pruned["bytes_freed"] as? Int ?? 0) > 0, "\(pruned)")
        let keptID = try #require(ids.first { !victims.contains($0) })
        let kept = try CLI.run(["restore", keptID] + r.d + ["--to", r.scratch.sub("out2")])
        #expect(kept.status == 0, "\(kept.stderr)")
        let n = try #require(ids.firstIndex(of: keptID))
        #expect(FileManager.default.fileExists(atPath: r.scratch.sub("out2") + r.scratch.sub("a/only-\(n)")))
        let check = try CLI.run(["check", "--no-repair"] + r.d)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }

    @Test func refusesAnEmptyPolicyAndBadArguments() throws {
        let r = try SmallRepository()
        try r.write("a/f", [1, 2, 3])
        _ = try r.backup([r.scratch.sub("a")])
        let none = try CLI.run(["forget"] + r.d)
        #expect(none.status == 64)
        #expect(none.stderr.contains("no policy given"), "\(none.stderr)")
        let badWithin = try CLI.run(["forget"] + r.d + ["--keep-within", "3w"])
        #expect(badWithin.status == 64)
        #expect(badWithin.stderr.contains("not a duration"), "\(badWithin.stderr)")
        let badCount = try CLI.run(["forget"] + r.d + ["--keep-daily", "x"])
        #expect(badCount.status == 64)
        let badGroup = try CLI.run(["forget"] + r.d + ["--keep-last", "1", "--group-by", "tags"])
        #expect(badGroup.status == 64)
        #expect(try r.snapshotIDs().count == 1)
        let within = try CLI.run(["forget"] + r.d + ["--keep-within", "1d", "--keep-daily", "unlimited"])
        #expect(within.status == 0, "\(within.stderr)")
        #expect(within.stdout.contains("within 1d, daily snapshot"), "\(within.stdout)")
    }
}
