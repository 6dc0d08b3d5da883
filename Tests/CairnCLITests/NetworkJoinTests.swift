import CairnTestSupport
import Foundation
import Testing

/// A coordinator and nodes as separate processes on 127.0.0.1, over real Noise sessions:
/// every owner gets a node number and joins; a node killed with `kill -9` comes back with
/// the same number (its checkpoint), and so does a coordinator (its LMDB state), to which
/// the nodes reconnect by themselves.
@Suite(.serialized) struct NetworkJoinTests {
    struct MemberRow: Decodable {
        var node: UInt32
        var owner: String
        var joined: Bool
        var address: String
        var offered: UInt64
    }

    static func members(_ dir: String) throws -> [MemberRow] {
        let r = try CLI.run(["coordinator", "members", "--data-dir", dir, "--json"], timeout: 30)
        guard r.status == 0 else { return [] }
        return try JSONDecoder().decode([MemberRow].self, from: Data(r.stdout.utf8))
    }

    static func listening(_ daemon: Daemon) -> String? {
        guard let line = daemon.stdout.split(separator: "\n").first(where: { $0.hasPrefix("coordinator listening on ") }) else {
            return nil
        }
        return line.split(separator: " ").dropFirst(3).first.map(String.init)
    }

    static func initOwner(_ dir: String) throws {
        let r = try CLI.run(["init", "--data-dir", dir, "--phrase-out", dir + ".phrase"])
        try #require(r.status == 0, "\(r.stderr)")
    }

