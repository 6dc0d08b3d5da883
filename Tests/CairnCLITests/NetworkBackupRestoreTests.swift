import CairnTestSupport
import Foundation
import Testing

/// The demonstration's steps with assertions, over real processes on 127.0.0.1: an owner
/// backs up a folder to the network through its running node (3-of-5 on five of seven
/// holders, two of them reachable only through the relay), `cairn status` reports the
/// volume healthy; two holders are killed and the owner's node stopped; the folder is
/// restored from the phrase alone into a new data directory, byte for byte; the owner's
/// node comes back and repairs the lost shards onto the spares.
@Suite(.serialized) struct NetworkBackupRestoreTests {
    struct Net {
        let tmp: TemporaryFolder
        let coordinator: Daemon
        let at: String
        let holders: [Daemon]

        /// `coordinatorArgs`: more options for `cairn coordinator run`.
        init(label: String, holders count: Int, relayOnly: Int = 2, coordinatorArgs: [String] = []) throws {
            let tmp = try TemporaryFolder(label)
            let coordinator = try Daemon(["coordinator", "run", "--listen", "127.0.0.1:0", "--data-dir", tmp.sub("coordinator"),
                                          "--test-intervals", "2"] + coordinatorArgs, logs: tmp.path, name: "coordinator")
            #expect(Daemon.wait(timeout: 30) { NetworkJoinTests.listening(coordinator) != nil }, "\(coordinator.stderr)")
            let at = try #require(NetworkJoinTests.listening(coordinator))
            var holders: [Daemon] = []
            for i in 1...count {
                try NetworkJoinTests.initOwner(tmp.sub("holder\(i)"))
                let listen = i <= relayOnly ? [] : ["--listen", "127.0.0.1:0"]
                holders.append(try Self.node(tmp: tmp, at: at, "holder\(i)", listen: listen))
            }
            (self.tmp, self.coordinator, self.at, self.holders) = (tmp, coordinator, at, holders)
        }

        static func node(tmp: TemporaryFolder, at: String, _ name: String, listen: [String]) throws -> Daemon {
            try Daemon(["node", "run", "--data-dir", tmp.sub(name), "--coordinator", at, "--offer", "64M", "--test-intervals", "2"] + listen,
                       logs: tmp.path, name: name)
        }

        func node(_ name: String, listens: Bool = true, verbose: Bool = false) throws -> Daemon {
            try Self.node(tmp: tmp, at: at, name, listen: (listens ? ["--listen", "127.0.0.1:0"] : []) + (verbose ? ["--verbose"] : []))
        }

        func holding(_ i: Int) -> Bool {
            !((try? FileManager.default.contentsOfDirectory(atPath: tmp.sub("holder\(i)") + "/node/held/runs")) ?? []).isEmpty
        }

        func status(_ dir: String) throws -> [String: Any] {
            let r = try CLI.run(["status", "--data-dir", dir, "--json"])
            try #require(r.status == 0, "\(r.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        }

        func stopAll() {
            for h in holders where h.running { _ = h.stop() }
            _ = coordinator.stop()
        }
    }

