import ArgumentParser
import CairnCore
import CairnCrypto
import CairnData
import CairnNet
import CairnNode
import CairnWire
import Foundation
import Logging

/// `cairn coordinator …`: the network's directory, matchmaking and relay.
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run or inspect a coordinator: the network's directory, matchmaking and relay.",
        subcommands: [CoordinatorRun.self, CoordinatorMembers.self])
}

struct CoordinatorRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a coordinator until SIGINT or SIGTERM.",
        discussion: "Nodes dial it at --listen; it gives each owner its node number, tells nodes where their peers are, matches owners with holders and keeps the volume records a restore needs. Its state (LMDB, checkpointed before anything it decided leaves) lives in --data-dir.")

    @Option(help: "Where nodes reach it, HOST:PORT (port 0: any free port, printed at start).")
    var listen: String

    @Option(name: .customLong("data-dir"), help: "The coordinator's own folder (made if missing).")
    var dataDir: String

    @Option(name: .customLong("key-file"), help: ArgumentHelp(
        "The coordinator's key, kept apart from --data-dir (made if missing; default DATA-DIR/node.key).",
        discussion: "Nodes pin this key. Keep a copy: a coordinator that lost its data directory but still has its key rebuilds the directory from what the nodes tell it (their numbers, by the coordinator's own signature, and the owners' volume records)."))
    var keyFile: String?

    @Option(name: .customLong("rebuild-window"), help: "Minutes new owners wait after a rebuild starts, so old members take their numbers back first.")
    var rebuildWindow: Int = 60

    @Option(name: .customLong("notify-command"), help: ArgumentHelp(
        "A command (run by /bin/sh -c) to tell a node's operator that the node is offline while an owner needs its shards.",
        discussion: "It gets CAIRN_NODE, CAIRN_CONTACT (what the node registered with --notify), CAIRN_OWNER_WAITING and CAIRN_WHY (restore or repair) in its environment, at most once per node per --notify-every minutes; for example: curl -fsS -d \"node $CAIRN_NODE is needed ($CAIRN_WHY)\" \"$CAIRN_CONTACT\""))
    var notifyCommand: String?

    @Option(name: .customLong("notify-every"), help: "Minutes between two notifications about one node.")
    var notifyEvery: Int = 60

    @Option(name: .customLong("max-members"), help: "Most members the directory takes (identities cost nothing to make).")
    var maxMembers: Int = 100_000

    @Option(name: .customLong("admissions-per-hour"), help: "Most new members admitted from one IP address an hour.")
    var admissionsPerHour: Int = 20

    @Option(name: .customLong("blind-repair-after"), help: ArgumentHelp(
        "Hours an owner may be away before its holders are told to repair its volumes without it.",
        discussion: "A volume of an owner not heard from for this long that falls below its repair trigger is rebuilt by one of its holders (shards are ciphertext: the holder reads nothing) onto new holders, and the owner adopts the new contracts when it comes back."))
    var blindRepairAfter: Int = 72

    @Flag(name: .shortAndLong, help: "Log sessions and decisions to stderr.")
    var verbose = false

    /// Uptime measured in slots of this many seconds over a window of ten (tests and
    /// demonstrations: a holder killed for three slots falls below the threshold), and a
    /// rebuild window of five slots.
    @Option(name: .customLong("test-intervals"), help: .hidden)
    var testIntervals: Int?

    /// `--blind-repair-after` in seconds (tests).
    @Option(name: .customLong("test-blind-repair-after"), help: .hidden)
    var testBlindRepairAfter: Int?

    func run() async throws {
        let endpoint = try serviceRun { () throws(NetError) in try Endpoint(parsing: listen, allowAnyPort: true) }
        let logger = serviceLogger("cairn.coordinator", verbose: verbose)
        var settings = CoordinatorService.Settings(listen: endpoint, dataDirectory: absolute(dataDir))
        settings.keyFile = keyFile.map(absolute)
        guard (0...10_080).contains(rebuildWindow) else { throw ValidationError("--rebuild-window takes a number of minutes from 0 to 10080 (a week)") }
        settings.rebuildWindow = .minutes(Int64(rebuildWindow))
        guard (1...10_080).contains(notifyEvery) else { throw ValidationError("--notify-every takes a number of minutes from 1 to 10080 (a week)") }
        if let command = notifyCommand, command.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--notify-command is empty: give the command to run, or leave the option out")
        }
        settings.notifyCommand = notifyCommand
        guard (1...1_000_000).contains(maxMembers) else { throw ValidationError("--max-members takes a number from 1 to 1000000") }
        guard (1...1_000_000).contains(admissionsPerHour) else { throw ValidationError("--admissions-per-hour takes a number from 1 to 1000000") }
        settings.maxMembers = maxMembers
        settings.admissionsPerHour = admissionsPerHour
        settings.notifyEvery = .minutes(Int64(notifyEvery))
        guard (1...2_160).contains(blindRepairAfter) else {
            throw ValidationError("--blind-repair-after takes a number of hours from 1 to 2160 (90 days)")
        }
        settings.params.blindRepairAfter = .hours(Int64(blindRepairAfter))
        if let seconds = testBlindRepairAfter {
            guard seconds > 0 else { throw ValidationError("--test-blind-repair-after takes a number of seconds above 0") }
            settings.params.blindRepairAfter = .seconds(Int64(seconds))
        }
        if let seconds = testIntervals {
            guard seconds > 0 else { throw ValidationError("--test-intervals takes a number of seconds above 0") }
            settings.params.uptimeSlot = .seconds(Int64(seconds))
            settings.params.uptimeSlots = 10
            settings.rebuildWindow = .seconds(Int64(seconds) * 5)
            settings.notifyEvery = .seconds(Int64(seconds) * 5)
        }
        let service = try serviceRun { () throws(NodeError) in try CoordinatorService(settings: settings, logger: logger) }
        try await ServiceRunner.runUntilSignalled(logger: logger, start: {
            try await service.start()
            say("coordinator listening on \(service.endpoint!) key \(Hex.encode(service.publicKey))")
        }, stop: { await service.stop() })
    }
}

