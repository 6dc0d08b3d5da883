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