    /// Identities cost nothing to make: a coordinator admits at most --admissions-per-hour
    /// new ones from one address (and --max-members in all). The one over the limit gets no
    /// number and keeps trying; members it knows come back whatever the limit.
    @Test(.timeLimit(.minutes(2))) func newIdentitiesBeyondTheAdmissionLimitGetNoNumber() throws {
        let tmp = try TemporaryFolder("network-admission")
        let coordinatorDir = tmp.sub("coordinator")
        let coordinator = try Daemon(["coordinator", "run", "--listen", "127.0.0.1:0", "--data-dir", coordinatorDir,
                                      "--admissions-per-hour", "2"], logs: tmp.path, name: "coordinator")
        defer { _ = coordinator.stop() }
        #expect(Daemon.wait(timeout: 30) { Self.listening(coordinator) != nil }, "\(coordinator.stderr)")
        let at = try #require(Self.listening(coordinator))
        func node(_ i: Int) throws -> Daemon {
            if !FileManager.default.fileExists(atPath: tmp.sub("owner\(i)")) { try Self.initOwner(tmp.sub("owner\(i)")) }
            return try Daemon(["node", "run", "--data-dir", tmp.sub("owner\(i)"), "--coordinator", at, "--offer", "1G"],
                              logs: tmp.path, name: "node\(i)-\(UInt32.random(in: 0...UInt32.max))")
        }
        var first = try node(0)
        let second = try node(1)
        defer { for d in [first, second] where d.running { _ = d.stop() } }
        #expect(try Daemon.wait(timeout: 60) { try Self.members(coordinatorDir).filter(\.joined).count == 2 })
        let third = try node(2)
        defer { _ = third.stop() }
        #expect(Daemon.wait(timeout: 30) { third.stderr.contains("gave no node number") }, "\(third.stderr)")
        #expect(coordinator.stderr.contains("too many new identities from one address"), "\(coordinator.stderr)")
        #expect(try Self.members(coordinatorDir).count == 2)
        // A member it knows is no new identity.
        let connected = coordinator.stderr.components(separatedBy: "member connected").count
        #expect(first.stop() == 0)
        first = try node(0)
        #expect(Daemon.wait(timeout: 30) { coordinator.stderr.components(separatedBy: "member connected").count > connected },
                "\(coordinator.stderr)")
        #expect(!first.stderr.contains("gave no node number"), "\(first.stderr)")
        #expect(try Self.members(coordinatorDir).count == 2)
    }

    @Test(.timeLimit(.minutes(3))) func nodesJoinAndKeepTheirNumbersAcrossKills() throws {
        let tmp = try TemporaryFolder("network-join")
        let coordinatorDir = tmp.sub("coordinator")
        var coordinator = try Daemon(["coordinator", "run", "--listen", "127.0.0.1:0", "--data-dir", coordinatorDir],
                                     logs: tmp.path, name: "coordinator")
        #expect(Daemon.wait(timeout: 30) { Self.listening(coordinator) != nil }, "\(coordinator.stderr)")
        let at = try #require(Self.listening(coordinator))

        var nodes = [Daemon]()
        for i in 0..<3 {
            try Self.initOwner(tmp.sub("owner\(i)"))
            nodes.append(try Daemon(["node", "run", "--data-dir", tmp.sub("owner\(i)"), "--coordinator", at,
                                     "--offer", "\(i + 1)G", "--listen", "127.0.0.1:0"], logs: tmp.path, name: "node\(i)"))
        }
        #expect(try Daemon.wait(timeout: 60) { try Self.members(coordinatorDir).filter(\.joined).count == 3 },
                "\(coordinator.stderr)\n\(nodes.map(\.stderr).joined(separator: "\n"))")
        let first = try Self.members(coordinatorDir)
        #expect(Set(first.map(\.node)) == [0, 1, 2])
        #expect(Set(first.map(\.offered)) == [1 << 30, 2 << 30, 3 << 30])
        #expect(first.allSatisfy { $0.address.hasPrefix("127.0.0.1:") })

        // kill -9 a node and start it again: same owner, same number, no fourth member.
        let victim = try #require(first.first { $0.offered == 2 << 30 })
        nodes[1].kill9()
        nodes[1] = try Daemon(["node", "run", "--data-dir", tmp.sub("owner1"), "--coordinator", at, "--offer", "2G",
                               "--listen", "127.0.0.1:0"], logs: tmp.path, name: "node1-again")
        #expect(Daemon.wait(timeout: 30) { nodes[1].stderr.contains("node started") && nodes[1].stderr.contains("node=\(victim.node)") },
                "\(nodes[1].stderr)")
        #expect(try Daemon.wait(timeout: 30) { try Self.members(coordinatorDir).first { $0.node == victim.node }?.address != victim.address })
        #expect(try Self.members(coordinatorDir).count == 3)

        // kill -9 the coordinator and start it again on the same port: the directory is
        // still there and every node comes back to it.
        coordinator.kill9()
        coordinator = try Daemon(["coordinator", "run", "--listen", at, "--data-dir", coordinatorDir], logs: tmp.path,
                                 name: "coordinator-again")
        #expect(Daemon.wait(timeout: 30) { Self.listening(coordinator) == at }, "\(coordinator.stderr)")
        #expect(Daemon.wait(timeout: 60) { coordinator.stderr.components(separatedBy: "member connected").count - 1 >= 3 },
                "\(coordinator.stderr)")
        let after = try Self.members(coordinatorDir)
        #expect(after.count == 3 && after.allSatisfy(\.joined))

        // SIGTERM: every process stops cleanly, by itself.
        for node in nodes { #expect(node.stop() == 0, "\(node.stderr)") }
        #expect(coordinator.stop() == 0, "\(coordinator.stderr)")
    }

    @Test func badSettingsAreRefusedWithAClearMessage() throws {
        let tmp = try TemporaryFolder("network-args")
        let bad = try CLI.run(["coordinator", "run", "--listen", "127.0.0.1", "--data-dir", tmp.sub("c")], timeout: 30)
        #expect(bad.status == 1 && bad.stderr.contains("has no port"), "\(bad.stderr)")
        let noKeys = try CLI.run(["node", "run", "--data-dir", tmp.sub("nobody"), "--coordinator", "127.0.0.1:9", "--offer", "1G"],
                                 timeout: 30)
        #expect(noKeys.status == 1 && noKeys.stderr.contains("cairn init"), "\(noKeys.stderr)")
        let noOffer = try CLI.run(["node", "run", "--data-dir", tmp.sub("nobody"), "--coordinator", "127.0.0.1:9", "--offer", "lots"],
                                  timeout: 30)
        #expect(noOffer.status == 64, "\(noOffer.stderr)")
    }
}
