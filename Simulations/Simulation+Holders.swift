import CairnWire
import CairnCore
import CairnCrypto
/// Carrying out the cores' actions: timers, synthetic storage, holders and adversaries,
/// and the notes that feed the metrics.
extension Simulation {
    // MARK: Carrying out actions (what NodeActor.perform does in production)

    /// Carries out a node's actions through the production interpreter (`Interpreter`,
    /// the one `NodeActor` uses), with the simulation as the shell.
    func perform(_ i: Int, _ actions: [NodeAction]) {
        Interpreter.perform(actions, through: DirectShell(sim: self, node: i)) { input in
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
            let lane = Int(kind.rawValue)
            if lane < timerLanes.count, timerLanes[lane].accepts(due) {
                timerLanes[lane].append(TimerInFlight(time: due, seq: queue.reserveSeq(), node: node.raw, epoch: epoch[i]))
            } else {
                queue.push(at: due, .timer(node: node, kind: kind, epoch: epoch[i]))
            }
        }
    }

    func delete(_ i: Int, _ shard: SlotID) {
        if disks.copy(on: i, of: shard.volume)?.index == shard.index {
            disks.remove(on: i, of: shard.volume)
        }
    }

    /// The proof for a challenge on a stored slot (synthetic contents: every pack of the
    /// slot has the same shard); a liar returns garbage.
    func prove(_ i: Int, _ slot: SlotID, pack: UInt32, packs: UInt32, selector: UInt32) -> SegmentProof? {
        guard let s = disks.copy(on: i, of: slot.volume), s.index == slot.index, pack < packs, packs <= s.packs else {
            // A full dropper has no shard to prove; an early freer none of those it freed.
            if adversary[i] == .missing || (adversary[i] == .earlyFree && detectability.freedEarly(i, slot)) {
                challengeExposes(i, slot)
            }
            return nil
        }
        if adversary[i] == .badProof {
            if misbehavedAt[i] < 0 { misbehavedAt[i] = now }
            challengeExposes(i, slot)
            return SegmentProof(segment: Array(repeating: 0, count: Synthetic.segmentBytes), path: [],
                                packRoot: Array(repeating: 0, count: 32), geometry: geometry, packPath: [])
        }
        let segment = SegmentProof.segment(selector: selector, of: geometry)
        if adversary[i] == .missing {
            // A partial dropper (a full one has no copy): it cannot read a dropped segment.
            let lost = segment < droppedSegments
            droppers.challenged(node: i, slot, passed: !lost, at: now)
            if lost {
                challengeExposes(i, slot)
                return nil
            }
        }
        let root = trees.root(slot)
        return SegmentProof(segment: Synthetic.segment(slot, segment), path: trees.proof(slot, index: Int(segment)),
                            packRoot: root, geometry: geometry,
                            packPath: Synthetic.uniformPath(leaf: SlotTree.leaf(root: root, geometry: geometry), index: pack,
                                                            count: packs))
    }

    /// Whether a fetched slot checks against what its receiver expects. A holder streams
    /// what it had when it answered (synthetic contents always match); a liar streams
    /// garbage, which no root matches.
    func verifyStream(_ slot: SlotID, from: NodeID, expect: SlotExtent) -> Bool {
        // A partial dropper's stream has holes (a full dropper has nothing to stream).
        from.index < scenario.nodes && adversary[from.index] != .badProof && adversary[from.index] != .missing
    }

    /// Segments a partial dropper dropped from every pack of every shard it holds: the
    /// first `drop_fraction` of them (0 for a full dropper, which keeps nothing at all).
    var droppedSegments: UInt32 {
        scenario.dropFraction < 1 ? UInt32((scenario.dropFraction * Double(geometry.segments)).rounded()) : 0
    }

    /// Adversary `i` answers a challenge on `slot` with what proves its misbehaviour (no
    /// proof of a shard it owes, or garbage): detectable, if the owner is online to judge it.
    func challengeExposes(_ i: Int, _ slot: SlotID) {
        let owner = slot.volume.owner.index
        if owner < scenario.nodes, online[owner] { detectability.detectable(i, at: now) }
    }

    /// An owner's report of a refused fetch, about to reach the coordinator: the refuser it
    /// names is detectable if it was demonstrably up across the fetch (`DetectionLedger`).
    func refusalReported(by owner: NodeID, holder: NodeID, since: Instant) {
        let h = holder.index
        guard owner.raw < restorerBase, h < scenario.nodes, adversary[h] == .refusedFetch, online[h] else { return }
        let sent = trueTime(owner.index, local: since.milliseconds)
        let skew = Int64(scenario.maxClockSkewS * 1000)
        let window = Int64(CoordinatorCore.refusalWindowSlots + 2) * Int64(scenario.heartbeatMinutes * 60_000)
        if detectability.upSince(h, min(sent - skew, now - window)) { detectability.detectable(h, at: now) }
    }

    func serve(_ i: Int, _ slot: SlotID) -> FetchAnswer {
        if adversary[i] == .refusedFetch {
            if misbehavedAt[i] < 0 { misbehavedAt[i] = now }
            return .silent
        }
        // A partial dropper does not stream a shard with holes (that would prove the loss):
        // it stays silent, so only a challenge asking for a dropped segment catches it.
        if adversary[i] == .missing, scenario.dropFraction < 1 { return .silent }
        if let s = disks.copy(on: i, of: slot.volume), s.index == slot.index { return .data(bytes: s.bytes) }
        return .missing
    }

