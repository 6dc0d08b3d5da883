import CairnWire
import CairnCore
import CairnCrypto
/// Carrying out the cores' actions: timers, synthetic storage, holders and adversaries,
/// and the notes that feed the metrics.
extension Simulation {
    // MARK: Carrying out actions (what NodeActor.perform does in production)

    /// Carries out a node's actions through the production interpreter (`NodeInterpreter`,
    /// the one `NodeActor` uses), with the simulation as the shell.
    func perform(_ i: Int, _ actions: [Action]) {
        NodeInterpreter.perform(actions, through: DirectShell(sim: self, node: i)) { input in
            cores[i].on(input, now: localNow(i))
        }
    }

    func armTimer(_ node: NodeID, _ kind: TimerKind, at: Instant) {
        if node == .coordinator {
            coordinatorDue = at.milliseconds
            queue.push(at: at.milliseconds, .timer(node: .coordinator, kind: kind, epoch: 0))
        } else {
            let i = node.index
            // The node names an instant of its own clock: the event is due when that clock
            // reads it.
            let due = max(now, trueTime(i, local: at.milliseconds))
            timerDue[i * TimerKind.allCases.count + Int(kind.rawValue)] = due
            queue.push(at: due, .timer(node: node, kind: kind, epoch: epoch[i]))
        }
    }

    func delete(_ i: Int, _ shard: SlotID) {
        if disks.copy(on: i, of: shard.volume)?.index == shard.index {
            disks.remove(on: i, of: shard.volume)
        }
    }

    /// A segment of a stored shard with its Merkle path (synthetic contents); a liar
    /// returns garbage.
    func prove(_ i: Int, _ shard: SlotID, segment: UInt32) -> (segment: [UInt8], proof: [[UInt8]])? {
        guard let s = disks.copy(on: i, of: shard.volume), s.index == shard.index, segment < s.segments else { return nil }
        if adversary[i] == .badProof {
            if misbehavedAt[i] < 0 { misbehavedAt[i] = now }
            return (Array(repeating: 0, count: Synthetic.segmentBytes), [])
        }
        // Every shard is stored with the run's segment count; any other count gets its tree
        // computed here.
        let proof = s.segments == trees.segments ? trees.proof(shard, index: Int(segment))
            : Synthetic.proof(tree: Synthetic.tree(shard, count: s.segments), count: Int(s.segments), index: Int(segment))
        return (Synthetic.segment(shard, segment), proof)
    }

    func serve(_ i: Int, _ shard: SlotID) -> FetchAnswer {
        if adversary[i] == .refusedFetch {
            if misbehavedAt[i] < 0 { misbehavedAt[i] = now }
            return .silent
        }
        if let s = disks.copy(on: i, of: shard.volume), s.index == shard.index { return .data(bytes: s.bytes) }
        return .missing
    }

    func performCoordinator(_ actions: [Action]) {
        for action in actions {
            switch action {
            case let .send(to, message):
                send(from: .coordinator, to: to, message)
            case let .setTimer(kind, at):
                armTimer(.coordinator, kind, at: at)
            case let .note(note):
                observe(nil, note)
            case .storeShard, .deleteShard, .readSegment, .readShard:
                preconditionFailure("coordinator asked to act as a holder: \(action)")
            }
        }
    }

    /// Stores a synthetic shard; true when it is held (synthetic contents always match their
    /// root). A dropper says it stored the shard and keeps nothing.
    func store(_ i: Int, _ shard: SlotID, bytes: UInt64, segments: UInt32) -> Bool {
        if let existing = disks.copy(on: i, of: shard.volume) {
            if existing.index != shard.index {
                violation("node\(i) asked to store \(shard) while holding shard \(existing.index) of the same pack")
            }
            return true
        }
        if adversary[i] == .missing {
            if misbehavedAt[i] < 0 { misbehavedAt[i] = now }
            return true
        }
        disks.store(Copy(node: UInt32(i), index: shard.index, segments: segments, bytes: bytes), of: shard.volume)
        if disks.storedBytes[i] > offered[i] {
            violation("node\(i) stores \(disks.storedBytes[i]) bytes, offered \(offered[i])")
        }
        return true
    }

