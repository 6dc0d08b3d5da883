import Foundation
import CairnTestSupport
import Testing

/// One owner, two repositories (the same phrase, two data directories, two sets of
/// targets): a drive of one in place of a drive of the other is left alone, never taken
/// for a newer copy of the history; a machine recovered from the phrase alone chooses
/// between them; and a root record never names packs the targets do not hold.
@Suite struct RepositoryIdentityTests {
    /// Two repositories of one owner: "home" (five targets, 3-of-5, two snapshots of the
    /// whole source) and "work" (three targets, 2-of-3, three newer snapshots of one file,
    /// so its root record has the higher sequence).
    final class TwoRepositories {
        let s: TemporaryFolder
        let source: String
        let home: [String]
        let work: [String]
        let homeData: [String]
        let workData: [String]
        var homeSnapshots: [String] = []
        var workSnapshots: [String] = []

        init() throws {
            let s = try TemporaryFolder("cli")
            self.s = s
            source = s.sub("src")
            home = (1...5).map { s.sub("home\($0)") }
            work = (1...3).map { s.sub("work\($0)") }
            homeData = ["--data-dir", s.sub("home-data")]
            workData = ["--data-dir", s.sub("work-data")]
            var rng = SeededRandom(seed: 21)
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: source + "/big.bin", contents: Data(rng.bytes(600_000))))
            #expect(FileManager.default.createFile(atPath: source + "/notes.txt", contents: Data("home notes\n".utf8)))
            try run(["init"] + homeData + ["--phrase-out", s.sub("phrase")])
            try run(["init", "--recover"] + workData + ["--phrase-file", s.sub("phrase")])
            for i in 0..<2 {
                #expect(FileManager.default.createFile(atPath: source + "/notes.txt", contents: Data("home notes \(i)\n".utf8)))
                homeSnapshots.append(try snapshot(try run(["backup"] + homeData + [source, "--to", home.joined(separator: ","), "--json"])))
            }
            for _ in 0..<3 {
                workSnapshots.append(try snapshot(try run(["backup"] + workData + [source + "/notes.txt", "--to", work.joined(separator: ","),
                                                                                   "--k", "2", "--json"])))
            }
        }

        @discardableResult
        func run(_ args: [String], status: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> CLIResult {
            let r = try CLI.run(args)
            #expect(r.status < 128, "cairn \(args.first ?? "") died of signal \(r.status - 128): \(r.stderr)", sourceLocation: sourceLocation)
            #expect(r.status == status, "cairn \(args.joined(separator: " ")): \(r.stderr)", sourceLocation: sourceLocation)
            return r
        }

        func snapshot(_ r: CLIResult) throws -> String {
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            return try #require(summary["snapshot"] as? String)
        }

        /// The snapshot ids and repository ids `cairn snapshots --json` lists.
        func snapshots(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> (ids: [String], repositories: Set<String>) {
            let r = try run(["snapshots", "--json"] + args, sourceLocation: sourceLocation)
            let items = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
            return (items.compactMap { $0["id"] as? String }, Set(items.compactMap { $0["repository"] as? String }))
        }

        func repositoryID(_ data: [String]) throws -> String {
            let config = try #require(FileManager.default.contents(atPath: data[1] + "/config.json"))
            let json = try #require(try JSONSerialization.jsonObject(with: config) as? [String: Any])
            return try #require(json["repository"] as? String)
        }

        /// Restores `home`'s latest snapshot and compares it with the source.
        func expectHomeRestores(_ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let out = s.sub("out-\(UUID().uuidString)")
            try run(["restore", "latest"] + homeData + ["--to", out] + extra, sourceLocation: sourceLocation)
            #expect(FileManager.default.contents(atPath: out + source + "/big.bin") == FileManager.default.contents(atPath: source + "/big.bin"),
                    sourceLocation: sourceLocation)
            #expect(FileManager.default.contents(atPath: out + source + "/notes.txt") == Data("home notes 1\n".utf8), sourceLocation: sourceLocation)
            try? FileManager.default.removeItem(atPath: out)
        }
    }

    // MARK: the swapped drive

    /// The scenario of the issue: a drive of the owner's other repository is plugged in
    /// where a target of this one was. `check` and `backup` used to take its root record
    /// (the higher sequence) as the newest and write it to every target, and this
    /// repository's snapshot history was gone.
    @Test func aDriveOfAnotherRepositoryInATargetsPlaceNeverReplacesTheHistory() throws {
        let w = try TwoRepositories()
        let realDrive = w.s.sub("home2-unplugged")
        try FileManager.default.moveItem(atPath: w.home[1], toPath: realDrive)
        try FileManager.default.moveItem(atPath: w.work[0], toPath: w.home[1])

        let check = try w.run(["check"] + w.homeData, status: 1)
        #expect(check.stderr.contains(w.home[1]) && check.stdout.contains("\(w.home[1]) holds another repository"), "\(check.stdout)\(check.stderr)")
        let backup = try w.run(["backup"] + w.homeData + [w.source], status: 1)
        #expect(backup.stderr.contains(w.home[1]) && backup.stderr.contains("another repository"), "\(backup.stderr)")
        for command in [["forget", "--keep-last", "1"], ["prune"]] {
            let r = try w.run(command + w.homeData, status: 1)
            #expect(r.stderr.contains("\(w.home[1])) holds another repository"), "\(r.stderr)")
        }
        let listed = try w.snapshots(w.homeData)
        #expect(listed.ids == w.homeSnapshots)
        try w.expectHomeRestores()
        let homeID = try w.repositoryID(w.homeData), workID = try w.repositoryID(w.workData)
        #expect(homeID != workID)
        #expect(listed.repositories == [homeID])
        let checked = try w.run(["check", "--no-repair", "--json"] + w.homeData, status: 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(checked.stdout.utf8)) as? [String: Any])
        #expect(report["repository"] as? String == homeID)

        // The other repository's drive kept its own history, and still serves it.
        #expect(try w.snapshots(w.workData + ["--from", [w.home[1], w.work[1]].joined(separator: ",")]).ids == w.workSnapshots)

        // The real drive back in its place: everything is as before, and backups go on.
        try FileManager.default.moveItem(atPath: w.home[1], toPath: w.work[0])
        try FileManager.default.moveItem(atPath: realDrive, toPath: w.home[1])
        try w.run(["check", "--no-repair"] + w.homeData)
        let nextRun = try w.run(["backup"] + w.homeData + [w.source, "--json"])
        let next = try w.snapshot(nextRun)
        let nextSummary = try #require(try JSONSerialization.jsonObject(with: Data(nextRun.stdout.utf8)) as? [String: Any])
        #expect(nextSummary["repository"] as? String == homeID)
        #expect(try w.snapshots(w.homeData).ids == w.homeSnapshots + [next])
        #expect(try w.snapshots(w.workData).ids == w.workSnapshots)
        try w.expectHomeRestores()
    }

    /// A target folder of another repository is not rebuilt over by `check`, even when
    /// every other target could rebuild it: the user must move it away first.
    @Test func checkDoesNotRebuildOverAnotherRepositorysTarget() throws {
        let w = try TwoRepositories()
        try FileManager.default.removeItem(atPath: w.home[4])
        try FileManager.default.moveItem(atPath: w.work[2], toPath: w.home[4])
        let before = try #require(FileManager.default.contents(atPath: w.home[4] + "/data.mdb"))
        let check = try w.run(["check", "--json"] + w.homeData, status: 1)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
        #expect((summary["targets_recreated"] as? [String]) == [])
        #expect((summary["targets_unusable"] as? [String]) == [w.home[4]])
        #expect(FileManager.default.contents(atPath: w.home[4] + "/data.mdb") == before)
        // Moved away, the folder is re-created from the other four.
        try FileManager.default.moveItem(atPath: w.home[4], toPath: w.work[2])
        let rebuilt = try w.run(["check"] + w.homeData)
        #expect(rebuilt.stdout.contains("re-created target \(w.home[4])"), "\(rebuilt.stdout)")
        try w.run(["check", "--no-repair"] + w.homeData)
        #expect(try w.snapshots(w.workData).ids == w.workSnapshots)
    }

    // MARK: recovery from the phrase alone

    @Test func aRecoveredMachineTakesTheNewestRepositoryAndRepositoryChoosesAnother() throws {
        let w = try TwoRepositories()
        let homeID = try w.repositoryID(w.homeData), workID = try w.repositoryID(w.workData)
        let all = (w.home + w.work).joined(separator: ",")

        // The phrase and every drive: the newest repository (work) by default, the other named.
        let fresh = ["--data-dir", w.s.sub("fresh")]
        try w.run(["init", "--recover"] + fresh + ["--phrase-file", w.s.sub("phrase")])
        let r = try w.run(["snapshots"] + fresh + ["--from", all])
        #expect(r.stdout.contains("repository \(workID)"), "\(r.stdout)")
        #expect(r.stderr.contains("2 repositories") && r.stderr.contains(homeID), "\(r.stderr)")
        for t in w.home { #expect(r.stderr.contains("skipped a target: target \(t) holds another repository"), "\(r.stderr)") }
        #expect(try w.snapshots(fresh + ["--from", all]).ids == w.workSnapshots)
        // That data directory now keeps that repository: another one is refused, clearly.
        let refused = try w.run(["snapshots"] + fresh + ["--from", all, "--repository", String(homeID.prefix(8))], status: 1)
        #expect(refused.stderr.contains("belongs to repository \(workID)"), "\(refused.stderr)")

        // --repository with a prefix picks the other; restore from a subset of its drives.
        let chosen = ["--data-dir", w.s.sub("chosen")]
        try w.run(["init", "--recover"] + chosen + ["--phrase-file", w.s.sub("phrase")])
        let out = w.s.sub("out")
        let restored = try w.run(["restore", "latest"] + chosen + ["--from", all, "--repository", String(homeID.prefix(6)), "--to", out,
                                                                   "--json"])
        #expect(!restored.stderr.contains("2 repositories"), "\(restored.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(restored.stdout.utf8)) as? [String: Any])
        #expect(summary["repository"] as? String == homeID)
        #expect(FileManager.default.contents(atPath: out + w.source + "/big.bin") == FileManager.default.contents(atPath: w.source + "/big.bin"))
        #expect(try w.repositoryID(chosen) == homeID)
        #expect(try w.snapshots(chosen + ["--from", all]).ids == w.homeSnapshots)

        // init --recover --repository ID keeps that id from the start.
        let pinned = ["--data-dir", w.s.sub("pinned")]
        try w.run(["init", "--recover"] + pinned + ["--phrase-file", w.s.sub("phrase"), "--repository", homeID])
        #expect(try w.repositoryID(pinned) == homeID)
        #expect(try w.snapshots(pinned + ["--from", all]).ids == w.homeSnapshots)
        let short = try w.run(["init", "--recover"] + ["--data-dir", w.s.sub("short"), "--phrase-file", w.s.sub("phrase"),
                                                        "--repository", String(homeID.prefix(6))], status: 64)
        #expect(short.stderr.contains("whole repository id"), "\(short.stderr)")
        let unknown = try w.run(["snapshots", "--data-dir", w.s.sub("nowhere")] + ["--from", all, "--repository", "ffff"], status: 1)
        #expect(unknown.stderr.contains("notInitialized") || unknown.stderr.contains("cairn init"), "\(unknown.stderr)")
    }

    @Test func theRepositoryIsShownAndAnInitStartsANewOne() throws {
        let s = try TemporaryFolder("cli")
        let d = ["--data-dir", s.sub("d")]
        let made = try CLI.run(["init"] + d + ["--phrase-out", s.sub("p")])
        #expect(made.status == 0)
        let line = try #require(made.stdout.split(separator: "\n").first { $0.hasPrefix("Repository ") })
        let id = String(line.dropFirst("Repository ".count))
        #expect(id.count == 32 && id.allSatisfy(\.isHexDigit), "\(made.stdout)")
        let list = try CLI.run(["snapshots"] + d)
        #expect(list.stdout.contains("repository \(id)"), "\(list.stdout)\(list.stderr)")
        let status = try CLI.run(["status"] + d)
        #expect(status.stdout.contains("repository   \(id)"), "\(status.stdout)\(status.stderr)")
        let bad = try CLI.run(["snapshots"] + d + ["--repository", "not-hex"])
        #expect(bad.status == 64 && bad.stderr.contains("--repository takes a repository id"), "\(bad.stderr)")
        let newOne = try CLI.run(["init", "--data-dir", s.sub("e"), "--print-phrase", "--repository", id])
        #expect(newOne.status == 64 && newOne.stderr.contains("is for --recover"), "\(newOne.stderr)")
    }

    /// A first backup killed before its root record was written leaves targets that name
    /// their repository in their metadata and hold no root record: a data directory
    /// recovered from the phrase backs up to them as that repository.
    @Test func targetsOfAKilledFirstBackupAreTakenUpByARecoveredDataDirectory() throws {
        let s = try TemporaryFolder("cli")
        let src = s.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        var rng = SeededRandom(seed: 9)
        #expect(FileManager.default.createFile(atPath: src + "/a.bin", contents: Data(rng.bytes(100_000))))
        let targets = (1...3).map { s.sub("t\($0)") }.joined(separator: ",")
        let one = ["--data-dir", s.sub("one")], two = ["--data-dir", s.sub("two")]
        #expect(try CLI.run(["init"] + one + ["--phrase-out", s.sub("phrase")]).status == 0)
        let killed = try CLI.run(["backup"] + one + [src, "--to", targets, "--k", "2"], environment: ["CAIRN_CRASH_AFTER": "1"])
        #expect(killed.status == 128 + SIGKILL, "\(killed.stderr)")
        #expect(try CLI.run(["init", "--recover"] + two + ["--phrase-file", s.sub("phrase")]).status == 0)
        let b = try CLI.run(["backup", "--json"] + two + [src, "--to", targets])
        #expect(b.status == 0, "\(b.stderr)")
        let config = try #require(FileManager.default.contents(atPath: s.sub("one") + "/config.json"))
        let id = try #require((try JSONSerialization.jsonObject(with: config) as? [String: Any])?["repository"] as? String)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any])
        #expect(summary["repository"] as? String == id)
        let out = s.sub("out")
        #expect(try CLI.run(["restore", "latest"] + one + ["--to", out]).status == 0)
        #expect(FileManager.default.contents(atPath: out + src + "/a.bin") == FileManager.default.contents(atPath: src + "/a.bin"))
    }

    // MARK: never a root record naming packs the targets do not hold

    /// A backup killed after its packs were stored leaves them in its data directory's
    /// index but in no root record; a prune from another device reclaims them. The next
    /// backup of the first device used to dedupe against them and publish a snapshot
    /// naming packs that were gone.
    @Test func packsAPruneElsewhereReclaimedAreStoredAgainNotNamed() throws {
        let s = try TemporaryFolder("cli")
        let src = s.sub("src")
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        var rng = SeededRandom(seed: 5)
        #expect(FileManager.default.createFile(atPath: src + "/first.bin", contents: Data(rng.bytes(200_000))))
        let targets = (1...3).map { s.sub("t\($0)") }.joined(separator: ",")
        let one = ["--data-dir", s.sub("one")], two = ["--data-dir", s.sub("two")]
        #expect(try CLI.run(["init"] + one + ["--phrase-out", s.sub("phrase")]).status == 0)
        #expect(try CLI.run(["backup"] + one + [src, "--to", targets, "--k", "2"]).status == 0)
        // Device one: a backup of new data killed after its packs are stored (crash point 1).
        #expect(FileManager.default.createFile(atPath: src + "/second.bin", contents: Data(rng.bytes(300_000))))
        let killed = try CLI.run(["backup"] + one + [src], environment: ["CAIRN_CRASH_AFTER": "1"])
        #expect(killed.status == 128 + SIGKILL, "\(killed.stderr)")
        // Device two, recovered from the phrase onto the same targets, prunes: the killed
        // backup's packs are named by no root record and are reclaimed.
        #expect(try CLI.run(["init", "--recover"] + two + ["--phrase-file", s.sub("phrase")]).status == 0)
        #expect(FileManager.default.createFile(atPath: s.sub("other.txt"), contents: Data("two\n".utf8)))
        let b2 = try CLI.run(["backup"] + two + [s.sub("other.txt"), "--to", targets])
        #expect(b2.status == 0, "\(b2.stderr)")
        let pruned = try CLI.run(["prune", "--json"] + two)
        #expect(pruned.status == 0, "\(pruned.stderr)")
        let prune = try #require(try JSONSerialization.jsonObject(with: Data(pruned.stdout.utf8)) as? [String: Any])
        #expect((prune["packs_orphaned"] as? Int ?? 0) >= 1, "\(pruned.stdout)")

        // Device one again: its index still names the reclaimed packs.
        let again = try CLI.run(["backup", "--json"] + one + [src])
        #expect(again.status == 0, "\(again.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        let warnings = summary["warnings"] as? [String] ?? []
        #expect(warnings.contains { $0.contains("not on the targets") }, "\(warnings)")
        #expect((summary["bytes_new"] as? Int ?? 0) >= 300_000, "\(again.stdout)")
        let out = s.sub("out")
        let restored = try CLI.run(["restore", "latest"] + one + ["--to", out])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(FileManager.default.contents(atPath: out + src + "/second.bin") == FileManager.default.contents(atPath: src + "/second.bin"))
        #expect(try CLI.run(["check", "--no-repair"] + one).status == 0)
    }
}
