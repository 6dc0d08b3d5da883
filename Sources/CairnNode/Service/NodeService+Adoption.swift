import CairnCore
import CairnCrypto
import CairnNet
import CairnWire
import Foundation
import Logging
import NIOCore

/// The volumes of this run's adoption (touched only on the node's loop): the records still
/// to adopt, the holders asked for their contracts and what they showed.
final class AdoptionState {
    struct Asked: Codable {
        var number: UInt32
        var slot: Int
        var holder: NodeID
    }

    /// What the node state keeps of the late holders (`lateKey`), so that a restart goes
    /// on asking them instead of leaving their copies under contracts nobody counts.
    struct LateRecord: Codable {
        struct Entry: Codable {
            var request: UInt64
            var asked: Asked
        }
        var reasks: Int
        var late: [Entry]
    }

    /// What a holder showed for a slot: checked by the core before it counts.
    struct Vouched {
        var terms: ContractTerms
        var ownerSignature: [UInt8]
        var holderSignature: [UInt8]
        var stored: SlotExtent
    }

    var started = false
    var records: [AdoptionRecord] = []
    var asked: [UInt64: Asked] = [:]
    /// Asked, and their slot placed anew without their answer (unreachable, or the
    /// patience ran out): asked again every patience, `reasksMax` times, so a holder that
    /// comes back later is released (or taken over) rather than left keeping its copy for
    /// the rest of the term under a contract nobody counts.
    var late: [UInt64: Asked] = [:]
    var reasks = 0
    var reasking = false
    /// Re-asks over every run of the node (the count is kept with the late holders).
    static let reasksMax = 8
    var vouched: [UInt32: [Int: Vouched]] = [:]
    var nextRequest: UInt64 = 1
    /// The coordinator's adoption offers (blind repairs' contracts) for volumes still to
    /// adopt, by contract: a holder's blind-repair contract is taken over only if offered.
    var offers: [ContractID: Offer] = [:]
    static let offersMax = 4096

    struct Offer {
        var terms: ContractTerms
        var ownerSignature: [UInt8]
        var holderSignature: [UInt8]
    }

    /// Whether the coordinator offered exactly this contract, as the holder signed it.
    func offered(_ terms: ContractTerms, holderSignature: [UInt8]) -> Bool {
        offers[terms.id].map { $0.terms == terms && $0.holderSignature == holderSignature } ?? false
    }
}

/// Carrying on as the owner after a restore anywhere (`RestoredVolumes`): the node that
/// runs on the restored data directory asks each holder the coordinator's record names for
/// the contract it holds (`contractQuery`), opens each volume in its core from the restored
/// packs (roots it computes itself) once every holder answered or was given up on, takes
/// over the slots whose holder showed a contract the owner signed and the whole slot
/// (`NodeCore.adoptRestoredSlot`), and places the others anew from the staging targets.
/// From then on the volume is challenged and repaired as any other, and new backups place
/// only what no adopted volume holds.
extension NodeService {
    static func loadAdoption(_ state: ServiceState) throws(NodeError) -> [AdoptionRecord] {
        guard let bytes = try state.get("adopting") else { return [] }
        do { return try JSONDecoder().decode([AdoptionRecord].self, from: Data(bytes)) } catch {
            throw NodeError(.dataDirectory, "the node's record of the volumes it adopts is damaged", cause: error)
        }
    }

    static func loadNextVolume(_ state: ServiceState) throws(NodeError) -> UInt32 {
        guard let bytes = try state.get("nextVolume") else { return 1 }
        do { return try JSONDecoder().decode(UInt32.self, from: Data(bytes)) } catch {
            throw NodeError(.dataDirectory, "the node's next volume number is damaged", cause: error)
        }
    }

    /// State key of the late holders still to be asked again (`AdoptionState.LateRecord`).
    static let lateKey = "adoptionLate"