    func observe(_ node: Int?, _ note: Note) {
        switch note {
        case .volumeLost(let pack):
            let p = Int(pack.number)
            if !reportedLost[p] {
                reportedLost[p] = true
                let h = healthy(p)
                if h >= scenario.k {
                    violation("\(pack) reported lost by its owner with \(h) healthy shards (k=\(scenario.k))")
                    if debugLost {
                        let o = Int(packOwner[p])
                        let pk = cores[o].packs[packSlot[p]]
                        debugLines.append("LOST \(pack) owner\(o) now=\(now) copies=\(disks.copies[p].map { "\($0.node)/\($0.index)/\(adversary[Int($0.node)].map { "\($0)" } ?? "ok")/on=\(online[Int($0.node)])/grace=\($0.graceUntil == Int64.max ? "-" : "\($0.graceUntil)")" })")
                        debugLines.append("   audits=\(cores[o].auditedHolders(of: pack)) online=\(online[o])")
                        for (si, slot) in pk.slots.enumerated() {
                            debugLines.append("   slot\(si) holder=\(slot.holder.map { "\($0)/\(adversary[$0.index].map { "\($0)" } ?? "ok")" } ?? "-") failed=\(slot.failed) noData=\(slot.noData) unhealthy=\(slot.unhealthy) pending=\(String(describing: slot.pending)) ph=\(String(describing: slot.pendingHolder))")
                        }
                    }
                }
            }
        case let .fault(holder, _):
            // Only the coordinator's notes count: the report reached the network.
            guard node == nil, holder != .coordinator, holder.index < scenario.nodes else { return }
            if debugLost, adversary[holder.index] == nil {
                debugLines.append("honest fault \(holder) \(note) diskLostAt=\(diskLostAt[holder.index]) now=\(now)")
            }
            if adversary[holder.index] != nil, detectedAt[holder.index] < 0, misbehavedAt[holder.index] >= 0 {
                detectedAt[holder.index] = now
            }
        case .repairStarted: repairsStarted += 1
        case .repairCompleted: repairsCompleted += 1
        case .repairBytes(let b): repairBytes += b
        case let .standing(_, standing):
            if standing == .warned { warned += 1 }
            if standing == .excluded { excluded += 1 }
        case let .released(shard, until):
            if let i = node, adversary[i] == .earlyFree, disks.copy(on: i, of: shard.volume)?.index == shard.index {
                if misbehavedAt[i] < 0 { misbehavedAt[i] = now }
                disks.remove(on: i, of: shard.volume)
            } else if let i = node {
                disks.setGrace(on: i, of: shard.volume, index: shard.index, until: trueTime(i, local: until.milliseconds))
            }
        case .contractBroken: contractsBroken += 1
        case .clockSkew: skewRefused += 1
        case .unknownNode: violation("the coordinator heard from a node it never admitted")
        case .blindRepairOrdered: blindOrdered += 1
        case .blindRepaired: blindRepaired += 1
        case .freed: break
        case .shardRefused(let shard): violation("node\(node ?? -1) refused \(shard): synthetic shards always match their root")
        }
    }
}

/// One node's view of the simulation in direct mode: the interpreter's shell.
struct DirectShell: NodeShell {
    unowned let sim: Simulation
    let node: Int
    func send(_ message: Message, to: NodeID) { sim.send(from: NodeID(UInt32(node)), to: to, message) }
    func setTimer(_ kind: TimerKind, at: Instant) { sim.armTimer(NodeID(UInt32(node)), kind, at: at) }
    func store(_ shard: SlotID, geometry: PackGeometry, root: [UInt8]) -> Bool {
        sim.store(node, shard, bytes: geometry.shardBytes, segments: geometry.segments)
    }
    func delete(_ shard: SlotID) { sim.delete(node, shard) }
    func prove(_ shard: SlotID, segment: UInt32) -> (segment: [UInt8], proof: [[UInt8]])? {
        sim.prove(node, shard, segment: segment)
    }
    func serve(_ shard: SlotID) -> FetchAnswer { sim.serve(node, shard) }
    func observe(_ note: Note) { sim.observe(node, note) }
}
