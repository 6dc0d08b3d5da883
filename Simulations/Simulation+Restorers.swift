import CairnWire
import CairnCore
import CairnCrypto
/// A fetch of one restorer (its endpoint number and the request).
struct RestoreStream: Hashable {
    var restorer: UInt32
    var request: UInt64
}

/// What the check of a slot stream found, held until the stream has fully arrived.
struct CheckedStream {
    var slot: SlotID
    var from: NodeID
    var bytes: UInt64
    var verified: Bool
}

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
            // A spare's shard arriving after its restore finished: the price of asking spares.
            if case let .fetchReply(request, _, true, bytes) = message {
                restoreBytesWasted &+= bytes
                restoreStreamEnds[RestoreStream(restorer: id.raw, request: request)] = nil
            }
            dropped += 1
            return
        }
        let actions = session.onMessage(from: from, message, sent: Instant(milliseconds: sent), now: Instant(milliseconds: now))
        restorers[id.raw] = session
        performRestorer(id, actions)
        // A stream the session did not ask to check (a late spare) is discarded.
        if case let .fetchReply(request, _, _, _) = message {
            restoreStreamEnds[RestoreStream(restorer: id.raw, request: request)] = nil
        }
    }

    func restorerFire(_ id: NodeID) {
        guard var session = restorers[id.raw] else { return }
        let actions = session.onTimer(now: Instant(milliseconds: now))
        restorers[id.raw] = session
        performRestorer(id, actions)
    }

    /// A slot stream to restorer `id` has fully arrived: the check made when its header came
    /// goes to the session now.
    func restorerStreamEnded(_ id: NodeID, request: UInt64) {
        guard let c = restoreStreamsChecked.removeValue(forKey: RestoreStream(restorer: id.raw, request: request)),
              var session = restorers[id.raw]
        else { return }
        let actions = session.onSlotVerified(request: request, slot: c.slot, from: c.from, bytes: c.bytes, verified: c.verified,
                                             now: Instant(milliseconds: now))
        restorers[id.raw] = session
        performRestorer(id, actions)
    }

    func performRestorer(_ id: NodeID, _ actions: [RestoreAction]) {
        Interpreter.perform(actions, through: RestorerShell(sim: self, id: id)) { request, slot, from, bytes, verified in
            let key = RestoreStream(restorer: id.raw, request: request)
            if let end = restoreStreamEnds.removeValue(forKey: key), end > now {
                restoreStreamsChecked[key] = CheckedStream(slot: slot, from: from, bytes: bytes, verified: verified)
                queue.push(at: end, .streamEnd(restorer: id, request: request))
                return []
            }
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
            if at - session.started <= .minutes(6) { restoresWithin6Min += 1 }
        case .failed:
            restoreAttempts += 1
        }
        restoreBytesWasted &+= session.bytesWasted
        restorers[id.raw] = nil
    }
}