    /// At the first welcome of the run: asks the holders of every volume still to adopt,
    /// and again those an earlier run left late.
    func startAdoption() {
        loop.preconditionInEventLoop()
        guard !adoption.started, let me = core?.me else { return }
        adoption.started = true
        if let bytes = try? state.get(Self.lateKey),
           let kept = try? JSONDecoder().decode(AdoptionState.LateRecord.self, from: Data(bytes))
        {
            for e in kept.late { adoption.late[e.request] = e.asked }
            adoption.reasks = max(0, kept.reasks)
            adoption.nextRequest = (adoption.late.keys.max() ?? 0) &+ 1
            if !adoption.late.isEmpty {
                logger.info("asking again the holders of restored slots an earlier run placed anew",
                            metadata: ["holders": "\(adoption.late.count)", "reasks": "\(adoption.reasks)"])
            }
            scheduleReask()
        }
        do { adoption.records = try Self.loadAdoption(state) } catch {
            logger.error("the restored volumes cannot be adopted", metadata: ["error": "\(error.oneLine)"])
            return
        }
        guard !adoption.records.isEmpty else { return }
        // This machine carries the owner's node from now on: the old one, should it come
        // back, is refused by the coordinator and stops (`retired`) instead of acting on
        // the same volumes from its own, older state. Recorded first: the take-over is
        // told on every session from now on (`repeatTakeOver`, right after this). A run
        // that still has volumes to adopt keeps the keys an earlier one learned.
        if storedRetiredKeys() == nil {
            do { try state.put([(Self.takeOverKey, Array(try JSONEncoder().encode([String]())))]) } catch {
                logger.error("the take-over could not be recorded: it is told to this coordinator only", metadata: ["error": "\(error)"])
                transmit(.takeOver(retired: []), to: .coordinator)
            }
        }
        for record in adoption.records {
            let id = VolumeID(owner: me, number: record.number)
            for (s, raw) in record.holders.enumerated() where raw != NodeID.coordinator.raw && raw != me.raw && s <= Int(UInt8.max) {
                let request = adoption.nextRequest
                adoption.nextRequest += 1
                adoption.asked[request] = AdoptionState.Asked(number: record.number, slot: s, holder: NodeID(raw))
                transmit(.contractQuery(request: request, slot: SlotID(volume: id, index: UInt8(s))), to: NodeID(raw))
            }
        }
        logger.info("adopting the volumes restored here: asking their holders for their contracts",
                    metadata: ["volumes": "\(adoption.records.count)", "holders": "\(adoption.asked.count)"])
        for number in adoption.records.map(\.number) where !adoption.asked.values.contains(where: { $0.number == number }) {
            installAdopted(number)
        }
        loop.scheduleTask(in: .milliseconds(settings.adoptionPatience.milliseconds)) { [weak self] in self?.adoptionPatienceRanOut() }
    }

    /// State key of a node that took its owner's node over: the node keys (hex) the
    /// coordinator last said it refuses for the owner (`keysRetired`); absent on a node
    /// that never adopted.
    static let takeOverKey = "takeOver"

    /// On every welcome of a node that took over (also after a reclaim from a coordinator
    /// that lost its directory, or when the first `takeOver` was lost with its session):
    /// the take-over again, with the keys refused so far, so the old machine is refused
    /// by whichever coordinator this node reaches — a rebuilt directory knows none of the
    /// keys the number had before.
    func repeatTakeOver() {
        guard !retired, let keys = storedRetiredKeys() else { return }
        transmit(.takeOver(retired: Member.retiredKeyList(keys)), to: .coordinator)
    }

    /// The coordinator's answer to a take-over: every key refused for this owner, kept
    /// (with those known before, the newest last) for the next one.
    func keepRetiredKeys(_ keys: [[UInt8]]) {
        guard let known = storedRetiredKeys() else { return }
        let merged = (known + keys.map { Hex.encode($0) }).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        guard merged != known else { return }
        do {
            try state.put([(Self.takeOverKey, Array(try JSONEncoder().encode(Array(merged.suffix(ProtocolLimits.retiredKeysMax)))))])
        } catch {
            logger.error("the keys the coordinator refuses for this owner could not be recorded", metadata: ["error": "\(error)"])
        }
    }

    /// nil: this node never took over. A damaged record counts as a take-over naming no key.
    private func storedRetiredKeys() -> [String]? {
        guard let bytes = try? state.get(Self.takeOverKey) else { return nil }
        return (try? JSONDecoder().decode([String].self, from: Data(bytes))) ?? []
    }

