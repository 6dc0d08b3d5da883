import ArgumentParser
import CairnCrypto
import CairnData
import CairnNode
import Foundation

/// `cairn status`: the data directory (identity, targets, snapshots) and, when a node runs
/// on it, what the node is doing: peers, contracts, bytes offered, held and placed, each
/// volume's health, repairs, the last backup.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the identity, targets and snapshots of this data directory, and its running node.",
        discussion: """
            With a node running on the data directory (`cairn node run`), it is asked through its
            control socket (DIR/node/control.sock, only your account can use it).
            """)

    @OptionGroup var options: DataDirOptions

    @Flag(help: "Print JSON.")
    var json = false

    struct Local: Encodable {
        var identity: String
        var dataDirectory: String
        var repository: String?
        var k: Int?
        var targets: [String]
        var snapshots: Int
        var packs: Int
        var latest: String?
        var node: NodeStatus?
        var nodeProblem: String?
        enum CodingKeys: String, CodingKey {
            case identity, dataDirectory = "data_dir", repository, k, targets, snapshots, packs, latest, node
            case nodeProblem = "node_problem"
        }
    }

    func run() throws {
        let repo = try options.repository()
        let root = try cairnRun { () throws(DataError) in try repo.state.root() }
        let dir = repo.dataDirectory.path
        var node: NodeStatus?
        var nodeProblem: String?
        if FileManager.default.fileExists(atPath: dir + "/node") {
            do {
                let reply = try ControlClient.ask(ControlRequest(.status), dataDirectory: dir, timeoutSeconds: 10)
                node = reply.status
                nodeProblem = reply.error
            } catch {
                nodeProblem = error.message
            }
        }
        let local = Local(identity: repo.keys.identity, dataDirectory: dir, repository: repo.knownRepository?.hex,
                          k: repo.config.targets.isEmpty ? nil : repo.config.k, targets: repo.config.targets,
                          snapshots: root?.snapshots.count ?? 0, packs: root?.packs.count ?? 0, latest: root?.snapshots.last?.id,
                          node: node, nodeProblem: nodeProblem)
        if json {
            try Terminal.printJSON(local)
            return
        }
        print("identity     \(local.identity)")
        print("data dir     \(dir)")
        print("repository   \(local.repository ?? "not known yet (learned from the targets the next command reads)")")
        if repo.config.targets.isEmpty {
            print("targets      none yet (`cairn backup PATH --to DIR1,...,DIRn`, or a running node)")
        } else if OwnerPacks.areStagingTargets(repo.config.targets, dataDirectory: dir) {
            print("targets      the network, \(repo.config.k)-of-\(repo.config.targets.count) (staged in \(dir)/node/outgoing)")
        } else {
            print("targets      \(repo.config.k)-of-\(repo.config.targets.count)")
            for (i, t) in repo.config.targets.enumerated() {
                let ok = FileManager.default.fileExists(atPath: t + "/data.mdb")
                print("  \(i + 1). \(t)\(ok ? "" : "  (missing)")")
            }
        }
        print("snapshots    \(local.snapshots)")
        print("packs        \(local.packs)")
        if let last = root?.snapshots.last {
            print("latest       \(last.id) at \(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(last.time))))")
        }
        if let problem = nodeProblem { print("node         \(problem)") }
        guard let node else { return }
        print("node         \(node.node.map { "number \($0)" } ?? "not joined yet"), coordinator \(node.coordinatorConnected ? "connected" : "not connected"), listening \(node.listen)")
        print("peers        \(node.peers.count)\(node.peers.isEmpty ? "" : ": " + node.peers.map(String.init).joined(separator: ", "))")
        print("contracts    \(node.contractsOwned) as owner, \(node.contractsHeld) as holder")
        print("space        offered \(Format.bytes(node.bytesOffered)), held for others \(Format.bytes(node.bytesHeld)), placed on others \(Format.bytes(node.bytesPlaced))")
        print("repairs      \(node.repairsInFlight) in flight")
        if let n = node.adopting, n > 0 { print("adopting     \(n) volumes restored here, waiting for their holders' contracts") }
        if node.retired == true { print("RETIRED      another machine has taken this identity's node over: this node no longer acts; stop it") }
        if let b = node.lastBackup { print("last backup  volume \(b.volume) (root record \(b.sequence), \(b.packs) packs)") }
        if node.volumes.isEmpty {
            print("volumes      none")
        } else {
            print("volumes      NUMBER  CODE    PACKS        SIZE  HEALTHY  STATE")
            for v in node.volumes {
                let state = v.lost ? "LOST" : v.repairing ? "repairing" : v.complete ? "healthy" : v.healthy >= v.k ? "placing" : "at risk"
                print("             \(String(v.number).leftPad(6))  \("\(v.k)-of-\(v.n)".padding(toLength: 6, withPad: " ", startingAt: 0))  \(String(v.packs).leftPad(5))  \(Format.bytes(v.slotBytes * UInt64(v.n)).leftPad(10))  \("\(v.healthy)/\(v.n)".leftPad(7))  \(state)")
            }
        }
    }
}
