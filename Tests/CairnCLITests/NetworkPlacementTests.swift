import CairnTestSupport
import Foundation
import Testing

/// Contracts over the real network: an owner's volume (random data, erasure-coded 3-of-5)
/// is placed on five holders — proposals and acceptances between nodes that found each
/// other through the coordinator, every slot streamed and checked by its holder before it
/// acknowledged. Two holders whose stored shards are then damaged fail their next
/// challenges — the default repair trigger (docs/research/shard-count.md) repairs a 3-of-5
/// volume once fewer than 4 of its holders are healthy — and the owner repairs around them
/// onto the sixth and seventh nodes (fetching k slots from the others, each checked against
/// its root, rebuilding and uploading the slots). Three holders have no open port: owner and
/// holder reach them through the coordinator's relay.
@Suite(.serialized) struct NetworkPlacementTests {
    @Test(.timeLimit(.minutes(3))) func aVolumeIsPlacedAndADamagedHolderIsRepairedAround() throws {
        let tmp = try TemporaryFolder("network-place")
        let coordinatorDir = tmp.sub("coordinator")
        let coordinator = try Daemon(["coordinator", "run", "--listen", "127.0.0.1:0", "--data-dir", coordinatorDir],
                                     logs: tmp.path, name: "coordinator")
        #expect(Daemon.wait(timeout: 30) { NetworkJoinTests.listening(coordinator) != nil }, "\(coordinator.stderr)")
        let at = try #require(NetworkJoinTests.listening(coordinator))
        var holders = [Daemon]()
        for i in 1...7 {
            try NetworkJoinTests.initOwner(tmp.sub("holder\(i)"))
            // Holders 1 to 3 only dial out: they are reached through the coordinator's relay.
            // Three of seven, so that any five holders include one (placement picks at random).
            let listen = i <= 3 ? [] : ["--listen", "127.0.0.1:0"]
            holders.append(try Daemon(["node", "run", "--data-dir", tmp.sub("holder\(i)"), "--coordinator", at, "--offer", "64M",
                                       "--test-intervals", "2"] + listen, logs: tmp.path, name: "holder\(i)"))
        }
        #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(coordinatorDir).filter(\.joined).count == 7 })
        try NetworkJoinTests.initOwner(tmp.sub("owner"))
        // The test volume takes the node's code: 3-of-5 by config, as eight members are too
        // few for the default 4-of-8 (docs/research/shard-count.md).
        let config = tmp.sub("narrow.json")
        try Data(#"{"k": 3, "n": 5}"#.utf8).write(to: URL(fileURLWithPath: config))
        let owner = try Daemon(["node", "run", "--data-dir", tmp.sub("owner"), "--coordinator", at, "--offer", "64M",
                                "--listen", "127.0.0.1:0", "--test-intervals", "2", "--test-volume", "3M", "--config", config],
                               logs: tmp.path, name: "owner")
        let everything = { "\(owner.stderr)\n\(holders.map(\.stderr).joined(separator: "\n"))" }
        #expect(Daemon.wait(timeout: 60) { owner.stderr.contains("volume placed") }, "\(everything())")

        // Exactly five holders keep one slot each, as run files of their held store.
        func runs(_ i: Int) -> [String] {
            let dir = tmp.sub("holder\(i)") + "/node/held/runs"
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".run") }.map { dir + "/" + $0 }
        }
        let holding = (1...7).filter { !runs($0).isEmpty }
        #expect(holding.count == 5, "\(everything())")
        let spares = (1...7).filter { runs($0).isEmpty }
        #expect(holding.contains { $0 <= 3 }, "a relay-only holder keeps a slot")

        // Damage two holders' shard bytes on disk: their next challenges fail, leaving 3
        // healthy holders, below the trigger.
        for victim in holding.prefix(2) {
            let file = try #require(runs(victim).first)
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            for i in stride(from: 100, to: bytes.count, by: 997) { bytes[i] ^= 0xff }
            try Data(bytes).write(to: URL(fileURLWithPath: file))
        }
        #expect(Daemon.wait(timeout: 60) { owner.stderr.contains("badProof") }, "\(everything())")
        #expect(Daemon.wait(timeout: 90) { owner.stderr.contains("repairCompleted") }, "\(everything())")
        #expect(Daemon.wait(timeout: 90) { spares.allSatisfy { !runs($0).isEmpty } }, "the spare nodes now hold the repaired slots")

        for node in holders + [owner] { #expect(node.stop() == 0) }
        #expect(coordinator.stop() == 0)
    }
}