    /// A holder's answer: kept if it is the holder asked, for the slot asked, and its own
    /// signature on the terms checks against the key its session proved.
    func onContractHeld(request: UInt64, slot: SlotID, report: HeldSlotReport?, holderSignature: [UInt8], from: NodeID) {
        if let late = adoption.late[request], late.holder == from {
            adoption.late[request] = nil
            saveLate()
            if let report { lateContract(report, holderSignature: holderSignature, slot: slot, from: from) }
            return
        }
        guard let asked = adoption.asked[request], asked.holder == from, let me = core?.me,
              slot == SlotID(volume: VolumeID(owner: me, number: asked.number), index: UInt8(asked.slot))
        else { return }
        adoption.asked[request] = nil
        if let report, report.terms.shard == slot, report.terms.holder == from,
           let key = peers[from]?.peer.ownerPublicKey,
           Ed25519Verifier().verify(signature: holderSignature, message: report.terms.signingBytes, publicKey: key)
        {
            adoption.vouched[asked.number, default: [:]][asked.slot] = AdoptionState.Vouched(
                terms: report.terms, ownerSignature: report.ownerSignature, holderSignature: holderSignature,
                stored: SlotExtent(packs: report.layout.packs, bytes: report.layout.slotBytes, root: report.root))
        } else {
            logger.notice("a holder of a restored volume shows no contract for its slot: the slot is placed anew",
                          metadata: ["slot": "\(slot)", "holder": "\(from.raw)", "answered": "\(report != nil)"])
        }
        settleAdoption(of: asked.number)
    }

    /// The coordinator's offer of a contract a blind repair made for this owner's volume
    /// `terms.shard.volume` while it is still to be adopted (the core, which has not opened
    /// it, would drop it): kept for the adoption. False when this is no such offer.
    func keepAdoptionOffer(_ terms: ContractTerms, ownerSignature: [UInt8], holderSignature: [UInt8]) -> Bool {
        guard let me = core?.me, terms.owner == me, terms.shard.volume.owner == me,
              adoption.records.contains(where: { $0.number == terms.shard.volume.number })
        else { return false }
        if adoption.offers[terms.id] != nil || adoption.offers.count < AdoptionState.offersMax {
            adoption.offers[terms.id] = AdoptionState.Offer(terms: terms, ownerSignature: ownerSignature, holderSignature: holderSignature)
        }
        return true
    }

    /// A holder that cannot be reached (or that the coordinator does not know) answers
    /// none of its queries: its slots are placed anew without waiting out the patience.
    func adoptionHolderUnreachable(_ peer: NodeID) {
        let given = adoption.asked.filter { $0.value.holder == peer }
        guard !given.isEmpty else { return }
        logger.notice("a holder of a restored volume cannot be reached: its slots are placed anew",
                      metadata: ["holder": "\(peer.raw)", "slots": "\(given.count)"])
        for request in given.keys { adoption.asked[request] = nil }
        adoption.late.merge(given) { first, _ in first }
        saveLate()
        scheduleReask()
        for number in Set(given.values.map(\.number)).sorted() { settleAdoption(of: number) }
    }

    /// An answer that came after its volume was opened: taken over if the slot is still
    /// empty (nobody placed yet), else the holder is released (it keeps the copy for the
    /// grace period, then frees it, instead of keeping it for the rest of the term under
    /// a contract nobody counts).
    private func lateContract(_ report: HeldSlotReport, holderSignature: [UInt8], slot: SlotID, from: NodeID) {
        guard var next = core, report.terms.shard == slot, report.terms.holder == from, report.terms.owner == next.me,
              next.ownedContract(report.terms.id) == nil,
              // Not opened after all (the staging targets failed it): the next start asks again.
              next.volumes.contains(where: { $0.id == slot.volume })
        else { return }
        let stored = SlotExtent(packs: report.layout.packs, bytes: report.layout.slotBytes, root: report.root)
        var signed = false
        if let key = peers[from]?.peer.ownerPublicKey {
            signed = Ed25519Verifier().verify(signature: holderSignature, message: report.terms.signingBytes, publicKey: key)
        }
        if signed,
           case let .success(actions) = next.adoptRestoredSlot(report.terms, ownerSignature: report.ownerSignature,
                                                               holderSignature: holderSignature, stored: stored,
                                                               offered: adoption.offered(report.terms, holderSignature: holderSignature),
                                                               now: clock.now)
        {
            core = next
            logger.info("a late holder's restored slot was still empty: taken over", metadata: ["slot": "\(slot)", "holder": "\(from.raw)"])
            step(actions)
            return
        }
        logger.notice("a holder answered after its restored slot was placed anew: its contract is released",
                      metadata: ["slot": "\(slot)", "holder": "\(from.raw)"])
        // Terms the holder signed go through the core's release ledger; others are only told.
        guard signed else {
            transmit(.release(contract: report.terms.id, at: clock.now), to: from)
            return
        }
        let actions = next.releaseRestoredContract(report.terms, now: clock.now)
        core = next
        step(actions)
    }