    @Test(.timeLimit(.minutes(4))) func backupToTheNetworkAndRestoreAnywhere() throws {
        let net = try Net(label: "network-backup", holders: 7)
        defer { net.stopAll() }
        try NetworkJoinTests.initOwner(net.tmp.sub("owner"))
        let owner = try net.node("owner")
        #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(net.tmp.sub("coordinator")).filter(\.joined).count == 8 })

        // A folder with a large file, small ones, a symlink and an old mtime.
        let sample = net.tmp.sub("sample")
        try FileManager.default.createDirectory(atPath: sample + "/docs", withIntermediateDirectories: true)
        var rng = SeededRandom(seed: 11)
        try Data(rng.bytes(3_000_000)).write(to: URL(fileURLWithPath: sample + "/big.bin"))
        for i in 0..<20 { try Data("note \(i)\n".utf8).write(to: URL(fileURLWithPath: sample + "/docs/n\(i).txt")) }
        try FileManager.default.createSymbolicLink(atPath: sample + "/link", withDestinationPath: "docs/n1.txt")

        let backup = try CLI.run(["backup", sample, "--data-dir", net.tmp.sub("owner"), "--k", "3", "--n", "5", "--wait", "90", "--json"])
        #expect(backup.status == 0, "\(backup.stderr)\n\(owner.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
        let network = try #require(summary["network"] as? [String: Any], "\(backup.stdout)")
        #expect(network["complete"] as? Bool == true && network["healthy"] as? Int == 5, "\(network)")
        let snapshot = try #require(summary["snapshot"] as? String)

        // Status: the volume, five healthy shards of 3-of-5, five peers.
        let status = try net.status(net.tmp.sub("owner"))
        let node = try #require(status["node"] as? [String: Any], "\(status)")
        let volumes = try #require(node["volumes"] as? [[String: Any]])
        #expect(volumes.count == 1 && volumes[0]["healthy"] as? Int == 5 && volumes[0]["k"] as? Int == 3, "\(volumes)")
        #expect((node["contractsOwned"] as? Int ?? 0) >= 5, "\(node)")
        #expect((node["lastBackup"] as? [String: Any])?["volume"] as? Int == volumes[0]["number"] as? Int)
        let holding = (1...7).filter(net.holding)
        #expect(holding.count == 5, "\(holding)")
        // A second backup with nothing new adds a snapshot: its volume is only the new root record.
        let again = try CLI.run(["backup", sample, "--data-dir", net.tmp.sub("owner"), "--wait", "60", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let second = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        let secondNetwork = try #require(second["network"] as? [String: Any], "\(again.stdout)")
        #expect(secondNetwork["packs"] as? Int == 1 && secondNetwork["complete"] as? Bool == true, "\(secondNetwork)")
        let latest = try #require(second["snapshot"] as? String)
        #expect(latest != snapshot)

        for i in holding.prefix(2) { net.holders[i - 1].kill9() }
        #expect(owner.stop() == 0)

        // A wrong phrase is another identity: nothing to restore, said clearly.
        try NetworkJoinTests.initOwner(net.tmp.sub("stranger"))
        let stranger = try CLI.run(["restore", "latest", "--to", net.tmp.sub("nothing"), "--coordinator", net.at,
                                    "--data-dir", net.tmp.sub("stranger-new"), "--phrase-file", net.tmp.sub("stranger") + ".phrase",
                                    "--patience", "20"])
        #expect(stranger.status == 1 && stranger.stderr.contains("knows no backup of this identity"), "\(stranger.stderr)")

        // Restore anywhere: a new data directory, the phrase, the coordinator.
        let out = net.tmp.sub("out")
        let restore = try CLI.run(["restore", "latest", "--to", out, "--coordinator", net.at, "--data-dir", net.tmp.sub("new-machine"),
                                   "--phrase-file", net.tmp.sub("owner") + ".phrase", "--patience", "60"])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(restore.stdout.contains("restored snapshot \(latest)") && restore.stdout.contains("fetched 2 volumes"), "\(restore.stdout)")
        // Fetched streams go straight into the staging targets: nothing is spooled on the
        // new machine (and what no slot check kept was removed before the engine ran).
        #expect(!FileManager.default.fileExists(atPath: net.tmp.sub("new-machine") + "/node/held"))
        let restored = out + sample
        #expect(FileManager.default.contents(atPath: restored + "/big.bin") == FileManager.default.contents(atPath: sample + "/big.bin"))
        #expect(FileManager.default.contents(atPath: restored + "/docs/n7.txt") == Data("note 7\n".utf8))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: restored + "/link")) == "docs/n1.txt")

        // The owner's node comes back and repairs around the killed holders: see
        // `killedHoldersAreRepairedAroundWhenTheOwnerReturns`.
    }

    /// The owner's node, back after two of its holders were killed, sees them fall below
    /// the uptime threshold and rebuilds their shards onto the spares. (Once disabled: on a
    /// loaded machine the replacement that had accepted was given up while the rebuild
    /// waited on a fetch from a killed holder, and, barred from the volume for good, left no
    /// spare for the second slot; reproduced and fixed in the core, see RepairPathTests.)
    /// Eight holders, so three spares: on a loaded machine a live holder's uptime can dip
    /// below the threshold too and take one.
    @Test(.timeLimit(.minutes(4)))
    func killedHoldersAreRepairedAroundWhenTheOwnerReturns() throws {
        let net = try Net(label: "network-repair", holders: 8)
        defer { net.stopAll() }
        try NetworkJoinTests.initOwner(net.tmp.sub("owner"))
        var owner = try net.node("owner")
        #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(net.tmp.sub("coordinator")).filter(\.joined).count == 9 })
        let file = net.tmp.sub("data.bin")
        var rng = SeededRandom(seed: 13)
        try Data(rng.bytes(1_000_000)).write(to: URL(fileURLWithPath: file))
        let backup = try CLI.run(["backup", file, "--data-dir", net.tmp.sub("owner"), "--k", "3", "--n", "5", "--wait", "90"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let holding = (1...8).filter(net.holding)
        for i in holding.prefix(2) { net.holders[i - 1].kill9() }
        #expect(owner.stop() == 0)
        owner = try net.node("owner", verbose: true)
        let repaired = Daemon.wait(timeout: 120) { owner.stderr.contains("repairCompleted") }
        #expect(repaired, "\(owner.stderr)\n\((try? CLI.run(["status", "--data-dir", net.tmp.sub("owner"), "--json"]).stdout) ?? "")")
        #expect(try Daemon.wait(timeout: 60) {
            let volumes = (try net.status(net.tmp.sub("owner"))["node"] as? [String: Any])?["volumes"] as? [[String: Any]] ?? []
            return volumes.count == 1 && volumes.allSatisfy { $0["healthy"] as? Int == 5 }
        }, "the volume has five healthy shards again")
        #expect(owner.stop() == 0)
    }

    /// No node opens a port: every upload, challenge and fetch (the restore's too) goes
    /// through the coordinator's relay, which sees only ciphertext.
    @Test(.timeLimit(.minutes(3))) func backupAndRestoreThroughTheRelayAlone() throws {
        let net = try Net(label: "network-relay", holders: 5, relayOnly: 5)
        defer { net.stopAll() }
        try NetworkJoinTests.initOwner(net.tmp.sub("owner"))
        let owner = try net.node("owner", listens: false)
        #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(net.tmp.sub("coordinator")).filter(\.joined).count == 6 })
        let file = net.tmp.sub("data.bin")
        var rng = SeededRandom(seed: 12)
        try Data(rng.bytes(1_500_000)).write(to: URL(fileURLWithPath: file))
        // 3-of-5: six members are too few for the default 4-of-8 (docs/research/shard-count.md).
        let backup = try CLI.run(["backup", file, "--data-dir", net.tmp.sub("owner"), "--k", "3", "--n", "5", "--wait", "90", "--json"])
        #expect(backup.status == 0, "\(backup.stderr)\n\(owner.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
        #expect((summary["network"] as? [String: Any])?["complete"] as? Bool == true, "\(backup.stdout)")
        #expect(owner.stop() == 0)
        let out = net.tmp.sub("out")
        let restore = try CLI.run(["restore", "latest", "--to", out, "--coordinator", net.at, "--data-dir", net.tmp.sub("elsewhere"),
                                   "--phrase-file", net.tmp.sub("owner") + ".phrase", "--patience", "60"])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: out + file) == FileManager.default.contents(atPath: file))
    }

