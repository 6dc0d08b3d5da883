import CairnWire
import CairnCore
import CairnCrypto
/// The simulated network: loss, partitions, latency, and each node's uplink.
extension Simulation {
    // MARK: Network

    func send(from: NodeID, to: NodeID, _ message: Message) {
        messages += 1
        if !converging, scenario.loss > 0, lost(message, from: from, to: to) {
            dropped += 1
            return
        }
        if partitioned, side(from) != side(to) {
            dropped += 1
            return
        }
        if to == .coordinator, case let .report(holder, .refusedFetch, since) = message {
            refusalReported(by: from, holder: holder, since: since)
        }
        if shortcuts, case let .challenge(id, slot, pack, packs, _) = message,
           shortcutChallenge(id: id, from: from, to: to, slot: slot, pack: pack, packs: packs)
        {
            return
        }
        let fromLatency = oneWayLatency(from)
        let toLatency = oneWayLatency(to)
        var departure = now
        let payload = message.payloadBytes
        if payload > 0, from != .coordinator {
            let i = from.index
            let start = max(now, linkBusy[i])
            let transfer = Int64((Double(payload) / bytesPerMs[i]).rounded(.up))
            linkBusy[i] = start + transfer
            departure = start + transfer
        }
        if payload > 0, to.raw >= restorerBase, case let .fetchReply(request, _, _, _) = message {
            // A restore sees the reply header at the first byte, and counts the slot when
            // its stream has fully arrived (`streamEnd`): a slow stream is not a silent holder.
            let firstByte = departure - Int64((Double(payload) / bytesPerMs[from.index]).rounded(.up))
            restoreStreamEnds[RestoreStream(restorer: to.raw, request: request)] = departure + fromLatency + toLatency + 1
            queue.push(at: firstByte + fromLatency + toLatency + 1,
                       .deliver(from: from, to: to, sent: clock(from, at: firstByte), message))
            return
        }
        if to == .coordinator, case let .heartbeat(used) = message {
            heartbeatLane.add(HeartbeatInFlight(time: departure + fromLatency + toLatency + 1, seq: queue.reserveSeq(),
                                                from: from, sent: clock(from, at: departure), used: used))
            return
        }
        queue.push(at: departure + fromLatency + toLatency + 1,
                   .deliver(from: from, to: to, sent: clock(from, at: departure), message))
    }

    /// The coordinator and restoring devices (numbered above every node; so is
    /// `NodeID.coordinator`) sit on the majority side of a partition, on a fast link.
    func side(_ node: NodeID) -> Bool {
        node.raw >= restorerBase ? false : partitionSide[node.index]
    }

    func oneWayLatency(_ node: NodeID) -> Int64 {
        node.raw >= restorerBase ? 5 : latency[node.index]
    }
}
