import CairnTestSupport
import Foundation
import Testing

/// Blind repair over real processes on 127.0.0.1: an owner away longer than the
/// coordinator's `--blind-repair-after` whose volume lost two of its five holders gets it
/// rebuilt without it. The coordinator orders one of the remaining holders, which fetches
/// two slots, checks them, rebuilds the two missing slots from those and its own (shards
/// are ciphertext to it) and places them on the two spare nodes under contracts it signs in
/// the owner's name; the new holders check each slot against the root the owner computed
/// and report it. The repairer keeps no fetched stream once the repair is over. The owner,
/// back, adopts the new contracts; and with three of the five original holders gone, a
/// restore anywhere from the phrase gets the file back from the two rebuilt slots and the
/// last original one.
@Suite(.serialized) struct NetworkBlindRepairTests {
    typealias Net = NetworkBackupRestoreTests.Net

    @Test(.timeLimit(.minutes(5))) func anAwayOwnersVolumeIsRebuiltBlindAndRestoresFromTheRebuiltSlots() throws {
        let net = try Net(label: "network-blind-repair", holders: 7, relayOnly: 1, coordinatorArgs: ["--test-blind-repair-after", "10"])
        defer { net.stopAll() }
        let ownerDir = net.tmp.sub("owner")
        let owner = try NetworkAdoptionTests.ownerBackedUp(net, bytes: 900_000, seed: 23)
        defer { _ = owner.stop() }
        let file = net.tmp.sub("data.bin")
        let original = (1...7).filter(net.holding)
        #expect(original.count == 5, "\(original)")
        let spares = (1...7).filter { !original.contains($0) }
        func number(_ i: Int) -> Int? { ((try? net.status(net.tmp.sub("holder\(i)")))?["node"] as? [String: Any])?["node"] as? Int }
        let spareNumbers = spares.compactMap(number)
        #expect(spareNumbers.count == 2)

        // The owner goes away, and two of its holders die.
        #expect(owner.stop() == 0)
        for i in original.prefix(2) { net.holders[i - 1].kill9() }
        #expect(Daemon.wait(timeout: 150) {
            spares.allSatisfy(net.holding) && net.coordinator.stderr.components(separatedBy: "blind repair placed a slot").count - 1 == 2
        }, "both spares hold a rebuilt slot: \(net.coordinator.stderr)\n\(original.dropFirst(2).map { net.holders[$0 - 1].stderr }.joined(separator: "\n"))")
        #expect(net.coordinator.stderr.contains("blind repair ordered"))
        // The repair is over: no fetched stream is left on any node.
        #expect(Daemon.wait(timeout: 30) {
            (1...7).allSatisfy { i in
                ((try? FileManager.default.contentsOfDirectory(atPath: net.tmp.sub("holder\(i)") + "/node/held/spool")) ?? []).isEmpty
            }
        }, "spools left behind")

        // The owner comes back and takes the rebuilt slots over.
        let back = try net.node("owner")
        defer { _ = back.stop() }
        #expect(Daemon.wait(timeout: 90) {
            let volumes = NetworkAdoptionTests.volumes(net, ownerDir)
            return volumes.count == 1 && volumes[0]["healthy"] as? Int == 5
                && Set(spareNumbers).isSubset(of: NetworkAdoptionTests.holders(of: volumes[0]))
        }, "\(NetworkAdoptionTests.volumes(net, ownerDir))\n\(back.stderr)")
        #expect(back.stop() == 0)

        // Two more original holders die: one is left, so a restore needs both rebuilt slots.
        for i in original.dropFirst(2).prefix(2) { net.holders[i - 1].kill9() }
        let out = net.tmp.sub("out")
        let restore = try CLI.run(["restore", "latest", "--to", out, "--coordinator", net.at, "--data-dir", net.tmp.sub("new-machine"),
                                   "--phrase-file", ownerDir + ".phrase", "--patience", "60"])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: out + file) == FileManager.default.contents(atPath: file))
    }
}

