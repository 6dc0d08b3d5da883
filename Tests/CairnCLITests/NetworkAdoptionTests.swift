import CairnTestSupport
import Foundation
import Testing

/// Restore anywhere, then carry on: the owner's machine is lost (node stopped, data
/// directory deleted), the files are restored from the phrase into a new data directory,
/// and a node started there adopts the old node's volume — the same holders under the
/// same contracts, slot roots computed from the restored packs — challenges it, repairs
/// it when a holder is killed, and places a new backup as a new volume beside it.
@Suite(.serialized) struct NetworkAdoptionTests {
    typealias Net = NetworkBackupRestoreTests.Net

    static func volumes(_ net: Net, _ dir: String) -> [[String: Any]] {
        ((try? net.status(dir))?["node"] as? [String: Any])?["volumes"] as? [[String: Any]] ?? []
    }

    /// The owner's node, joined with every holder, after backing up `bytes` random bytes
    /// (`data.bin`, from `seed`) 3-of-5 to the network; the caller stops it.
    static func ownerBackedUp(_ net: Net, bytes: Int, seed: UInt64) throws -> Daemon {
        try NetworkJoinTests.initOwner(net.tmp.sub("owner"))
        let owner = try net.node("owner")
        do {
            #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(net.tmp.sub("coordinator")).filter(\.joined).count == 8 })
            let file = net.tmp.sub("data.bin")
            var rng = SeededRandom(seed: seed)
            try Data(rng.bytes(bytes)).write(to: URL(fileURLWithPath: file))
            let backup = try CLI.run(["backup", file, "--data-dir", net.tmp.sub("owner"), "--k", "3", "--n", "5", "--wait", "90"])
            #expect(backup.status == 0, "\(backup.stderr)\n\(owner.stderr)")
            return owner
        } catch {
            _ = owner.stop()
            throw error
        }
    }

    static func holders(of volume: [String: Any]) -> [Int] {
        ((volume["slots"] as? [[String: Any]]) ?? []).compactMap { $0["holder"] as? Int }.sorted()
    }