    private func scheduleReask() {
        guard !adoption.reasking, !adoption.late.isEmpty, adoption.reasks < AdoptionState.reasksMax else { return }
        adoption.reasking = true
        loop.scheduleTask(in: .milliseconds(settings.adoptionPatience.milliseconds)) { [weak self] in self?.reaskLate() }
    }

    /// Asks the late holders again (a message to one still unreachable is dropped again).
    private func reaskLate() {
        adoption.reasking = false
        guard let me = core?.me, !retired else { return }
        adoption.reasks += 1
        saveLate()
        for request in adoption.late.keys.sorted() {
            let a = adoption.late[request]!
            transmit(.contractQuery(request: request, slot: SlotID(volume: VolumeID(owner: me, number: a.number), index: UInt8(a.slot))),
                     to: a.holder)
        }
        scheduleReask()
    }

    /// Records the late holders and the re-asks so far; an empty list once none is left.
    private func saveLate() {
        let record = AdoptionState.LateRecord(
            reasks: adoption.reasks,
            late: adoption.late.keys.sorted().map { AdoptionState.LateRecord.Entry(request: $0, asked: adoption.late[$0]!) })
        do { try state.put([(Self.lateKey, Array(try JSONEncoder().encode(record)))]) } catch {
            logger.error("the holders still to be asked again could not be recorded: a restart forgets them", metadata: ["error": "\(error)"])
        }
    }

    private func settleAdoption(of number: UInt32) {
        guard !adoption.asked.values.contains(where: { $0.number == number }) else { return }
        installAdopted(number)
    }

    private func adoptionPatienceRanOut() {
        guard !adoption.records.isEmpty else { return }
        logger.notice("holders of restored volumes did not answer in time: their slots are placed anew",
                      metadata: ["unanswered": "\(adoption.asked.count)"])
        for number in adoption.records.map(\.number) { installAdopted(number) }
    }

