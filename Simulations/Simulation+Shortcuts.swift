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
        let h = to.index
        let fate = roundTrip(id: id, from: from, to: to, pack: pack, packs: packs, slot: slot) { through in
            cores[h].answersChallenge(slot: slot, packs: packs, steadyThrough: through)
        }
        switch fate {
        case .unknown:
            return false
        case .replyDropped:
            messages += 1
            dropped += 1
            return true
        case .passes:
            messages += 1
            // The owner's core takes the pass now rather than at the reply's arrival: a pass
            // changes only its list of outstanding challenges, which nothing reads before its
            // next challenge tick (the window holds no restart of the owner), so no event is
            // needed for it.
            var actions = takeActionBuffer()
            cores[from.index].onKnownChallengePass(id: id, from: to, now: Instant(milliseconds: arriveBack(from, to)),
                                                   into: &actions)
            precondition(actions.isEmpty, "a passed challenge now has consequences: settle it at the reply's arrival (an event), not at once")
            actionBuffer = actions
            return true
        }
    }

    /// `knownPass` for the challenge tick of owner `o` (`NodeCore.onChallengeTimer`): true
    /// when the challenge would get through, be settled by `shortcutChallenge` and its
    /// reply get through too — then it is counted as its two messages and needs nothing
    /// else. Anything else is left to the usual path (`send`), which decides it the same
    /// way: every check here is a pure function of the state at this instant and of keyed
    /// loss draws. `cores` is the array's storage, open for the owner's tick.
    func settlesInTick(_ c: KnownChallenge, owner o: Int, cores: UnsafeMutablePointer<NodeCore>) -> Bool {
        let from = NodeID(UInt32(o)), to = c.holder
        guard to.raw < restorerBase, to.index != o else { return false }
        if !converging, scenario.loss > 0, keyedLoss(from: from, to: to, id: c.id, type: 11) { return false }
        if partitioned, side(from) != side(to) { return false }
        let h = to.index
        let slot = c.slot, packs = c.packs
        let fate = roundTrip(id: c.id, from: from, to: to, pack: c.pack, packs: packs, slot: slot) { through in
            cores[h].answersChallenge(slot: slot, packs: packs, steadyThrough: through)
        }
        guard fate == .passes else { return false }
        messages += 2
        return true
    }

    enum RoundTrip {
        /// Something may change on the way: deliver the challenge.
        case unknown
        /// The holder would answer with a proof that checks, and the reply arrive.
        case passes
        /// The holder would answer, but the network loses the reply.
        case replyDropped
    }

    /// When the reply to a challenge sent now from `from` to `to` reaches the owner.
    func arriveBack(_ from: NodeID, _ to: NodeID) -> Int64 {
        let o = from.index, h = to.index
        return now + 2 * (latency[o] + latency[h] + 1)
    }

    /// What becomes of a challenge sent now (past its own loss and partition checks), if
    /// that is known: both nodes up with no scheduled churn, outage, partition or
    /// convergence until the reply is back, exact clocks, an honest holder whose records
    /// answer it (`answers`, at the challenge's arrival) from a copy it has.
    func roundTrip(id: UInt64, from: NodeID, to: NodeID, pack: UInt32, packs: UInt32, slot: SlotID,
                   answers: (Instant) -> Bool) -> RoundTrip
    {
        guard mode == .direct, clockOffset.isEmpty, from.raw < restorerBase, to.raw < restorerBase else { return .unknown }
        let o = from.index, h = to.index
        guard online[o], online[h], !departed[h], adversary[h] == nil else { return .unknown }
        // The challenge reaches the holder at `arrive` (no payload: it leaves at once), the
        // reply reaches the owner at `back`.
        let arrive = now + latency[o] + latency[h] + 1
        let back = arrive + latency[h] + latency[o] + 1
        guard steady(h, through: arrive), steady(o, through: back),
              !worldChanges.contains(where: { $0 >= now && $0 <= back })
        else { return .unknown }
        // What the holder's core and its storage would find (`onHolderMessage`, `prove`),
        // and no heartbeat of the holder frees a contract before the challenge arrives.
        guard answers(Instant(milliseconds: arrive)), pack < packs, let copy = disks.copy(on: h, of: slot.volume),
              copy.index == slot.index, packs <= copy.packs
        else { return .unknown }
        // The reply, as `send` would treat it at `arrive` (nothing in the window changes
        // convergence or the partition).
        if !converging, scenario.loss > 0, keyedLoss(from: to, to: from, id: id, type: 12) { return .replyDropped }
        if partitioned, side(to) != side(from) { return .replyDropped }
        return .passes
    }

    /// No scheduled churn takes node `i` down (or wipes its disk) from now through `t`.
    func steady(_ i: Int, through t: Int64) -> Bool {
        !(now...t).contains(offlineAt[i]) && !(now...t).contains(departAt[i]) && !(now...t).contains(diskFailAt[i])
    }
}