    @Test(.timeLimit(.minutes(5))) func aNodeOnTheRestoredDataDirectoryAdoptsTheOldNodesVolumes() throws {
        let net = try Net(label: "network-adopt", holders: 7, relayOnly: 1)
        defer { net.stopAll() }
        let owner = try Self.ownerBackedUp(net, bytes: 1_200_000, seed: 17)
        defer { _ = owner.stop() }
        let file = net.tmp.sub("data.bin")
        let before = try #require(Self.volumes(net, net.tmp.sub("owner")).first, "the owner's node shows its volume")
        let oldHolders = Self.holders(of: before)
        #expect(oldHolders.count == 5 && before["healthy"] as? Int == 5, "\(before)")

        // The machine is lost: its node and its whole data directory (a copy is kept, to
        // bring the old machine back later).
        #expect(owner.stop() == 0)
        try FileManager.default.copyItem(atPath: net.tmp.sub("owner"), toPath: net.tmp.sub("old-machine"))
        try FileManager.default.removeItem(atPath: net.tmp.sub("owner"))

        let machine = net.tmp.sub("new-machine")
        let restore = try CLI.run(["restore", "latest", "--to", net.tmp.sub("out"), "--coordinator", net.at, "--data-dir", machine,
                                   "--phrase-file", net.tmp.sub("owner") + ".phrase", "--patience", "60"])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(restore.stdout.contains("takes over 1 volumes"), "\(restore.stdout)\n\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: net.tmp.sub("out") + file) == FileManager.default.contents(atPath: file))

        // The node started there takes the volume over: same number, same holders, healthy.
        let node = try net.node("new-machine", verbose: true)
        defer { _ = node.stop() }
        #expect(Daemon.wait(timeout: 90) {
            let volumes = Self.volumes(net, machine)
            return volumes.count == 1 && volumes[0]["healthy"] as? Int == 5
        }, "\(node.stderr)")
        let adopted = try #require(Self.volumes(net, machine).first)
        #expect(adopted["number"] as? Int == before["number"] as? Int && adopted["packs"] as? Int == before["packs"] as? Int,
                "\(adopted) \(before)")
        #expect(Self.holders(of: adopted) == oldHolders, "the old holders, not new ones: \(adopted)")
        #expect(node.stderr.contains("restored volume adopted") && node.stderr.contains("5 of 5"), "\(node.stderr)")
        // It challenges them every 2 s against the roots it computed: a wrong root would
        // fail the first challenges and mark the slot failed. Several rounds later, none has.
        Thread.sleep(forTimeInterval: 10)
        let challenged = try #require(Self.volumes(net, machine).first)
        #expect(challenged["healthy"] as? Int == 5 && Self.holders(of: challenged) == oldHolders && !node.stderr.contains("fault("),
                "\(challenged)\n\(node.stderr)")

        // The old machine comes back with its old state: the coordinator refuses its node
        // key (the new node took the number over), it stops acting, and the new node keeps
        // its session and its volume.
        let old = try net.node("old-machine")
        defer { _ = old.stop() }
        #expect(Daemon.wait(timeout: 30) { old.stderr.contains("another machine has taken this identity's node over") }, "\(old.stderr)")
        #expect(Daemon.wait(timeout: 10) { (try? net.status(machine))?["node"].flatMap { ($0 as? [String: Any])?["coordinatorConnected"] as? Bool } == true })
        #expect(old.stop() == 0)

        // A holder is killed: the adopted volume is repaired from the restored packs.
        let victim = try #require(oldHolders.first)
        let victimIndex = try #require((1...7).first { i in
            ((try? net.status(net.tmp.sub("holder\(i)")))?["node"] as? [String: Any])?["node"] as? Int == victim
        }, "which holder is node \(victim)")
        net.holders[victimIndex - 1].kill9()
        // (The node has every shard at hand in its completed staging targets, so the slot
        // is re-placed straight from them: no rebuild from k holders, no `repairCompleted`.)
        #expect(Daemon.wait(timeout: 120) {
            let volumes = Self.volumes(net, machine)
            return volumes.count == 1 && volumes[0]["healthy"] as? Int == 5 && !Self.holders(of: volumes[0]).contains(victim)
        }, "\(Self.volumes(net, machine))\n\(node.stderr)")

        // A new backup on the new machine builds on the restored one: the old file is
        // deduplicated against the restored packs, only the new file's pack and the root
        // record are placed, as the next volume; the adopted one stays.
        let more = net.tmp.sub("more.bin")
        var rng = SeededRandom(seed: 18)
        try Data(rng.bytes(200_000)).write(to: URL(fileURLWithPath: more))
        let next = try CLI.run(["backup", file, more, "--data-dir", machine, "--k", "3", "--n", "5", "--wait", "90", "--json"])
        #expect(next.status == 0, "\(next.stderr)\n\(node.stderr)")
        let placed = try #require(try JSONSerialization.jsonObject(with: Data(next.stdout.utf8)) as? [String: Any])
        #expect((placed["network"] as? [String: Any])?["packs"] as? Int == 2 && (placed["network"] as? [String: Any])?["complete"] as? Bool == true,
                "\(next.stdout)")
        let volumes = Self.volumes(net, machine)
        #expect(volumes.count == 2 && volumes.map { $0["number"] as? Int } == [before["number"] as? Int, (before["number"] as? Int ?? 0) + 1],
                "\(volumes)")
        #expect(node.stop() == 0)
    }

    /// A holder of the volume is away (stopped, not killed) while the new node adopts: its
    /// slot is placed anew, and when it comes back with its copy the node, asking again,
    /// releases it (it frees the copy after its grace instead of keeping it for the term).
    /// The node is restarted in between: the late holder is kept in its state and asked
    /// again by the next run.
    @Test(.timeLimit(.minutes(5))) func aHolderAwayDuringTheAdoptionIsReplacedAndReleasedWhenItComesBack() throws {
        let net = try Net(label: "network-adopt-away", holders: 7, relayOnly: 0)
        defer { net.stopAll() }
        let owner = try Self.ownerBackedUp(net, bytes: 600_000, seed: 19)
        defer { _ = owner.stop() }
        let oldHolders = Self.holders(of: try #require(Self.volumes(net, net.tmp.sub("owner")).first))
        #expect(oldHolders.count == 5)
        #expect(owner.stop() == 0)
        try FileManager.default.removeItem(atPath: net.tmp.sub("owner"))
        let machine = net.tmp.sub("new-machine")
        let restore = try CLI.run(["restore", "latest", "--to", net.tmp.sub("out"), "--coordinator", net.at, "--data-dir", machine,
                                   "--phrase-file", net.tmp.sub("owner") + ".phrase", "--patience", "60"])
        #expect(restore.status == 0, "\(restore.stderr)")

        let away = try #require(oldHolders.first)
        let index = try #require((1...7).first { i in
            ((try? net.status(net.tmp.sub("holder\(i)")))?["node"] as? [String: Any])?["node"] as? Int == away
        })
        let pid = net.holders[index - 1].pid
        #expect(kill(pid, SIGSTOP) == 0)
        var stopped = true
        defer { if stopped { kill(pid, SIGCONT) } }

        let node = try net.node("new-machine", verbose: true)
        defer { _ = node.stop() }
        #expect(Daemon.wait(timeout: 10) { ((try? net.status(machine))?["node"] as? [String: Any])?["adopting"] as? Int == 1 },
                "the status says a volume waits for its holders")
        #expect(Daemon.wait(timeout: 120) {
            let volumes = Self.volumes(net, machine)
            return volumes.count == 1 && volumes[0]["healthy"] as? Int == 5 && !Self.holders(of: volumes[0]).contains(away)
        }, "\(Self.volumes(net, machine))\n\(node.stderr)")
        #expect(node.stderr.contains("4 of 5"), "\(node.stderr)")

        // The node restarts while the holder is still away; the next run asks it again.
        #expect(node.stop() == 0)
        let again = try net.node("new-machine", verbose: true)
        defer { _ = again.stop() }
        #expect(Daemon.wait(timeout: 30) { again.stderr.contains("asking again the holders of restored slots") }, "\(again.stderr)")
        #expect(kill(pid, SIGCONT) == 0)
        stopped = false
        #expect(Daemon.wait(timeout: 120) { again.stderr.contains("its contract is released") }, "\(again.stderr)")
        #expect(again.stop() == 0)
    }
}
