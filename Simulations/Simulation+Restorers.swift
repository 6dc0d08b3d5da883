import CairnWire
import CairnCore
import CairnCrypto
/// Sampled restores: devices with only the owner's identity, run through the network.
extension Simulation {
    // MARK: Sampled restores, run through the network

    func startRestore(owner: Int) {
        let id = NodeID(restorerBase + restorersStarted)
        restorersStarted += 1
        var session = RestoreSession(owner: NodeID(UInt32(owner)), params: RestoreSession.Params(maxClockSkew: Interval(milliseconds: Int64(scenario.maxClockSkewS * 1000))),
                                     now: Instant(milliseconds: now),
                                     patience: Interval(milliseconds: Int64(scenario.restorePatienceHours * Double(ms.hour))))
        let actions = session.start(now: Instant(milliseconds: now))
        restorers[id.raw] = session
        performRestorer(id, actions)
    }

    func restorerReceive(_ id: NodeID, from: NodeID, sent: Int64, _ message: Message) {
        guard var session = restorers[id.raw] else {
            dropped += 1
            return
        }
        let actions = session.onMessage(from: from, message, sent: Instant(milliseconds: sent), now: Instant(milliseconds: now))
        restorers[id.raw] = session
        performRestorer(id, actions)
    }

    func restorerFire(_ id: NodeID) {
        guard var session = restorers[id.raw] else { return }
        let actions = session.onTimer(now: Instant(milliseconds: now))
        restorers[id.raw] = session
        performRestorer(id, actions)
    }

    func performRestorer(_ id: NodeID, _ actions: [RestoreAction]) {
        Interpreter.perform(actions, through: RestorerShell(sim: self, id: id)) { request, slot, from, bytes, verified in
            guard var session = restorers[id.raw] else { return [] }
            let next = session.onSlotVerified(request: request, slot: slot, from: from, bytes: bytes, verified: verified,
                                              now: Instant(milliseconds: now))
            restorers[id.raw] = session
            return next
        }
        guard let session = restorers[id.raw] else { return }
        switch session.outcome {
        case .running:
            return
        case .restored(let at):
            restoreAttempts += 1
            restoreSuccesses += 1
            restoreHours += Double((at - session.started).milliseconds) / Double(ms.hour)
        case .failed:
            restoreAttempts += 1
        }
        restorers[id.raw] = nil
    }
}
