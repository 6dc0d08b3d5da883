import CairnTestSupport
import Foundation
import Testing

/// Contracts end over the real network: an owner whose contracts last 30 s renews each
/// slot in place with the holder that keeps it, term after term. The same five holders
/// keep the same slot files, the spare node is never asked for one, and no holder is
/// reported or lets a contract lapse.
@Suite(.serialized) struct NetworkRenewalTests {
    @Test(.timeLimit(.minutes(3))) func slotsAreRenewedInPlaceTermAfterTerm() throws {
        let tmp = try TemporaryFolder("network-renew")
        let coordinatorDir = tmp.sub("coordinator")
        let coordinator = try Daemon(["coordinator", "run", "--listen", "127.0.0.1:0", "--data-dir", coordinatorDir],
                                     logs: tmp.path, name: "coordinator")
        #expect(Daemon.wait(timeout: 30) { NetworkJoinTests.listening(coordinator) != nil }, "\(coordinator.stderr)")
        let at = try #require(NetworkJoinTests.listening(coordinator))
        var holders = [Daemon]()
        for i in 1...6 {
            try NetworkJoinTests.initOwner(tmp.sub("holder\(i)"))
            holders.append(try Daemon(["node", "run", "--data-dir", tmp.sub("holder\(i)"), "--coordinator", at, "--offer", "64M",
                                       "--listen", "127.0.0.1:0", "--test-intervals", "2"], logs: tmp.path, name: "holder\(i)"))
        }
        #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(coordinatorDir).filter(\.joined).count == 6 })
        try NetworkJoinTests.initOwner(tmp.sub("owner"))
        let config = tmp.sub("narrow.json")
        try Data(#"{"k": 3, "n": 5}"#.utf8).write(to: URL(fileURLWithPath: config))
        let owner = try Daemon(["node", "run", "--data-dir", tmp.sub("owner"), "--coordinator", at, "--offer", "64M",
                                "--listen", "127.0.0.1:0", "--test-intervals", "2", "--test-term", "30",
                                "--test-volume", "3M", "--config", config],
                               logs: tmp.path, name: "owner")
        let everything = { "\(owner.stderr)\n\(holders.map(\.stderr).joined(separator: "\n"))" }
        #expect(Daemon.wait(timeout: 60) { owner.stderr.contains("volume placed") }, "\(everything())")

        func runs(_ i: Int) -> [String] {
            let dir = tmp.sub("holder\(i)") + "/node/held/runs"
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".run") }.sorted()
        }
        let placed = (1...6).map(runs)
        #expect(placed.filter { !$0.isEmpty }.count == 5, "\(everything())")
        // Each slot file's size and last write, to show that nothing is streamed again.
        func written(_ i: Int) -> [String] {
            runs(i).map { name in
                let attributes = try? FileManager.default.attributesOfItem(atPath: tmp.sub("holder\(i)") + "/node/held/runs/" + name)
                return "\(name) \(attributes?[.size] ?? "-") \(attributes?[.modificationDate] ?? "-")"
            }
        }
        let before = (1...6).map(written)
        func renewals() -> Int { owner.stderr.components(separatedBy: "contractRenewed(").count - 1 }
        // Two rounds: every slot renewed twice, the second time a renewal of a renewal.
        #expect(Daemon.wait(timeout: 100) { renewals() >= 10 }, "\(renewals()) renewals\n\(everything())")

        #expect((1...6).map(runs) == placed, "a slot moved")
        #expect(!owner.stderr.contains("contractLapsed"), "\(owner.stderr)")
        #expect(!owner.stderr.contains("fault("), "\(owner.stderr)")
        #expect((1...6).map(written) == before, "a renewal wrote a slot file again")
        for node in holders + [owner] { #expect(node.stop() == 0) }
        #expect(coordinator.stop() == 0)
    }
}
