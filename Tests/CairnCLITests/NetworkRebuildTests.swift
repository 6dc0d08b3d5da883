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
        let (first, _, owner, file) = try net.ownerBackedUp(bytes: 700_000, seed: 31)
        let at = net.at
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
        let (first, holders, owner, file) = try net.ownerBackedUp(bytes: 600_000, seed: 37)
        let at = net.at

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

    /// A node that adopted its owner's volumes on a new machine tells every coordinator it
    /// reaches that it took over, naming the node keys refused so far (`takeOver`, answered
    /// by `keysRetired`): a coordinator that lost its directory, which knows none of the
    /// keys the number had before, refuses the old machine again once the new node has
    /// reclaimed its number. The old machine, brought back after the rebuild, is told
    /// `retired` and stops; the new node keeps its number and its volume.
    @Test(.timeLimit(.minutes(5))) func aRebuiltCoordinatorStillRefusesTheMachineAnAdoptingNodeReplaced() throws {
        let net = try RebuildNetwork("network-rebuild-retired")
        defer { net.stopAll() }
        let tmp = net.tmp
        let (first, _, owner, _) = try net.ownerBackedUp(bytes: 500_000, seed: 41)
        let at = net.at

        // The machine is lost (a copy of its data directory is kept for later); the files
        // are restored on a new one, whose node adopts the volume.
        #expect(owner.stop() == 0)
        try FileManager.default.copyItem(atPath: tmp.sub("owner"), toPath: tmp.sub("old-machine"))
        try FileManager.default.removeItem(atPath: tmp.sub("owner"))
        let machine = tmp.sub("new-machine")
        let restore = try CLI.run(["restore", "latest", "--to", tmp.sub("out"), "--coordinator", at, "--data-dir", machine,
                                   "--phrase-file", tmp.sub("owner") + ".phrase", "--patience", "60"])
        #expect(restore.status == 0, "\(restore.stderr)")
        let node = try net.node("new-machine")
        #expect(Daemon.wait(timeout: 90) {
            let volumes = (net.status(machine)?["node"] as? [String: Any])?["volumes"] as? [[String: Any]] ?? []
            return volumes.count == 1 && volumes[0]["healthy"] as? Int == 5
        }, "\(node.stderr)")
        #expect(Daemon.wait(timeout: 30) { first.stderr.contains("its former node keys are refused") }, "\(first.stderr)")

        // The coordinator loses its directory; every node, the new machine's included,
        // takes its number back, and the new machine tells it again which keys it refuses.
        #expect(first.stop() == 0)
        try FileManager.default.removeItem(atPath: net.coordinatorDir)
        let second = try net.coordinator(listen: at)
        #expect(try Daemon.wait(timeout: 60) { try net.members().filter(\.joined).count == 6 }, "\(second.stderr)")
        // (Both coordinators log to the same file: the second says it once more.)
        #expect(Daemon.wait(timeout: 30) { second.stderr.components(separatedBy: "its former node keys are refused").count - 1 >= 2 },
                "the rebuilt directory learned the refused key back: \(second.stderr)\n\(node.stderr)")

        // The old machine comes back with its old state and its old node key: refused.
        let old = try net.node("old-machine")
        #expect(Daemon.wait(timeout: 30) { old.stderr.contains("another machine has taken this identity's node over") },
                "\(old.stderr)\n\(second.stderr)")
        #expect(old.stop() == 0)
        #expect(Daemon.wait(timeout: 10) {
            (net.status(machine)?["node"] as? [String: Any])?["coordinatorConnected"] as? Bool == true
        }, "the new machine keeps its session: \(node.stderr)")
        let members = try net.members()
        #expect(members.filter(\.joined).count == 6, "\(members)")
        #expect(node.stop() == 0)
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

    /// A coordinator on 127.0.0.1, five holders and an owner joined to it, and `bytes` random
    /// bytes (`data.bin`, from `seed`) backed up 3-of-5 by the owner; `at` is set.
    func ownerBackedUp(bytes: Int, seed: UInt64) throws -> (coordinator: Daemon, holders: [Daemon], owner: Daemon, file: String) {
        let first = try coordinator(listen: "127.0.0.1:0")
        at = try #require(NetworkJoinTests.listening(first))
        let holders = try (1...5).map { try node("holder\($0)") }
        let owner = try node("owner")
        #expect(try Daemon.wait(timeout: 60) { try members().filter(\.joined).count == 6 })
        let file = tmp.sub("data.bin")
        var rng = SeededRandom(seed: seed)
        try Data(rng.bytes(bytes)).write(to: URL(fileURLWithPath: file))
        let backup = try CLI.run(["backup", file, "--data-dir", tmp.sub("owner"), "--k", "3", "--n", "5", "--wait", "90"])
        #expect(backup.status == 0, "\(backup.stderr)\n\(owner.stderr)")
        return (first, holders, owner, file)
    }

    /// `cairn status --json` of the node running on `dir`; nil while it does not answer.
    func status(_ dir: String) -> [String: Any]? {
        guard let r = try? CLI.run(["status", "--data-dir", dir, "--json"]), r.status == 0 else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
    }

    func stopAll() {
        for d in daemons.reversed() where d.running { _ = d.stop() }
    }
}
