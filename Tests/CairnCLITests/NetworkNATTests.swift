import CairnTestSupport
import Foundation
import Testing

/// A home machine behind NAT, for real: the owner's node and one holder run in a network
/// namespace the test makes (`NATNamespace`: source NAT to a public address, nothing gets
/// in but replies), the coordinator and four holders outside it. Both listen, so the
/// coordinator records their NAT's public address, which nobody can open a connection to:
/// the owner's uploads to the holder behind the NAT, and the restore's fetches from it, find
/// that address silent and go through the coordinator's relay instead; everything else the
/// owner reaches by connecting outward. The folder is backed up 3-of-5 and restored from the
/// phrase inside the namespace, byte for byte.
@Suite(.serialized) struct NetworkNATTests {
    @Test(.enabled(if: NATNamespace.unavailable == nil, "\(NATNamespace.unavailable ?? "")"), .timeLimit(.minutes(4)))
    func aNodeBehindNATBacksUpAndRestoresThroughTheRelay() throws {
        let nat = try NATNamespace()
        defer { nat.remove() }
        let tmp = try TemporaryFolder("network-nat")
        var daemons: [Daemon] = []
        defer { for d in daemons.reversed() where d.running { _ = d.stop() } }

        let coordinatorDir = tmp.sub("coordinator")
        let coordinator = try Daemon(["coordinator", "run", "--listen", "\(nat.hostAddress):0", "--data-dir", coordinatorDir,
                                      "--test-intervals", "2"], logs: tmp.path, name: "coordinator")
        daemons.append(coordinator)
        #expect(Daemon.wait(timeout: 30) { NetworkJoinTests.listening(coordinator) != nil }, "\(coordinator.stderr)")
        let at = try #require(NetworkJoinTests.listening(coordinator))
        func node(_ name: String, listen: String, behindNAT: Bool, verbose: Bool = false) throws -> Daemon {
            try NetworkJoinTests.initOwner(tmp.sub(name))
            let d = try Daemon(["node", "run", "--data-dir", tmp.sub(name), "--coordinator", at, "--offer", "64M",
                                "--test-intervals", "2", "--listen", listen] + (verbose ? ["--verbose"] : []),
                               logs: tmp.path, name: name, inside: behindNAT ? nat.exec : [])
            daemons.append(d)
            return d
        }
        for i in 1...4 { _ = try node("holder\(i)", listen: "\(nat.hostAddress):0", behindNAT: false) }
        let natted = try node("natted", listen: "0.0.0.0:0", behindNAT: true)
        let owner = try node("owner", listen: "0.0.0.0:0", behindNAT: true, verbose: true)
        #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(coordinatorDir).filter(\.joined).count == 6 })

        // The coordinator sees the two nodes at the NAT's public address, where nothing answers.
        let members = try NetworkJoinTests.members(coordinatorDir)
        let behind = members.filter { $0.address.hasPrefix(nat.publicAddress + ":") }
        #expect(behind.count == 2, "\(members.map(\.address))")
        for m in behind {
            let port = try #require(Int(m.address.split(separator: ":").last ?? ""))
            #expect(!NATNamespace.connects(to: nat.publicAddress, port: port, within: 2), "\(m.address) is reachable from outside")
            #expect(!NATNamespace.connects(to: nat.privateAddress, port: port, within: 2), "\(nat.privateAddress):\(port) is reachable")
        }

        let file = tmp.sub("data.bin")
        var rng = SeededRandom(seed: 21)
        try Data(rng.bytes(900_000)).write(to: URL(fileURLWithPath: file))
        let backup = try CLI.run(["backup", file, "--data-dir", tmp.sub("owner"), "--k", "3", "--n", "5", "--wait", "120", "--json"],
                                 inside: nat.exec)
        #expect(backup.status == 0, "\(backup.stderr)\n\(owner.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
        #expect((summary["network"] as? [String: Any])?["complete"] as? Bool == true, "\(backup.stdout)\n\(owner.stderr)\n\(natted.stderr)")
        // Five holders for five shards: the one behind the NAT holds one, reached through the relay.
        let held = !((try? FileManager.default.contentsOfDirectory(atPath: tmp.sub("natted") + "/node/held/runs")) ?? []).isEmpty
        #expect(held, "\(natted.stderr)")
        #expect(owner.stderr.contains("trying the relay"), "\(owner.stderr)")
        #expect(owner.stop() == 0)

        let out = tmp.sub("out")
        let restore = try CLI.run(["restore", "latest", "--to", out, "--coordinator", at, "--data-dir", tmp.sub("elsewhere"),
                                   "--phrase-file", tmp.sub("owner") + ".phrase", "--patience", "90"], inside: nat.exec)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: out + file) == FileManager.default.contents(atPath: file))
    }
}
