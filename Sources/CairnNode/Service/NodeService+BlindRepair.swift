import CairnCore
import CairnWire
import Logging

/// Blind repair in the real node, the repairer's side: the core fetches k slots of an away
/// owner's volume and has each stream checked (`verifySlot`); the node keeps the verified
/// ones (`HeldSlotStore.keepFetched`, which survive a restart) until the repair ends and
/// streams each target's slot rebuilt from them (`RebuiltSlotSource`). Every other fetch
/// spool is removed as soon as its reply has been taken: an owner's own repairs upload
/// from its staging targets, not from what it fetched.
extension NodeService {
    /// A verified stream of fetch `request`: kept if it is one of a blind repair's.
    func keepIfBlindRepairFetch(_ request: UInt64, of slot: SlotID, from: NodeID) {
        guard let core, core.isBlindRepairFetch(request, of: slot) else { return }
        do throws(HeldSlotError) {
            try held.keepFetched(request: request, from: from, as: slot)
            keptRepairSlots[slot.volume, default: []].insert(Int(slot.index))
        } catch {
            logger.error("a blind repair's fetched slot cannot be kept: the repair may lack it", metadata: [
                "slot": "\(slot)", "error": "\(error.oneLine)",
            ])
        }
    }

    /// Removes the streams kept for blind repairs that ended (uploads still streaming keep
    /// their open files).
    func dropEndedRepairStreams() {
        guard let core else { return }
        for volume in keptRepairSlots.keys.sorted() where core.blindRepairLayout(volume) == nil {
            for index in keptRepairSlots.removeValue(forKey: volume)!.sorted() {
                held.discardKept(SlotID(volume: volume, index: UInt8(index)))
            }
        }
    }

    /// Once per run, at the first welcome: what the blind repairs in progress had on the
    /// wire when the last process stopped is sent again (`NodeCore.resumeBlindRepairs`),
    /// and the streams kept for repairs that ended meanwhile are removed.
    func resumeBlindRepairs() {
        guard !blindRepairsResumed, core != nil else { return }
        blindRepairsResumed = true
        dropEndedRepairStreams()
        let actions = core!.resumeBlindRepairs(now: clock.now)
        guard !actions.isEmpty else { return }
        logger.info("resuming the blind repairs a restart interrupted", metadata: ["messages": "\(actions.count)"])
        step(actions)
    }

    /// The upload of slot `slot` of another owner's volume that this node's blind repair
    /// placed on a target: the whole slot, rebuilt from k of the volume's other slots, the
    /// fetched streams it kept first, then slots this node holds itself. Nil (logged) when
    /// this is no such upload, or fewer than k sources can be opened (the target then
    /// never gets the slot, and the repair's deadline releases it).
    func rebuiltSlotSource(slot: SlotID, from: UInt32, extent: SlotExtent, bytes: UInt64) -> RebuiltSlotSource? {
        guard let core, slot.volume.owner != core.me, let layout = core.blindRepairLayout(slot.volume) else { return nil }
        guard from == 0, extent.packs == layout.packs, extent.bytes == layout.slotBytes, Int(slot.index) < layout.n,
              bytes == ProtocolLimits.slotStreamBytes(packs: layout.packs, shardBytes: layout.slotBytes)
        else {
            logger.error("a blind repair's upload does not match its order: not sent", metadata: ["slot": "\(slot)"])
            return nil
        }
        let kept = keptRepairSlots[slot.volume] ?? []
        var sources: [(index: Int, reader: HeldStreamReader)] = []
        var problems: [String] = []
        for index in 0..<layout.n where index != Int(slot.index) && sources.count < layout.k {
            let source = SlotID(volume: slot.volume, index: UInt8(index))
            if kept.contains(index) {
                do throws(HeldSlotError) {
                    sources.append((index, try held.openKept(source)))
                    continue
                } catch {
                    problems.append(error.oneLine)
                }
            }
            do throws(HeldSlotError) {
                if let h = try held.held(source), h.extent.packs >= layout.packs { sources.append((index, try held.openSlotStream(source))) }
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
