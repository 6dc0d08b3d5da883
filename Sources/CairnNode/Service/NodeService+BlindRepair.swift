import CairnCore
import CairnWire
import Logging

/// A fetch stream a blind repair kept: the spool `HeldSlotStore` wrote for it.
struct KeptFetch: Sendable {
    let request: UInt64
    let from: NodeID
}

/// Blind repair in the real node, the repairer's side: the core fetches k slots of an away
/// owner's volume and has each stream checked (`verifySlot`); the node keeps the verified
/// spools until the repair ends and streams each target's slot rebuilt from them
/// (`RebuiltSlotSource`). Every other fetch spool is removed as soon as its reply has been
/// taken: an owner's own repairs upload from its staging targets, not from what it fetched.
extension NodeService {
    /// A verified stream of fetch `request`: kept if it is one of a blind repair's.
    func keepIfBlindRepairFetch(_ request: UInt64, of slot: SlotID, from: NodeID) {
        guard let core, core.isBlindRepairFetch(request, of: slot) else { return }
        if let old = repairSpools[slot.volume]?[Int(slot.index)] { held.discardFetched(request: old.request, from: old.from) }
        repairSpools[slot.volume, default: [:]][Int(slot.index)] = KeptFetch(request: request, from: from)
    }

    /// Fetch reply `request` from `from` was taken by the core: its spool goes, unless a
    /// blind repair kept it.
    func dropFetchSpoolUnlessKept(request: UInt64, from: NodeID) {
        for kept in repairSpools.values where kept.values.contains(where: { $0.request == request && $0.from == from }) { return }
        held.discardFetched(request: request, from: from)
    }

    /// Removes the spools of blind repairs that ended (uploads still streaming keep their
    /// open files).
    func dropEndedRepairSpools() {
        guard let core else { return }
        for volume in repairSpools.keys.sorted() where core.blindRepairLayout(volume) == nil {
            for kept in repairSpools.removeValue(forKey: volume)!.values { held.discardFetched(request: kept.request, from: kept.from) }
        }
    }

    /// The upload of slot `slot` of another owner's volume that this node's blind repair
    /// placed on a target: the whole slot, rebuilt from k of the volume's other slots, the
    /// fetched streams it kept first, then slots this node holds itself. Nil (logged) when
    /// this is no such upload, or fewer than k sources can be opened (a node restarted
    /// mid-repair lost its spools: the target never gets the slot, and the repair's
    /// deadline releases it).
    func rebuiltSlotSource(slot: SlotID, from: UInt32, extent: SlotExtent, bytes: UInt64) -> RebuiltSlotSource? {
        guard let core, slot.volume.owner != core.me, let layout = core.blindRepairLayout(slot.volume) else { return nil }
        guard from == 0, extent.packs == layout.packs, extent.bytes == layout.slotBytes, Int(slot.index) < layout.n,
              bytes == ProtocolLimits.slotStreamBytes(packs: layout.packs, shardBytes: layout.slotBytes)
        else {
            logger.error("a blind repair's upload does not match its order: not sent", metadata: ["slot": "\(slot)"])
            return nil
        }
        let kept = repairSpools[slot.volume] ?? [:]
        var sources: [(index: Int, reader: HeldStreamReader)] = []
        var problems: [String] = []
        for index in 0..<layout.n where index != Int(slot.index) && sources.count < layout.k {
            if let f = kept[index] {
                do throws(HeldSlotError) {
                    sources.append((index, try held.openFetched(request: f.request, from: f.from)))
                    continue
                } catch {
                    problems.append(error.oneLine)
                }
            }
            let own = SlotID(volume: slot.volume, index: UInt8(index))
            do throws(HeldSlotError) {
                if let h = try held.held(own), h.extent.packs >= layout.packs { sources.append((index, try held.openSlotStream(own))) }
            } catch {
                problems.append(error.oneLine)
            }
        }
        guard sources.count == layout.k else {
            logger.error("a blind repair has fewer than k slots at hand to rebuild from: not sent", metadata: [
                "slot": "\(slot)", "have": "\(sources.count)", "k": "\(layout.k)", "problems": "\(problems.joined(separator: "; "))",
            ])
            return nil
        }
        return RebuiltSlotSource(target: Int(slot.index), packs: layout.packs, sources: sources)
    }
}