    /// A network too small for the node's code (the default 4-of-8 needs 8 holders; this one
    /// has 3 besides the owner): the backup is saved and placed as far as it goes, and the
    /// command says why it cannot finish and what to do, instead of only "so far".
    @Test(.timeLimit(.minutes(2))) func aNetworkTooSmallForTheCodeIsToldSo() throws {
        let net = try Net(label: "network-small", holders: 3, relayOnly: 0)
        defer { net.stopAll() }
        try NetworkJoinTests.initOwner(net.tmp.sub("owner"))
        let owner = try net.node("owner")
        #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(net.tmp.sub("coordinator")).filter(\.joined).count == 4 })
        let file = net.tmp.sub("data.bin")
        var rng = SeededRandom(seed: 14)
        try Data(rng.bytes(300_000)).write(to: URL(fileURLWithPath: file))
        let backup = try CLI.run(["backup", file, "--data-dir", net.tmp.sub("owner"), "--wait", "8"])
        #expect(backup.status == 0, "\(backup.stderr)\n\(owner.stderr)")
        #expect(backup.stdout.contains("acknowledged so far"), "\(backup.stdout)")
        #expect(backup.stdout.contains("4-of-8 needs 8 distinct holders"), "\(backup.stdout)")
        #expect(backup.stdout.contains("fewer than 9 members"), "\(backup.stdout)")
        #expect(owner.stop() == 0)
    }

