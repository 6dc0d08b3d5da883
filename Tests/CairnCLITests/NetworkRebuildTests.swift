import CairnTestSupport
import Foundation
import Testing

/// A coordinator that lost its data directory but kept its key (`--key-file`) rebuilds
/// the directory from the nodes: each node shows the number the coordinator once signed
/// for its owner and gets it back, the owner's node tells it where its volumes are, a new
/// owner waits out the rebuild window and is numbered after the old members, and a restore
/// anywhere finds the backup through the rebuilt directory.
@Suite(.serialized) struct NetworkRebuildTests {
    @Test(.timeLimit(.minutes(4))) func aCoordinatorThatLostItsDataDirectoryRebuildsItFromTheNodes() throws {
        let net = try RebuildNetwork("network-rebuild")
        defer { net.stopAll() }
        let tmp = net.tmp
        let first = try net.coordinator(listen: "127.0.0.1:0")
        let at = try #require(NetworkJoinTests.listening(first))
        net.at = at
        for i in 1...5 { _ = try net.node("holder\(i)") }
        let owner = try net.node("owner")
        #expect(try Daemon.wait(timeout: 60) { try net.members().filter(\.joined).count == 6 })
        let file = tmp.sub("data.bin")
        var rng = SeededRandom(seed: 31)
        try Data(rng.bytes(700_000)).write(to: URL(fileURLWithPath: file))
        let backup = try CLI.run(["backup", file, "--data-dir", tmp.sub("owner"), "--k", "3", "--n", "5", "--wait", "90"])
        #expect(backup.status == 0, "\(backup.stderr)\n\(owner.stderr)")
        let before = try net.members().map { "\($0.node) \($0.owner)" }.sorted()
        #expect(before.count == 6)

        // The data directory is lost; the key is not. The same address, a new directory.
        #expect(first.stop() == 0)
        try FileManager.default.removeItem(atPath: net.coordinatorDir)
        let second = try net.coordinator(listen: at)
        #expect(Daemon.wait(timeout: 30) { second.stderr.contains("rebuilding the directory") }, "\(second.stderr)")
        #expect(try Daemon.wait(timeout: 60) {
            try net.members().filter(\.joined).map { "\($0.node) \($0.owner)" }.sorted() == before
        }, "every node took its own number back: \(String(describing: try? net.members().map { "\($0.node) \($0.owner) \($0.joined)" }))")
        #expect(owner.stderr.contains("reclaiming"), "\(owner.stderr)")

        // A new owner is admitted once the window is over, numbered after the old members.
        let late = try net.node("late")
        #expect(try Daemon.wait(timeout: 60) { try net.members().filter(\.joined).count == 7 }, "\(late.stderr)")
        let oldNumbers = Set(before.compactMap { UInt32($0.split(separator: " ")[0]) })
        let lateNumber = try #require(try net.members().first { !oldNumbers.contains($0.node) }?.node)
        #expect(lateNumber > oldNumbers.max()!)

        // The owner's machine is gone: restore anywhere through the rebuilt directory, which
        // knows the volumes only from what the owner's node told it after its reclaim.
        #expect(owner.stop() == 0)
        let out = tmp.sub("out")
        let restore = try CLI.run(["restore", "latest", "--to", out, "--coordinator", at, "--data-dir", tmp.sub("elsewhere"),
                                   "--phrase-file", tmp.sub("owner") + ".phrase", "--patience", "60"])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: out + file) == FileManager.default.contents(atPath: file))
    }

    /// The owner's machine is gone for good before the coordinator loses its directory: the
    /// rebuilt directory hears nothing from the owner, only from the holders, which report
    /// the slots they hold after taking their numbers back. A restore anywhere from the
    /// phrase gets the owner's number from those reports and finds every volume.
    @Test(.timeLimit(.minutes(4))) func aRestoreAnywhereFindsAnOwnerThatNeverCameBackToARebuiltCoordinator() throws {
        let net = try RebuildNetwork("network-rebuild-away")
        defer { net.stopAll() }
        let tmp = net.tmp
        let first = try net.coordinator(listen: "127.0.0.1:0")
        let at = try #require(NetworkJoinTests.listening(first))
        net.at = at
        let holders = try (1...5).map { try net.node("holder\($0)") }
        let owner = try net.node("owner")
        #expect(try Daemon.wait(timeout: 60) { try net.members().filter(\.joined).count == 6 })
        let file = tmp.sub("data.bin")
        var rng = SeededRandom(seed: 37)
        try Data(rng.bytes(600_000)).write(to: URL(fileURLWithPath: file))
        let backup = try CLI.run(["backup", file, "--data-dir", tmp.sub("owner"), "--k", "3", "--n", "5", "--wait", "90"])
        #expect(backup.status == 0, "\(backup.stderr)\n\(owner.stderr)")

        // The owner's machine is gone for good; then the coordinator loses its directory.
        #expect(owner.stop() == 0)
        #expect(first.stop() == 0)
        try FileManager.default.removeItem(atPath: net.coordinatorDir)
        let second = try net.coordinator(listen: at)
        #expect(Daemon.wait(timeout: 30) { second.stderr.contains("rebuilding the directory") }, "\(second.stderr)")
        // Every holder took its number back and told the coordinator what it holds.
        #expect(try Daemon.wait(timeout: 60) {
            try net.members().filter(\.joined).count == 5
                && holders.allSatisfy { $0.stderr.contains("told the coordinator what this node holds") }
        }, "\(holders.map(\.stderr).joined(separator: "\n"))")

        let out = tmp.sub("out")
        let restore = try CLI.run(["restore", "latest", "--to", out, "--coordinator", at, "--data-dir", tmp.sub("elsewhere"),
                                   "--phrase-file", tmp.sub("owner") + ".phrase", "--patience", "60"])
        #expect(restore.status == 0, "\(restore.stderr)\n\(second.stderr)")
        #expect(FileManager.default.contents(atPath: out + file) == FileManager.default.contents(atPath: file))
        #expect(second.stderr.contains("known from its holders' reports"), "\(second.stderr)")
    }
}