    /// Opens restored volume `number` in the core from the staging targets, takes over
    /// the slots its holders vouched for, and writes the core and what is left to adopt in
    /// one transaction before anything is sent.
    private func installAdopted(_ number: UInt32) {
        guard let at = adoption.records.firstIndex(where: { $0.number == number }), var next = core else { return }
        let unanswered = adoption.asked.filter { $0.value.number == number }
        adoption.late.merge(unanswered) { first, _ in first }
        adoption.asked = adoption.asked.filter { $0.value.number != number }
        if !unanswered.isEmpty { saveLate() }
        scheduleReask()
        let vouched = adoption.vouched.removeValue(forKey: number) ?? [:]
        let id = VolumeID(owner: next.me, number: number)
        guard let placed = placedVolumes.first(where: { $0.number == number }) else {
            logger.error("a restored volume has no record in the node state: not adopted", metadata: ["volume": "\(id)"])
            adoption.records.remove(at: at)
            return
        }
        let now = clock.now
        var actions: [NodeAction] = []
        // A holder that vouched for the slot's first packs only (the old machine died while
        // uploading): the extent those packs make, computed here from the restored packs, is
        // what it must show to be taken over; the rest is appended to it afterwards.
        var prefixTrees: [Int: (tree: SlotTree, bytes: UInt64)] = [:]
        for (s, v) in vouched where v.stored.packs > 0 && Int(v.stored.packs) < placed.packCount { prefixTrees[s] = (SlotTree(), 0) }
        var prefixes: [Int: SlotExtent] = [:]
        do {
            try next.openVolume(id, k: placed.k, n: placed.n, capacity: placed.shardBytes.reduce(0, +))
            for j in 0..<placed.packCount {
                let (geometry, roots) = try PlacedVolume.packRoots(j, of: placed, staging: staging)
                guard geometry.shardBytes == placed.shardBytes[j] else {
                    throw NodeError(.storage, "pack \(j) of volume \(number) on the staging targets is not the one restored")
                }
                for s in prefixTrees.keys.sorted() where j < Int(vouched[s]!.stored.packs) && s < roots.count {
                    prefixTrees[s]!.tree.append(SlotTree.leaf(root: roots[s], geometry: geometry))
                    prefixTrees[s]!.bytes += geometry.shardBytes
                    if j + 1 == Int(vouched[s]!.stored.packs) {
                        prefixes[s] = SlotExtent(packs: UInt32(j + 1), bytes: prefixTrees[s]!.bytes, root: prefixTrees[s]!.tree.root)
                    }
                }
                actions += try next.appendPack(to: id, geometry: geometry, roots: roots, now: now).actions
            }
            try next.closeVolume(id)
        } catch {
            // Left to adopt: the next start tries again (after `cairn check` completed the targets).
            logger.error("a restored volume cannot be opened from the staging targets: not adopted in this run",
                         metadata: ["volume": "\(id)", "error": "\(error)"])
            return
        }
        var adopted = 0
        for s in vouched.keys.sorted() {
            let v = vouched[s]!
            switch next.adoptRestoredSlot(v.terms, ownerSignature: v.ownerSignature, holderSignature: v.holderSignature,
                                          stored: v.stored, prefix: prefixes[s],
                                          offered: adoption.offered(v.terms, holderSignature: v.holderSignature), now: now)
            {
            case let .success(more):
                actions += more
                adopted += 1
                if prefixes[s] != nil {
                    logger.info("a holder had part of a restored slot: taken over, the rest is appended to it",
                                metadata: ["slot": "\(s)", "holder": "\(v.terms.holder.raw)", "packs": "\(v.stored.packs) of \(placed.packCount)"])
                }
            case let .failure(why):
                logger.notice("a holder's contract for a restored slot is not taken over: the slot is placed anew and the contract released",
                              metadata: ["slot": "\(s)", "holder": "\(v.terms.holder.raw)", "why": "\(why.rawValue)"])
                // Whatever it is, the holder keeps nothing for this owner under it that the
                // owner counts: it frees the copy after its grace instead of at the term's end
                // (released through the core's ledger, so a later offer of it is stale).
                if next.ownedContract(v.terms.id) == nil { actions += next.releaseRestoredContract(v.terms, now: now) }
            }
        }
        actions += next.restoredVolumeReady(id, now: now)
        var left = adoption.records
        left.remove(at: at)
        do {
            try state.put([("checkpoint", try CheckpointCodec.encode(next)), ("adopting", Array(try JSONEncoder().encode(left)))])
        } catch {
            logger.error("an adopted volume could not be recorded: not adopted in this run", metadata: ["volume": "\(id)", "error": "\(error)"])
            return
        }
        adoption.records = left
        core = next
        logger.info("restored volume adopted", metadata: ["volume": "\(id)", "slots": "\(adopted) of \(placed.n)",
                                                         "packs": "\(placed.packCount)"])
        step(actions)
    }

    /// Holder side: the active contract this node holds for `slot` of `owner`, as its
    /// storage has it, so the owner's new node can take the slot over (or release it: a
    /// blind repair's contract, which carries the repairer's signature, is taken over only
    /// if the coordinator offered it).
    func answerContractQuery(request: UInt64, slot: SlotID, from owner: NodeID) {
        guard let core, slot.volume.owner == owner else { return }
        var report: HeldSlotReport?
        var signature: [UInt8] = []
        for id in core.book.held.keys.sorted() {
            guard let c = core.book.held[id], c.terms.shard == slot, c.terms.owner == owner, c.state == .active,
                  let stored = try? held.held(slot)
            else { continue }
            report = HeldSlotReport(terms: c.terms, ownerKey: c.ownerKey ?? [], ownerSignature: c.ownerSignature,
                                    layout: VolumeLayout(k: stored.k, n: stored.n, packs: stored.extent.packs, slotBytes: stored.extent.bytes),
                                    root: stored.extent.root)
            signature = c.holderSignature
            break
        }
        transmit(.contractHeld(request: request, slot: slot, report: report, holderSignature: signature), to: owner)
    }
}