    /// Two of five holders serve damaged shards: the restore client checks each stream as it
    /// arrives, refuses theirs (removing what they wrote into the staging targets) and
    /// restores from the other three, byte for byte. One good holder is stopped (SIGSTOP)
    /// when the restore starts and resumed a few seconds in: until then only two good
    /// holders answer, so the restore cannot finish before the damaged streams were checked
    /// and refused (with all three good ones up, k good streams could end the restore first
    /// and the refusal was never logged).
    @Test(.timeLimit(.minutes(3))) func holdersServingDamagedShardsArePassedOver() throws {
        let net = try Net(label: "network-damaged", holders: 5, relayOnly: 0)
        defer { net.stopAll() }
        try NetworkJoinTests.initOwner(net.tmp.sub("owner"))
        let owner = try net.node("owner")
        #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(net.tmp.sub("coordinator")).filter(\.joined).count == 6 })
        let file = net.tmp.sub("data.bin")
        var rng = SeededRandom(seed: 13)
        try Data(rng.bytes(2_000_000)).write(to: URL(fileURLWithPath: file))
        let backup = try CLI.run(["backup", file, "--data-dir", net.tmp.sub("owner"), "--k", "3", "--n", "5", "--wait", "90", "--json"])
        #expect(backup.status == 0, "\(backup.stderr)\n\(owner.stderr)")
        #expect(owner.stop() == 0)
        // Four of the five are asked at once (k plus a spare): at least one damaged one is.
        for i in [1, 2] {
            let dir = net.tmp.sub("holder\(i)") + "/node/held/runs"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasSuffix(".run") {
                let path = dir + "/" + name
                var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
                for at in stride(from: 100, to: bytes.count, by: 997) { bytes[at] ^= 0xff }
                try Data(bytes).write(to: URL(fileURLWithPath: path))
            }
        }
        let out = net.tmp.sub("out")
        let late = net.holders[2].pid
        #expect(kill(late, SIGSTOP) == 0)
        let resumed = DispatchSemaphore(value: 0)
        DispatchQueue.global().asyncAfter(deadline: .now() + 6) {
            kill(late, SIGCONT)
            resumed.signal()
        }
        let restore = try CLI.run(["restore", "latest", "--to", out, "--coordinator", net.at, "--data-dir", net.tmp.sub("elsewhere"),
                                   "--phrase-file", net.tmp.sub("owner") + ".phrase", "--patience", "60"])
        resumed.wait()
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(restore.stderr.contains("a fetched slot does not check"), "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: out + file) == FileManager.default.contents(atPath: file))
    }

    /// `--config`: settings from a JSON or TOML file, and a backup the node runs by itself.
    @Test(.timeLimit(.minutes(3)), arguments: ["json", "toml"]) func aConfiguredNodeBacksUpOnItsOwn(format: String) throws {
        let net = try Net(label: "network-config-\(format)", holders: 5, relayOnly: 0)
        defer { net.stopAll() }
        try NetworkJoinTests.initOwner(net.tmp.sub("owner"))
        let folder = net.tmp.sub("folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data("kept by the schedule\n".utf8).write(to: URL(fileURLWithPath: folder + "/a.txt"))
        let config = net.tmp.sub("node.\(format)")
        let settings = format == "json"
            ? #"{"coordinator": "\#(net.at)", "offer": "64M", "k": 2, "n": 4, "backup": {"paths": ["\#(folder)"], "every_minutes": 60}}"#
            : """
            # the node's settings
            coordinator = "\(net.at)"
            offer = '64M'
            k = 2
            n = 4

            [backup]
            paths = [
                "\(folder)",  # the folder kept
            ]
            every_minutes = 60
            """
        try Data(settings.utf8).write(to: URL(fileURLWithPath: config))
        let owner = try Daemon(["node", "run", "--data-dir", net.tmp.sub("owner"), "--config", config, "--test-intervals", "2"],
                               logs: net.tmp.path, name: "owner")
        #expect(Daemon.wait(timeout: 90) { owner.stderr.contains("scheduled backup handed to the node") }, "\(owner.stderr)")
        #expect(try Daemon.wait(timeout: 60) {
            let node = try net.status(net.tmp.sub("owner"))["node"] as? [String: Any]
            let volumes = node?["volumes"] as? [[String: Any]] ?? []
            return volumes.count == 1 && volumes[0]["k"] as? Int == 2 && volumes[0]["n"] as? Int == 4 && volumes[0]["healthy"] as? Int == 4
        }, "the scheduled backup is placed 2-of-4 as the file says")
        #expect(owner.stop() == 0)
        let restore = try CLI.run(["restore", "latest", "--to", net.tmp.sub("out"), "--coordinator", net.at, "--data-dir", net.tmp.sub("again"),
                                   "--phrase-file", net.tmp.sub("owner") + ".phrase", "--patience", "60"])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: net.tmp.sub("out") + folder + "/a.txt") == Data("kept by the schedule\n".utf8))

