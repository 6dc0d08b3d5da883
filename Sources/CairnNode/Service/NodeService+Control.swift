import CairnCore
import CairnCrypto
internal import CairnData
import Foundation
import Logging
import NIOCore

/// What the control socket asks of the node (`ControlProtocol`): its settings, placing
/// what a backup added to the staging targets, and its status. Runs on the node's loop.
extension NodeService {
    func answer(_ request: ControlRequest) -> ControlReply {
        loop.preconditionInEventLoop()
        switch request.command {
        case .settings:
            return ControlReply(settings: .init(node: core?.me.raw, k: settings.params.k, n: settings.params.n,
                                                coordinatorConnected: coordinatorSession != nil))
        case .place:
            do throws(NodeError) { return ControlReply(placed: try placeStaged()) } catch {
                logger.error("a backup could not be placed", metadata: ["error": "\(error.oneLine)"])
                return ControlReply(error: error.message)
            }
        case .status:
            return ControlReply(status: status())
        }
    }

    static func loadPlacedVolumes(_ state: ServiceState) throws(NodeError) -> [PlacedVolume] {
        guard let list = try state.get("volumes") else { return [] }
        do {
            let numbers = try JSONDecoder().decode([UInt32].self, from: Data(list))
            var volumes: [PlacedVolume] = []
            for number in numbers {
                guard let bytes = try state.get(PlacedVolume.stateKey(number)) else {
                    throw NodeError(.dataDirectory, "the node's state names volume \(number) but has no record of it")
                }
                volumes.append(try JSONDecoder().decode(PlacedVolume.self, from: Data(bytes)))
            }
            return volumes
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(.dataDirectory, "the node's record of its placed volumes is damaged", cause: error)
        }
    }

    /// Opens, fills and closes one volume with what the staging targets' root record adds:
    /// new packs, then the root record. The volume's record and the core that holds it are
    /// written in one transaction before any holder hears of it, so a `kill -9` leaves
    /// either both or neither (and the next `place` does it again).
    func placeStaged() throws(NodeError) -> ControlReply.Placed {
        guard !retired else {
            throw NodeError(.notRunning, "another machine has taken this identity's node over: back up there, or restore into a new data directory here")
        }
        guard var next = core else {
            throw NodeError(.notRunning, "the node has not joined the network yet (is the coordinator reachable?): try again in a moment")
        }
        staging.reopen()
        let envelope: [UInt8]
        let root: RootRecord
        let first = try staging.firstReadable()
        do {
            guard let bytes = try first.target.readRoot() else {
                throw NodeError(.invalidSetting, "the staging targets hold no backup yet: run `cairn backup PATH --data-dir \(settings.dataDirectory)`")
            }
            envelope = bytes
            root = try RootEnvelope.open(bytes, keys: owner)
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(.storage, "the staging target \(first.target.path) has no usable root record", cause: error)
        }
        let last = placedVolumes.last
        if let last, last.sequence >= root.sequence, root.packs.allSatisfy({ placedPacks.contains($0.id.hex) }) {
            return ControlReply.Placed(volume: nil, packs: 0, sequence: last.sequence)
        }
        let fresh = root.packs.filter { !placedPacks.contains($0.id.hex) }
        let code = (fresh.first?.k ?? last?.k ?? root.packs.first?.k ?? settings.params.k, first.n)
        let number = max((last?.number).map { $0 + 1 } ?? 1, nextVolume)
        let plan = try PlacedVolume.plan(root: root, envelope: envelope, number: number, k: code.0, n: code.1, staging: staging) {
            placedPacks.contains($0.hex)
        }
        let id = VolumeID(owner: next.me, number: number)
        let now = clock.now
        var actions: [NodeAction] = []
        do {
            try next.openVolume(id, k: code.0, n: code.1, capacity: plan.volume.shardBytes.reduce(0, +))
            for (g, roots) in zip(plan.geometries, plan.roots) {
                actions += try next.appendPack(to: id, geometry: g, roots: roots, now: now).actions
            }
            try next.closeVolume(id)
        } catch {
            throw NodeError(.invalidSetting, "volume \(number) cannot be opened for this backup", cause: error)
        }
        let numbers = placedVolumes.map(\.number) + [number]
        do {
            try state.put([
                (plan.volume.stateKey, Array(try JSONEncoder().encode(plan.volume))),
                ("volumes", Array(try JSONEncoder().encode(numbers))),
                ("checkpoint", try CheckpointCodec.encode(next)),
            ])
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(.storage, "the new volume could not be recorded", cause: error)
        }
        core = next
        placedVolumes.append(plan.volume)
        placedRoots = PlacedRoots(number: number, n: code.1, roots: plan.roots)
        placedPacks.formUnion(plan.volume.packs)
        logger.info("backup handed to the node", metadata: ["volume": "\(id)", "packs": "\(plan.volume.packCount)",
                                                          "sequence": "\(root.sequence)"])
        step(actions)
        // Placement starts now, not at the next maintenance tick (hours away by default):
        // the tick asks the coordinator for holders for every volume that needs them.
        step(core!.onTimer(.repair, now: clock.now))
        return ControlReply.Placed(volume: number, packs: plan.volume.packCount, sequence: root.sequence)
    }

    static func slotStatus(_ slot: OwnedSlot, index: Int) -> NodeStatus.Slot {
        let state = switch slot.health {
        case .empty: "empty"
        case .failed: "failed"
        case .unhealthy: "unhealthy"
        case .healthy: "healthy"
        }
        let replacing: String? = switch slot.pending {
        case nil: nil
        case .proposing: "proposing"
        case .accepted: "accepted"
        case .storing: "storing"
        }
        return NodeStatus.Slot(index: index, holder: slot.holder?.raw, state: state, storedPacks: slot.stored.packs,
                               replacing: replacing, replacementHolder: slot.pendingHolder?.raw, fetchMisses: slot.fetchMisses)
    }

    func status() -> NodeStatus {
        let volumes = (core?.volumes ?? []).map { v -> NodeStatus.Volume in
            let healthy = v.slots.count { $0.health == .healthy && $0.stored.packs >= v.layout.packs && $0.append == nil }
            return NodeStatus.Volume(number: v.id.number, k: v.layout.k, n: v.layout.n, packs: v.layout.packs,
                                     slotBytes: v.layout.slotBytes, healthy: healthy,
                                     placing: v.slots.count { $0.holder == nil || $0.append != nil || $0.replacement != nil },
                                     repairing: v.repairing, lost: v.lost,
                                     slots: v.slots.indices.map { s in Self.slotStatus(v.slots[s], index: s) })
        }
        return NodeStatus(
            node: core?.me.raw, coordinatorConnected: coordinatorSession != nil,
            listen: listening.map { "\($0)" } ?? "relay only",
            peers: peers.keys.map(\.raw).sorted(),
            contractsOwned: core?.book.owned.count ?? 0, contractsHeld: core?.book.held.count ?? 0,
            bytesOffered: settings.offer, bytesHeld: held.usedBytes, bytesPlaced: core?.book.placedBytes ?? 0,
            volumes: volumes, repairsInFlight: volumes.count { $0.repairing },
            lastBackup: placedVolumes.last.map { .init(volume: $0.number, sequence: $0.sequence, packs: $0.packCount) },
            adopting: adoption.started ? adoption.records.count : ((try? Self.loadAdoption(state))?.count ?? 0),
            retired: retired)
    }
}
