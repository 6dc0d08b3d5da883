import CairnWire
import CairnCore

/// Probes that change nothing, settled without their events.
///
/// A daily challenge to an honest holder that holds the slot is half of a run's events
/// (the challenge, the reply) and most of its hashing (the holder's proof, the owner's
/// check), and its outcome is known: the proof checks, and a pass changes nothing but the
/// owner's list of outstanding challenges. So when nothing can change on the way — both
/// nodes stay up for the round trip, no outage, partition or convergence falls in it, the
/// holder's contract for the slot is not freed in it, clocks are exact — the simulator
/// sends the challenge, draws the reply's loss and partition as the network would, and
/// gives the owner the pass at once: no event and no proof instead of two events and
/// eight hashes. Anything else (adversaries, lost disks, slots not held,
/// churn or world events in the window) takes the full path.
///
/// Loss of a challenge and of its reply is drawn from a hash of (sender, receiver,
/// challenge id, message type) instead of the network's shared stream, so that whether a
/// challenge is settled early does not shift which other messages are lost: a run with
/// shortcuts and one without give the same metrics (`ShortcutTests`).
extension Simulation {
    /// Whether the network loses `message` (`scenario.loss` > 0, not converging).
    func lost(_ message: Message, from: NodeID, to: NodeID) -> Bool {
        switch message {
        case let .challenge(id, _, _, _, _): keyedLoss(from: from, to: to, id: id, type: 11)
        case let .challengeReply(id, _): keyedLoss(from: from, to: to, id: id, type: 12)
        default: netRng.chance(scenario.loss)
        }
    }

    /// A loss draw that depends on the message's identity alone (SplitMix64's finaliser
    /// over the run's key and the fields).
    func keyedLoss(from: NodeID, to: NodeID, id: UInt64, type: UInt64) -> Bool {
        var z = challengeLossKey ^ (UInt64(from.raw) << 32 | UInt64(to.raw)) &* 0x9E37_79B9_7F4A_7C15
        z ^= (id &* 0xD1B5_4A32_D192_ED03) ^ (type &* 0x94D0_49BB_1331_11EB)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) * 0x1.0p-53 < scenario.loss
    }

    /// Settles challenge `id` (sent now, past the loss and partition checks) without its
    /// messages when its outcome is known; false: deliver it as usual.
    func shortcutChallenge(id: UInt64, from: NodeID, to: NodeID, slot: SlotID, pack: UInt32, packs: UInt32) -> Bool {
        guard mode == .direct, clockOffset.isEmpty, from.raw < restorerBase, to.raw < restorerBase else { return false }
        let o = from.index, h = to.index
        guard online[o], online[h], !departed[h], adversary[h] == nil else { return false }
        // The challenge reaches the holder at `arrive` (no payload: it leaves at once), the
        // reply reaches the owner at `back`.
        let arrive = now + latency[o] + latency[h] + 1
        let back = arrive + latency[h] + latency[o] + 1
        guard steady(h, through: arrive), steady(o, through: back),
              !worldChanges.contains(where: { $0 >= now && $0 <= back })
        else { return false }
        // What the holder's core and its storage would find (`onHolderMessage`, `prove`),
        // and no heartbeat of the holder frees a contract before the challenge arrives.
        guard cores[h].answersChallenge(slot: slot, packs: packs, steadyThrough: Instant(milliseconds: arrive)), pack < packs, let copy = disks.copy(on: h, of: slot.volume), copy.index == slot.index,
              packs <= copy.packs
        else { return false }
        // The reply, as `send` would treat it at `arrive` (nothing in the window changes
        // convergence or the partition).
        messages += 1
        if !converging, scenario.loss > 0, keyedLoss(from: to, to: from, id: id, type: 12) {
            dropped += 1
            return true
        }
        if partitioned, side(to) != side(from) {
            dropped += 1
            return true
        }
        // The owner's core takes the pass now rather than at `back`: a pass changes only its
        // list of outstanding challenges, which nothing reads before its next challenge
        // tick (the window holds no restart of the owner), so no event is needed for it.
        var actions = takeActionBuffer()
        cores[o].onKnownChallengePass(id: id, from: to, now: Instant(milliseconds: back), into: &actions)
        precondition(actions.isEmpty, "a passed challenge now has consequences: settle it at the reply's arrival (an event), not at once")
        actionBuffer = actions
        return true
    }

    /// No scheduled churn takes node `i` down (or wipes its disk) from now through `t`.
    func steady(_ i: Int, through t: Int64) -> Bool {
        !(now...t).contains(offlineAt[i]) && !(now...t).contains(departAt[i]) && !(now...t).contains(diskFailAt[i])
    }
}