        // Mistakes in the file are refused with their path.
        let mistakes = format == "json"
            ? [(#"{"coordinatr": "x"}"#, "$.coordinatr is not a setting"), (#"{"k": true}"#, "$.k must be a whole number"),
               (#"{"backup": {"paths": []}}"#, "$.backup.paths must list"), ("[1]", "must be a JSON object"),
               (#"{"offer": "lots"}"#, "$.offer must be a size")]
            : [("coordinatr = \"x\"", "coordinatr is not a setting"), ("k = true", "k must be a whole number"),
               ("[backup]\npaths = []", "backup.paths must list"), ("backup.paths = [\"/x\"]", "line 1: dotted keys"),
               ("offer = \"lots\"", "offer must be a size"), ("k = 3\nk = 4", "line 2: k is set twice"),
               ("notify = \"two words\"", "notify must be printable ASCII")]
        for (text, words) in mistakes {
            try Data(text.utf8).write(to: URL(fileURLWithPath: config))
            let bad = try CLI.run(["node", "run", "--data-dir", net.tmp.sub("owner"), "--config", config], timeout: 30)
            #expect(bad.status == 64 && bad.stderr.contains(words), "\(text): \(bad.stderr)")
        }
    }

    @Test func networkBackupMistakesAreRefusedClearly() throws {
        let tmp = try TemporaryFolder("network-backup-bad")
        try NetworkJoinTests.initOwner(tmp.sub("owner"))
        try FileManager.default.createDirectory(atPath: tmp.sub("owner") + "/node", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: tmp.sub("f")))
        // A node folder but no node running.
        let none = try CLI.run(["backup", tmp.sub("f"), "--data-dir", tmp.sub("owner")])
        #expect(none.status == 1 && none.stderr.contains("no node is running"), "\(none.stderr)")
        let status = try CLI.run(["status", "--data-dir", tmp.sub("owner")])
        #expect(status.status == 0 && status.stdout.contains("no node is running"), "\(status.stdout)")
        // One node per data directory: a second is refused before it touches anything.
        let first = try Daemon(["node", "run", "--data-dir", tmp.sub("owner"), "--coordinator", "127.0.0.1:9", "--offer", "1M"],
                               logs: tmp.path, name: "first")
        #expect(Daemon.wait(timeout: 30) { FileManager.default.fileExists(atPath: tmp.sub("owner") + "/node/control.sock") })
        let second = try CLI.run(["node", "run", "--data-dir", tmp.sub("owner"), "--coordinator", "127.0.0.1:9", "--offer", "1M"], timeout: 30)
        #expect(second.status == 1 && second.stderr.contains("already running on"), "\(second.stderr)")
        let restoreHere = try CLI.run(["restore", "latest", "--to", tmp.sub("o"), "--coordinator", "127.0.0.1:9", "--data-dir", tmp.sub("owner")])
        #expect(restoreHere.status == 1 && restoreHere.stderr.contains("a node is running on"), "\(restoreHere.stderr)")
        #expect(first.stop() == 0)
        // --n belongs to the network; --from and --coordinator exclude each other.
        let n = try CLI.run(["backup", tmp.sub("f"), "--data-dir", tmp.sub("owner"), "--to", tmp.sub("a") + "," + tmp.sub("b"), "--n", "2"])
        #expect(n.status == 64 && n.stderr.contains("--n is for backups to the network"), "\(n.stderr)")
        let both = try CLI.run(["restore", "latest", "--to", tmp.sub("o"), "--coordinator", "127.0.0.1:9", "--from", tmp.sub("a"),
                                "--data-dir", tmp.sub("x")])
        #expect(both.status == 64, "\(both.stderr)")
        // A restore whose coordinator never answers gives up after its patience, saying so.
        let silent = try CLI.run(["restore", "latest", "--to", tmp.sub("o"), "--coordinator", "127.0.0.1:9", "--data-dir", tmp.sub("owner2"),
                                  "--phrase-file", tmp.sub("owner") + ".phrase", "--patience", "3"])
        #expect(silent.status == 1 && silent.stderr.contains("could not be reached"), "\(silent.stderr)")
    }
}