struct CoordinatorMembers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members", abstract: "List the members a coordinator knows (its last checkpoint; it may be running).")

    @Option(name: .customLong("data-dir"), help: "The coordinator's folder.")
    var dataDir: String

    @Option(name: .customLong("key-file"), help: "The coordinator's key file, when it was run with --key-file.")
    var keyFile: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let members = try serviceRun { () throws(NodeError) in
            try CoordinatorService.members(dataDirectory: absolute(dataDir), keyFile: keyFile.map(absolute))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(members), as: UTF8.self))
            return
        }
        print("\(members.count) member\(members.count == 1 ? "" : "s")")
        for m in members {
            print("  node \(m.node)  \(m.joined ? "joined" : "not joined")  \(m.address)  offers \(m.offered) bytes  owner \(m.owner.prefix(16))…")
        }
    }
}

/// `cairn node …`: this machine's node.
struct NodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Run this machine's node: offer disk space, place your backups, keep others'.",
        subcommands: [NodeRun.self])
}

struct NodeRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the node until SIGINT or SIGTERM.",
        discussion: """
            The node joins the network through --coordinator with the owner identity of --data-dir (made by `cairn init`), offers --offer bytes to others, answers challenges and keeps what it accepted in LMDB under DATA-DIR/node. Without --listen it only dials out.

            --config FILE holds the same settings as JSON (or TOML, for a file named *.toml), plus the code of new volumes and a backup schedule; options given on the command line win:
              {"coordinator": "HOST:PORT", "offer": "10G", "listen": "0.0.0.0:7401", "k": 3, "n": 5, "notify": "mailto:me@example.org",
               "backup": {"paths": ["/home/me"], "every_minutes": 360, "exclude": ["*.tmp"]}}
            As TOML: one `key = value` a line, and the backup settings under a [backup] header.
            With a backup section the node backs up those paths to the network every every_minutes (default a day), starting a second after it joins.
            """)

    @OptionGroup var options: DataDirOptions

    @Option(help: "The coordinator, HOST:PORT (or `coordinator` in --config).")
    var coordinator: String?

    @Option(help: "Disk space offered to others: bytes, or with K, M, G (1K = 1024) (or `offer` in --config).")
    var offer: ByteSize?

    @Option(help: "Where peers reach this node, HOST:PORT (port 0: any free port). Omit to only dial out.")
    var listen: String?

    @Option(help: "A JSON file with the same settings, k and n, and a backup schedule (see `cairn node run --help`).")
    var config: String?

    @Option(help: ArgumentHelp("Where to tell you when this node is offline while someone needs what it holds: a URL or an address (or `notify` in --config).",
                               discussion: "The coordinator passes it to its operator's --notify-command; it is never run as a command."))
    var notify: String?

    @Option(name: .customLong("test-volume"), help: .hidden)
    var testVolume: ByteSize?

    /// Heartbeat, challenge and repair every this many seconds (tests and demonstrations).
    @Option(name: .customLong("test-intervals"), help: .hidden)
    var testIntervals: Int?

    /// Contracts this node proposes last this many seconds, with a grace period as long
    /// (tests of renewal).
    @Option(name: .customLong("test-term"), help: .hidden)
    var testTerm: Int?

    func run() async throws {
        let file = try config.map(NodeConfig.load) ?? NodeConfig()
        guard let coordinator = coordinator ?? file.coordinator else {
            throw ValidationError("give the coordinator: --coordinator HOST:PORT, or `coordinator` in --config")
        }
        guard let offer = offer ?? file.offer else { throw ValidationError("give the space offered: --offer SIZE, or `offer` in --config") }
        let coordinatorEndpoint = try serviceRun { () throws(NetError) in try Endpoint(parsing: coordinator) }
        let listenEndpoint = try (listen ?? file.listen).map { text in
            try serviceRun { () throws(NetError) in try Endpoint(parsing: text, allowAnyPort: true) }
        }
        guard offer.bytes > 0 else { throw ValidationError("--offer must be more than 0 bytes, like --offer 10G") }
        if let notify, let problem = NodeConfig.contactProblem(notify) { throw ValidationError("--notify \(problem)") }
        let logger = serviceLogger("cairn.node", verbose: options.verbose)
        var settings = NodeService.Settings(dataDirectory: options.directory.path, coordinator: coordinatorEndpoint,
                                            offer: UInt64(offer.bytes), listen: listenEndpoint)
        if file.k != nil || file.n != nil {
            let n = file.n ?? settings.params.n
            let k = file.k ?? min(settings.params.k, n - 1)
            guard k >= 1, k < n else { throw ValidationError("\(config!): k must be at least 1 and below n (got k=\(k), n=\(n))") }
            settings.params = NodeParams(k: k, n: n, uptimeThresholdPermille: NodeParams.defaultUptimeThresholdPermille(k: k, n: n),
                                         repairTrigger: NodeParams.defaultRepairTrigger(k: k, n: n))
        }
        if let paths = file.backupPaths, let minutes = file.backupEveryMinutes {
            settings.schedule = BackupSchedule(paths: paths.map(absolute), everySeconds: Int64(minutes) * 60, excludes: file.backupExcludes)
        }
        settings.notify = notify ?? file.notify
        settings.testVolumeBytes = testVolume?.bytes
        if let seconds = testIntervals {
            guard seconds > 0 else { throw ValidationError("--test-intervals takes a number of seconds above 0") }
            let every = Interval.seconds(Int64(seconds))
            settings.params.heartbeatInterval = every
            settings.params.challengeInterval = every
            settings.params.repairInterval = every
            settings.params.challengeTimeout = every
            settings.params.repairTimeout = every * 3
            // A dial to an address that does not answer takes the 10 s handshake timeout
            // before the relay is tried: a proposal is not given up sooner.
            settings.params.proposalTimeout = max(every * 3, .seconds(30))
            settings.adoptionPatience = .seconds(Int64(max(seconds * 10, 30)))
        }
        if let seconds = testTerm {
            guard seconds > 0, seconds <= 10 * 366 * 86_400 else {
                throw ValidationError("--test-term takes a number of seconds above 0 and at most ten years")
            }
            settings.params.term = .seconds(Int64(seconds))
            settings.params.grace = .seconds(Int64(seconds))
        }
        let service = try serviceRun { () throws(NodeError) in try NodeService(settings: settings, logger: logger) }
        try await ServiceRunner.runUntilSignalled(logger: logger, start: {
            try await service.start()
            say("node running; coordinator \(coordinatorEndpoint)")
        }, stop: { await service.stop() })
    }
}

private func serviceLogger(_ label: String, verbose: Bool) -> Logger {
    var logger = Logger(label: label, factory: { StreamLogHandler.standardError(label: $0) })
    logger.logLevel = verbose ? .debug : .info
    return logger
}

/// A line on stdout, at once (scripts and tests wait for it).
private func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

private func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }


/// A network or service call: its typed error becomes a clear message on stderr and exit
/// code 1 (as `cairnRun` does for the data path).
func serviceRun<R, E: CairnError>(_ body: () throws(E) -> R) throws -> R {
    do { return try body() } catch {
        Terminal.error(error.description)
        throw ExitCode(1)
    }
}
