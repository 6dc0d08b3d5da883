import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Operator notification: holders register where their operators want to hear
/// (`--notify`); two of them are killed; when the owner restores, the coordinator runs its
/// operator's `--notify-command` once for each offline holder, with the node, its contact,
/// the owner waiting and why in the environment, and never for a holder that is up. A
/// contact made of shell code is passed on as text, never run.
@Suite(.serialized) struct NetworkNotifyTests {
    @Test(.timeLimit(.minutes(4))) func offlineHoldersOperatorsAreToldWhenARestoreNeedsThem() throws {
        let tmp = try TemporaryFolder("network-notify")
        let log = tmp.sub("notified.log")
        let pwned = tmp.sub("pwned")
        var daemons: [Daemon] = []
        defer { for d in daemons.reversed() where d.running { _ = d.stop() } }
        let command = #"printf '%s|%s|%s|%s\n' "$CAIRN_NODE" "$CAIRN_CONTACT" "$CAIRN_OWNER_WAITING" "$CAIRN_WHY" >> "#
            + "'\(log)'"
        let coordinator = try Daemon(["coordinator", "run", "--listen", "127.0.0.1:0", "--data-dir", tmp.sub("coordinator"),
                                      "--test-intervals", "2", "--notify-command", command], logs: tmp.path, name: "coordinator")
        daemons.append(coordinator)
        #expect(Daemon.wait(timeout: 30) { NetworkJoinTests.listening(coordinator) != nil }, "\(coordinator.stderr)")
        let at = try #require(NetworkJoinTests.listening(coordinator))
        // Holder 3's contact is shell code: it must arrive as these very characters.
        let contacts = (1...5).map { $0 == 3 ? "$(touch${IFS}\(pwned))" : "mailto:holder\($0)@example.org" }
        var holders: [Daemon] = []
        for i in 1...5 {
            try NetworkJoinTests.initOwner(tmp.sub("holder\(i)"))
            let d = try Daemon(["node", "run", "--data-dir", tmp.sub("holder\(i)"), "--coordinator", at, "--offer", "64M",
                                "--test-intervals", "2", "--listen", "127.0.0.1:0", "--notify", contacts[i - 1]],
                               logs: tmp.path, name: "holder\(i)")
            daemons.append(d)
            holders.append(d)
        }
        try NetworkJoinTests.initOwner(tmp.sub("owner"))
        let owner = try Daemon(["node", "run", "--data-dir", tmp.sub("owner"), "--coordinator", at, "--offer", "64M",
                                "--test-intervals", "2", "--listen", "127.0.0.1:0"], logs: tmp.path, name: "owner")
        daemons.append(owner)
        #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(tmp.sub("coordinator")).filter(\.joined).count == 6 })
        let file = tmp.sub("data.bin")
        var rng = SeededRandom(seed: 41)
        try Data(rng.bytes(600_000)).write(to: URL(fileURLWithPath: file))
        let backup = try CLI.run(["backup", file, "--data-dir", tmp.sub("owner"), "--k", "3", "--n", "5", "--wait", "90"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let status = try CLI.run(["status", "--data-dir", tmp.sub("owner"), "--json"])
        let node = (try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["node"] as? [String: Any]
        let ownerNumber = try #require(node?["node"] as? Int)
        #expect(owner.stop() == 0)
        holders[0].kill9()
        holders[2].kill9()
        // Silent for longer than the coordinator's "recently seen" (three seconds here).
        Thread.sleep(forTimeInterval: 5)
        #expect(!FileManager.default.fileExists(atPath: log), "told before anyone needed them")

        let restore = try CLI.run(["restore", "latest", "--to", tmp.sub("out"), "--coordinator", at, "--data-dir", tmp.sub("elsewhere"),
                                   "--phrase-file", tmp.sub("owner") + ".phrase", "--patience", "60"])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(Daemon.wait(timeout: 20) {
            (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").count == 2
        }, "\(coordinator.stderr)")
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        #expect(Set(lines.compactMap { $0.count == 4 ? $0[1] : nil }) == [contacts[0], contacts[2]], "\(lines)")
        #expect(lines.allSatisfy { $0.count == 4 && $0[2] == "\(ownerNumber)" && $0[3] == "restore" && UInt32($0[0]) != nil }, "\(lines)")
        #expect(!FileManager.default.fileExists(atPath: pwned), "a contact was run as shell code")

        // A contact that is not one is refused before the node starts.
        try NetworkJoinTests.initOwner(tmp.sub("bad"))
        let bad = try CLI.run(["node", "run", "--data-dir", tmp.sub("bad"), "--coordinator", at, "--offer", "1M",
                               "--notify", "two words"], timeout: 30)
        #expect(bad.status == 64 && bad.stderr.contains("--notify must be printable ASCII without spaces"), "\(bad.stderr)")
    }
}
