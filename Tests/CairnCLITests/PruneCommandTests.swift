import Foundation
import CairnTestSupport
import Testing

/// Prune through the binary, and the kill -9 test: the process kills itself after each of
/// its durable steps in turn (CAIRN_CRASH_AFTER=N), and every kept snapshot must still
/// restore byte for byte, and the next prune must finish the job.
@Suite struct PruneCommandTests {
    /// A repository at `base` (absolute paths are remembered, so copies are made and
    /// removed at the same place): snapshots A (f1, f2), B (f1, f2 changed, f3) and
    /// C (f1, f3, f4); A forgotten, so A's pack is half used (f1) and half not (f2, its
    /// tree); then a backup killed after its packs were stored but before its snapshot
    /// was published, leaving shards no root record names.
    static func build(_ base: String) throws -> (d: [String], src: String, kept: [String]) {
        let d = ["--data-dir", base + "/data"]
        let src = base + "/src"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        var rng = SystemRandomNumberGenerator()
        func put(_ name: String, _ size: Int) {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(FileManager.default.createFile(atPath: src + "/" + name, contents: Data(bytes)))
        }
        #expect(try CLI.run(["init"] + d + ["--phrase-out", base + "/phrase"]).status == 0)
        let targets = (1...3).map { base + "/t\($0)" }.joined(separator: ",")
        func backup(_ extra: [String] = []) throws -> String {
            let b = try CLI.run(["backup"] + d + [src, "--json"] + extra)
            #expect(b.status == 0, "\(b.stderr)")
            let s = try #require(try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any])
            return try #require(s["snapshot"] as? String)
        }
        put("f1", 700_000)
        put("f2", 700_000)
        _ = try backup(["--to", targets, "--k", "2"])
        put("f2", 650_000)
        put("f3", 300_000)
        let b = try backup()
        try FileManager.default.removeItem(atPath: src + "/f2")
        put("f4", 400_000)
        let c = try backup()
        let f = try CLI.run(["forget"] + d + ["--keep-last", "2"])
        #expect(f.status == 0, "\(f.stderr)")
        put("f5", 500_000)
        let killed = try CLI.run(["backup"] + d + [src], environment: ["CAIRN_CRASH_AFTER": "1"])
        #expect(killed.status == 137, "the backup was to kill itself before publishing: \(killed.stderr)")
        return (d, src, [b, c])
    }

    static func storeSizes(_ base: String) -> [UInt64] {
        (1...3).map { ((try? FileManager.default.attributesOfItem(atPath: base + "/t\($0)/data.mdb"))?[.size] as? UInt64) ?? 0 }
    }

    /// Every file, folder and symlink under `a` and `b`, and the bytes of the files, agree.
    static func expectSameTree(_ a: String, _ b: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let fm = FileManager.default
        let left = try fm.subpathsOfDirectory(atPath: a).sorted()
        let right = try fm.subpathsOfDirectory(atPath: b).sorted()
        #expect(left == right, sourceLocation: sourceLocation)
        for p in left where right.contains(p) {
            var isDir: ObjCBool = false
            _ = fm.fileExists(atPath: a + "/" + p, isDirectory: &isDir)
            if !isDir.boolValue {
                #expect(fm.contents(atPath: a + "/" + p) == fm.contents(atPath: b + "/" + p), "\(p) differs", sourceLocation: sourceLocation)
            }
        }
    }

    static func restore(_ d: [String], _ id: String, into out: String, from: [String] = []) throws {
        let r = try CLI.run(["restore", id] + d + ["--to", out] + from)
        #expect(r.status == 0, "restore \(id): \(r.stderr)")
    }

