import ArgumentParser
import CairnData
import CairnNode
import Foundation

/// `cairn backup PATH... --data-dir DIR` with a node on DIR: the engine backs up to the
/// node's staging targets (`OwnerPacks`), then the node places what was added as one
/// volume on n holders; the command waits until every pack has n acknowledged shards, or
/// says what is still being placed.
enum NetworkBackup {
    /// Whether this backup goes to the network: no `--to`, the data directory has a node
    /// folder, and its remembered targets (if any) are the staging ones.
    static func applies(repo: Repository, to: [String]?) -> Bool {
        guard to == nil else { return false }
        let dir = repo.dataDirectory.path
        guard FileManager.default.fileExists(atPath: dir + "/node") else { return false }
        return repo.config.targets.isEmpty || OwnerPacks.areStagingTargets(repo.config.targets, dataDirectory: dir)
    }

    /// The staging targets and k for this backup: the remembered ones, else the node's code
    /// (or `--k`/`--n`).
    static func targets(repo: Repository, k: Int?, n: Int?) throws -> (paths: [String], k: Int) {
        let dir = repo.dataDirectory.path
        if !repo.config.targets.isEmpty {
            if let n, n != repo.config.targets.count {
                throw ValidationError("this data directory already backs up \(repo.config.k)-of-\(repo.config.targets.count) to the network: --n \(n) cannot change that")
            }
            return (repo.config.targets, k ?? repo.config.k)
        }
        let settings = try serviceRun { () throws(NodeError) in
            guard let s = try ControlClient.ask(ControlRequest(.settings), dataDirectory: dir).settings else {
                throw NodeError(.notRunning, "the node did not say its settings")
            }
            return s
        }
        let n = n ?? settings.n
        let k = k ?? (n == settings.n ? settings.k : Repository.defaultK(n: n))
        guard k >= 1, k <= n, n >= 2 else { throw ValidationError("need 1 ≤ k ≤ n and n ≥ 2 for the network (got k=\(k), n=\(n))") }
        return (OwnerPacks.targetPaths(dataDirectory: dir, n: n), k)
    }

    struct Placement: Encodable {
        var volume: UInt32?
        var packs: Int
        var sequence: UInt64
        var healthy: Int
        var n: Int
        var k: Int
        var complete: Bool
        /// From handing the packs to the node until every slot acknowledged them (or the wait ended).
        var seconds: Double
        /// Peers the node had a session with when the wait ended: fewer than n says the
        /// network may be too small for the code.
        var peers: Int = 0
    }

    /// Hands the new packs to the node and waits (up to `waitSeconds`) for them to be placed.
    static func place(dataDirectory dir: String, waitSeconds: Int, showProgress: Bool) throws -> Placement {
        let started = Date()
        let placed = try serviceRun { () throws(NodeError) -> ControlReply.Placed in
            let reply = try ControlClient.ask(ControlRequest(.place), dataDirectory: dir, timeoutSeconds: 300)
            if let error = reply.error { throw NodeError(.notRunning, "the node could not take the backup: \(error)") }
            guard let placed = reply.placed else { throw NodeError(.notRunning, "the node did not say what it placed") }
            return placed
        }
        let deadline = Date().addingTimeInterval(TimeInterval(waitSeconds))
        // Nothing new (the same root record was placed before): the last volume is the one to wait for.
        var placement = Placement(volume: placed.volume, packs: placed.packs, sequence: placed.sequence, healthy: 0, n: 0, k: 0,
                                  complete: false, seconds: 0)
        var shown = -1
        while true {
            let status = try serviceRun { () throws(NodeError) -> NodeStatus in
                guard let s = try ControlClient.ask(ControlRequest(.status), dataDirectory: dir).status else {
                    throw NodeError(.notRunning, "the node did not say its status")
                }
                return s
            }
            let number = placed.volume ?? status.lastBackup?.volume
            if let v = status.volumes.first(where: { $0.number == number }) {
                placement.volume = v.number
                placement.healthy = v.healthy
                placement.n = v.n
                placement.k = v.k
                placement.complete = v.complete
                placement.peers = status.peers.count
                if showProgress, v.healthy != shown {
                    FileHandle.standardError.write(Data("\rplacing  \(v.healthy) of \(v.n) shards of every pack acknowledged".utf8))
                    shown = v.healthy
                }
            }
            if placement.complete || Date() >= deadline { break }
            Thread.sleep(forTimeInterval: 0.25)
        }
        if showProgress, shown >= 0 { FileHandle.standardError.write(Data("\n".utf8)) }
        placement.seconds = Date().timeIntervalSince(started)
        return placement
    }

    static func describe(_ p: Placement) -> String {
        guard let volume = p.volume else { return "  network      nothing new to place" }
        if p.complete {
            return "  network      volume \(volume): \(p.packs) packs (the root record included) on \(p.n) holders, any \(p.k) restore (placed in \(String(format: "%.1f", p.seconds)) s)"
        }
        let placing = "  network      volume \(volume): \(p.healthy) of \(p.n) shards of every pack acknowledged so far; the node goes on placing the rest (`cairn status` shows it)"
        guard p.peers < p.n, p.n > 0 else { return placing }
        // Every shard of a volume goes to a distinct holder: a network of n members or fewer
        // (the owner is one) can never complete a k-of-n volume.
        let nodes = p.peers == 1 ? "1 other node" : "\(p.peers) other nodes"
        return placing + "\n  (the node reaches \(nodes), and \(p.k)-of-\(p.n) needs \(p.n) distinct holders: if the network has fewer than \(p.n + 1) members, back up with a narrower code, --k and --n or \"k\" and \"n\" in `cairn node run --config`, such as 3-of-5 for 6 to 8 members)"
    }
}

/// The backup summary with where the network placed it (`--json`).
struct NetworkBackupSummary<Summary: Encodable>: Encodable {
    let summary: Summary
    let network: NetworkBackup.Placement
    enum CodingKeys: String, CodingKey { case network }
    func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(network, forKey: .network)
    }
}