/// A coordinator that keeps its key apart from its data directory (`--key-file`), and nodes
/// joined to it on 127.0.0.1, in one test's folder; `stopAll` stops every process it
/// started, by PID, last started first.
private final class RebuildNetwork {
    let tmp: TemporaryFolder
    let coordinatorDir: String, keyFile: String
    /// The coordinator's address, once it listens: where nodes are sent.
    var at = ""
    private var daemons: [Daemon] = []

    init(_ name: String) throws {
        tmp = try TemporaryFolder(name)
        coordinatorDir = tmp.sub("coordinator")
        keyFile = tmp.sub("coordinator.key")
    }

    func coordinator(listen: String) throws -> Daemon {
        let d = try Daemon(["coordinator", "run", "--listen", listen, "--data-dir", coordinatorDir, "--key-file", keyFile,
                            "--test-intervals", "2"], logs: tmp.path, name: "coordinator")
        daemons.append(d)
        #expect(Daemon.wait(timeout: 30) { NetworkJoinTests.listening(d) != nil }, "\(d.stderr)")
        return d
    }

    func members() throws -> [NetworkJoinTests.MemberRow] {
        let r = try CLI.run(["coordinator", "members", "--data-dir", coordinatorDir, "--key-file", keyFile, "--json"], timeout: 30)
        guard r.status == 0 else { return [] }
        return try JSONDecoder().decode([NetworkJoinTests.MemberRow].self, from: Data(r.stdout.utf8))
    }

    /// A node on its own data directory (made with a new owner identity the first time).
    func node(_ name: String) throws -> Daemon {
        if !FileManager.default.fileExists(atPath: tmp.sub(name)) { try NetworkJoinTests.initOwner(tmp.sub(name)) }
        let d = try Daemon(["node", "run", "--data-dir", tmp.sub(name), "--coordinator", at, "--offer", "64M",
                            "--test-intervals", "2", "--listen", "127.0.0.1:0"], logs: tmp.path, name: name)
        daemons.append(d)
        return d
    }

    func stopAll() {
        for d in daemons.reversed() where d.running { _ = d.stop() }
    }
}