    static func snapshotIDs(_ d: [String]) throws -> [String] {
        let r = try CLI.run(["snapshots"] + d + ["--json"])
        let list = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], "\(r.stderr)")
        return list.compactMap { $0["id"] as? String }
    }

    static func json(_ r: CLIResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)\n\(r.stderr)")
    }

    @Test func pruneRemovesRepacksReclaimsOrphansAndShrinksEveryTarget() throws {
        let s = try TemporaryFolder("cli")
        let base = s.sub("repo")
        let (d, _, kept) = try Self.build(base)
        for id in kept { try Self.restore(d, id, into: s.sub("ref-\(id)")) }
        let before = Self.storeSizes(base)
        // A second device on the same targets, which has the kept snapshots' trees cached.
        let other = ["--data-dir", s.sub("other")]
        let from = ["--from", (1...3).map { base + "/t\($0)" }.joined(separator: ",")]
        let recovered = try CLI.run(["init", "--recover", "--phrase-file", base + "/phrase"] + other)
        #expect(recovered.status == 0, "\(recovered.stderr)")
        for id in kept { #expect(try CLI.run(["ls", id] + other + from).status == 0) }

        let dry = try CLI.run(["prune"] + d + ["--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        let plan = try Self.json(dry)
        #expect(plan["dry_run"] as? Bool == true)
        #expect(plan["packs_repacked"] as? Int == 1)
        #expect(plan["packs_orphaned"] as? Int == 1)
        #expect((plan["bytes_freed"] as? Int ?? 0) > 0)
        #expect(Self.storeSizes(base) == before, "a dry run changes nothing")

        let run = try CLI.run(["prune"] + d + ["--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let done = try Self.json(run)
        #expect(done["packs_repacked"] as? Int == 1)
        #expect(done["packs_orphaned"] as? Int == 1)
        #expect(done["packs_written"] as? Int == 1)
        #expect(done["trees_rewritten"] as? Int == 2, "B and C name f1, which moved")
        let after = Self.storeSizes(base)
        let targets = try #require(done["targets"] as? [[String: Any]])
        #expect(targets.count == 3)
        var total = 0
        for (i, t) in targets.enumerated() {
            #expect(after[i] < before[i], "target \(i + 1) shrank: \(before[i]) → \(after[i])")
            #expect(t["bytes_before"] as? Int == Int(before[i]))
            #expect(t["bytes_after"] as? Int == Int(after[i]))
            #expect(t["bytes_freed"] as? Int == Int(before[i] - after[i]))
            total += t["bytes_freed"] as? Int ?? 0
        }
        #expect(done["bytes_freed"] as? Int == total)
        for id in kept {
            try Self.restore(d, id, into: s.sub("out-\(id)"))
            try Self.expectSameTree(s.sub("ref-\(id)"), s.sub("out-\(id)"))
            // The other device's cached tree names the packs the prune removed: it must
            // read the new tree instead.
            try Self.restore(other, id, into: s.sub("other-\(id)"), from: from)
            try Self.expectSameTree(s.sub("ref-\(id)"), s.sub("other-\(id)"))
        }
        let check = try CLI.run(["check"] + d + ["--no-repair", "--json"])
        #expect(check.status == 0, "\(check.stderr)")
        let c = try Self.json(check)
        #expect(c["shards_good"] as? Int == c["shards_checked"] as? Int)

        let again = try Self.json(try CLI.run(["prune"] + d + ["--json"]))
        #expect(again["packs_removed"] as? Int == 0)
        #expect(again["packs_repacked"] as? Int == 0)
        #expect(again["packs_orphaned"] as? Int == 0)
        #expect(again["bytes_freed"] as? Int == 0)

        let human = try CLI.run(["prune"] + d + ["--max-unused", "0%"])
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stdout.contains("freed"), "\(human.stdout)")
        let bad = try CLI.run(["prune"] + d + ["--max-unused", "120%"])
        #expect(bad.status == 64)
    }

    @Test func killedAtEveryStepLosesNothingAndTheNextPruneFinishes() throws {
        let s = try TemporaryFolder("cli")
        let base = s.sub("repo")
        let pristine = s.sub("pristine")
        let (d, _, kept) = try Self.build(base)
        for id in kept { try Self.restore(d, id, into: s.sub("ref-\(id)")) }
        let before = Self.storeSizes(base)
        try FileManager.default.moveItem(atPath: base, toPath: pristine)

        var kills = 0
        for step in 1...40 {
            try FileManager.default.copyItem(atPath: pristine, toPath: base)
            defer { try? FileManager.default.removeItem(atPath: base) }
            let first = try CLI.run(["prune"] + d, environment: ["CAIRN_CRASH_AFTER": "\(step)"])
            if first.status == 0 { break }
            #expect(first.status == 137, "step \(step): \(first.stderr)")
            kills += 1
            #expect(try Self.snapshotIDs(d).sorted() == kept.sorted(), "step \(step)")
            for id in kept {
                let out = s.sub("killed-\(step)-\(id)")
                try Self.restore(d, id, into: out)
                try Self.expectSameTree(s.sub("ref-\(id)"), out)
                try? FileManager.default.removeItem(atPath: out)
            }
            let second = try CLI.run(["prune"] + d + ["--json"])
            #expect(second.status == 0, "step \(step): the next prune finishes: \(second.stderr)")
            let after = Self.storeSizes(base)
            for i in 0..<3 { #expect(after[i] < before[i], "step \(step): target \(i + 1) shrank") }
            let third = try Self.json(try CLI.run(["prune"] + d + ["--json"]))
            #expect(third["packs_orphaned"] as? Int == 0, "step \(step)")
            #expect(third["packs_repacked"] as? Int == 0, "step \(step)")
            for id in kept {
                let out = s.sub("pruned-\(step)-\(id)")
                try Self.restore(d, id, into: out)
                try Self.expectSameTree(s.sub("ref-\(id)"), out)
                try? FileManager.default.removeItem(atPath: out)
            }
        }
        // Index cleaned, packs written, the root record on each of 3 targets, state
        // cleaned, shards removed from 3 targets, 3 compactions.
        #expect(kills >= 12, "the prune passed \(kills) crash points")
    }

    @Test func killedForgetKeepsEitherListAndTheNextForgetFinishes() throws {
        let r = try SmallRepository()
        try r.write("a/f", Array("one".utf8))
        var ids: [String] = []
        for i in 0..<3 {
            try r.write("a/f", Array("version \(i)".utf8))
            ids.append(try r.backup([r.scratch.sub("a")]))
        }
        // Killed after the new list reached the first, then the second target.
        for (step, keep) in [(1, 2), (2, 1)] {
            let f = try CLI.run(["forget"] + r.d + ["--keep-last", "\(keep)"], environment: ["CAIRN_CRASH_AFTER": "\(step)"])
            #expect(f.status == 137, "\(f.stderr)")
            #expect(try r.snapshotIDs() == Array(ids.suffix(keep)))
            let again = try CLI.run(["forget"] + r.d + ["--keep-last", "\(keep)"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(try r.snapshotIDs() == Array(ids.suffix(keep)))
            let restored = try CLI.run(["restore", "latest"] + r.d + ["--to", r.scratch.sub("out-\(step)")])
            #expect(restored.status == 0, "\(restored.stderr)")
        }
    }
}