    func performCoordinator(_ actions: [CoordinatorAction]) {
        Interpreter.perform(actions, through: CoordinatorShell(sim: self))
    }

    /// Stores packs `from..<to.packs` of a synthetic slot; true when they are held
    /// (synthetic contents always match their roots). A dropper says it stored them and
    /// keeps nothing.
    func store(_ i: Int, _ slot: SlotID, from: UInt32, to: SlotExtent) -> Bool {
        if let existing = disks.copy(on: i, of: slot.volume) {
            if existing.index != slot.index {
                violation("node\(i) asked to store \(slot) while holding slot \(existing.index) of the same volume")
            } else if to.packs > existing.packs {
                disks.grow(on: i, of: slot.volume, index: slot.index, packs: to.packs, bytes: to.bytes)
            }
            return true
        }
        // Repair switched off: a placed volume gets no new shard anywhere.
        if !scenario.repair, placedVolume[Int(slot.volume.number)] { return false }
        if adversary[i] == .missing {
            if misbehavedAt[i] < 0 { misbehavedAt[i] = now }
            // A full dropper keeps nothing; a partial one keeps the shard with holes.
            guard scenario.dropFraction < 1, from == 0 else { return true }
            droppers.stored(node: i, slot, at: now)
        }
        // An append to a slot this node does not have (it lost its disk): only a whole slot
        // can be stored.
        guard from == 0 else { return false }
        disks.store(Copy(node: UInt32(i), index: slot.index, packs: to.packs, bytes: to.bytes), of: slot.volume)
        if scenario.repairDelay != nil, placedVolume[Int(slot.volume.number)] {
            repairModel.repaired(Int(slot.volume.number), index: slot.index, node: i, at: now)
        }
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
                        let o = Int(volumeOwner[p])
                        let pk = cores[o].volumes[volumeSlot[p]]
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
                detectability.freed(i, shard)
                disks.remove(on: i, of: shard.volume)
            } else if let i = node {
                disks.setGrace(on: i, of: shard.volume, index: shard.index, until: trueTime(i, local: until.milliseconds))
            }
        case .contractBroken: contractsBroken += 1
        case .contractLapsed: contractsLapsed += 1
        case .contractRenewed: contractsRenewed += 1
        case .clockSkew: skewRefused += 1
        case .unknownNode: violation("the coordinator heard from a node it never admitted")
        case .blindRepairOrdered: blindOrdered += 1
        case .blindRepaired: blindRepaired += 1
        case .freed: break
        case .slotRefused: break
        case .placed(let volume, _): placedVolume[Int(volume.number)] = true
        }
    }
}

/// The coordinator's view of the simulation in direct mode: the interpreter's shell.
struct CoordinatorShell: MessageShell {
    unowned let sim: Simulation
    func send(_ message: Message, to: NodeID) { sim.send(from: .coordinator, to: to, message) }
    func setTimer(_ kind: TimerKind, at: Instant) { sim.armTimer(.coordinator, kind, at: at) }
    func observe(_ note: Note) { sim.observe(nil, note) }
}

/// A restoring device's view of the simulation: it keeps true time, and checks slots as
/// the holders' synthetic streams allow.
struct RestorerShell: RestoreShell {
    unowned let sim: Simulation
    let id: NodeID
    func send(_ message: Message, to: NodeID) { sim.send(from: id, to: to, message) }
    func setTimer(_ kind: TimerKind, at: Instant) { sim.queue.push(at: at.milliseconds, .timer(node: id, kind: kind, epoch: 0)) }
    func observe(_ note: Note) {}
    func verify(_ slot: SlotID, request: UInt64, from: NodeID, expect: SlotExtent) -> Bool {
        sim.verifyStream(slot, from: from, expect: expect)
    }
}

/// One node's view of the simulation in direct mode: the interpreter's shell.
struct DirectShell: NodeShell {
    unowned let sim: Simulation
    let node: Int
    func send(_ message: Message, to: NodeID) { sim.send(from: NodeID(UInt32(node)), to: to, message) }
    func setTimer(_ kind: TimerKind, at: Instant) { sim.armTimer(NodeID(UInt32(node)), kind, at: at) }
    func store(_ slot: SlotID, from: UInt32, to: SlotExtent) -> Bool { sim.store(node, slot, from: from, to: to) }
    func delete(_ slot: SlotID) { sim.delete(node, slot) }
    func prove(_ slot: SlotID, pack: UInt32, packs: UInt32, selector: UInt32) -> SegmentProof? {
        sim.prove(node, slot, pack: pack, packs: packs, selector: selector)
    }
    func serve(_ slot: SlotID) -> FetchAnswer { sim.serve(node, slot) }
    func verify(_ slot: SlotID, request: UInt64, from: NodeID, expect: SlotExtent) -> Bool {
        sim.verifyStream(slot, from: from, expect: expect)
    }
    func observe(_ note: Note) { sim.observe(node, note) }
}