extension NetworkBlindRepairTests {
    /// The repairer is killed (`kill -9`) in the middle of a blind repair: its targets were
    /// stopped as the order went out, so the proposals (or the uploads) it sent them were
    /// still on the way. Restarted on the same data directory, it still has the slots it
    /// fetched and sends the repair again; both targets end up holding their rebuilt slots.
    @Test(.timeLimit(.minutes(5))) func aRepairerKilledMidRepairResumesItWhenRestarted() throws {
        let net = try Net(label: "network-blind-resume", holders: 7, relayOnly: 0, coordinatorArgs: ["--test-blind-repair-after", "10"])
        defer { net.stopAll() }
        // Large enough that fetching and rebuilding take longer than the test takes to stop the targets.
        let owner = try NetworkAdoptionTests.ownerBackedUp(net, bytes: 40_000_000, seed: 29)
        defer { _ = owner.stop() }
        let original = (1...7).filter(net.holding)
        #expect(original.count == 5, "\(original)")
        let spares = (1...7).filter { !original.contains($0) }
        #expect(owner.stop() == 0)
        for i in original.prefix(2) { net.holders[i - 1].kill9() }

        // The moment the order goes out, the two targets stop (they take nothing in).
        #expect(Daemon.wait(timeout: 90, interval: 0.01) { net.coordinator.stderr.contains("blind repair ordered") },
                "\(net.coordinator.stderr)")
        for i in spares { #expect(kill(net.holders[i - 1].pid, SIGSTOP) == 0) }
        var stopped = true
        defer { if stopped { for i in spares { kill(net.holders[i - 1].pid, SIGCONT) } } }
        #expect(!spares.contains(where: net.holding), "the targets had their slots before they were stopped")

        // The repairer has fetched what it rebuilds from; it is killed there.
        func kept(_ i: Int) -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: net.tmp.sub("holder\(i)") + "/node/held/kept")) ?? []).count
        }
        var repairer: Int?
        #expect(Daemon.wait(timeout: 30, interval: 0.01) {
            repairer = original.dropFirst(2).first { kept($0) == 2 }
            return repairer != nil
        }, "no holder kept two fetched slots")
        let r = try #require(repairer)
        net.holders[r - 1].kill9()
        for i in spares { #expect(kill(net.holders[i - 1].pid, SIGCONT) == 0) }
        stopped = false
        #expect(kept(r) == 2, "what it fetched survives the kill")

        let again = try net.node("holder\(r)")
        defer { _ = again.stop() }
        #expect(Daemon.wait(timeout: 60) {
            spares.allSatisfy(net.holding) && net.coordinator.stderr.components(separatedBy: "blind repair placed a slot").count - 1 == 2
        }, "\(again.stderr)\n\(net.coordinator.stderr)")
        #expect(again.stderr.contains("resuming the blind repairs a restart interrupted"), "\(again.stderr)")
        #expect(Daemon.wait(timeout: 30) { kept(r) == 0 }, "the kept slots go once the repair is over")
    }
}

extension NetworkBlindRepairTests {
    /// The owner's machine is lost for good after its volume was repaired blind: the files
    /// are restored anywhere from the phrase, and the node started on the new machine
    /// takes every slot over — the three original holders' under the owner's own contracts,
    /// the two rebuilt ones under the repair's contracts, which the coordinator offers for
    /// adoption — instead of releasing the rebuilt slots and finding no node left to place
    /// them on.
    @Test(.timeLimit(.minutes(5))) func aNodeRestoredAnywhereAdoptsTheSlotsABlindRepairRebuilt() throws {
        let net = try Net(label: "network-blind-adopt", holders: 7, relayOnly: 0, coordinatorArgs: ["--test-blind-repair-after", "10"])
        defer { net.stopAll() }
        let ownerDir = net.tmp.sub("owner")
        let owner = try NetworkAdoptionTests.ownerBackedUp(net, bytes: 700_000, seed: 31)
        defer { _ = owner.stop() }
        let file = net.tmp.sub("data.bin")
        let original = (1...7).filter(net.holding)
        let spares = (1...7).filter { !original.contains($0) }
        let spareNumbers = spares.compactMap { i in
            ((try? net.status(net.tmp.sub("holder\(i)")))?["node"] as? [String: Any])?["node"] as? Int
        }
        #expect(original.count == 5 && spareNumbers.count == 2, "\(original) \(spareNumbers)")
        #expect(owner.stop() == 0)
        for i in original.prefix(2) { net.holders[i - 1].kill9() }
        #expect(Daemon.wait(timeout: 150) {
            spares.allSatisfy(net.holding) && net.coordinator.stderr.components(separatedBy: "blind repair placed a slot").count - 1 == 2
        }, "\(net.coordinator.stderr)")

        // The machine is gone; the files come back on a new one, whose node adopts the volume.
        try FileManager.default.removeItem(atPath: ownerDir)
        let machine = net.tmp.sub("new-machine")
        let restore = try CLI.run(["restore", "latest", "--to", net.tmp.sub("out"), "--coordinator", net.at, "--data-dir", machine,
                                   "--phrase-file", ownerDir + ".phrase", "--patience", "60"])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: net.tmp.sub("out") + file) == FileManager.default.contents(atPath: file))
        let node = try net.node("new-machine")
        defer { _ = node.stop() }
        #expect(Daemon.wait(timeout: 90) {
            let volumes = NetworkAdoptionTests.volumes(net, machine)
            return volumes.count == 1 && volumes[0]["healthy"] as? Int == 5
                && Set(spareNumbers).isSubset(of: NetworkAdoptionTests.holders(of: volumes[0]))
        }, "\(NetworkAdoptionTests.volumes(net, machine))\n\(node.stderr)")
        #expect(node.stderr.contains("5 of 5"), "every slot taken over, none placed anew: \(node.stderr)")
        #expect(!node.stderr.contains("is not taken over"), "\(node.stderr)")
    }
}
