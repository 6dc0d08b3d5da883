import CairnWire
import CairnCore
import CairnCrypto
/// The result of a run: durability, restores, repair traffic, detection, the trace hash.
extension Simulation {
    func finish() -> SimulationResult {
        refreshMirrors()
        check()
        sample()
        var lost = 0
        var unconverged = 0, unrecoverable = 0
        var belowN = 0
        var live = 0
        var volumesLive = 0, volumesLost = 0
        var stored: UInt64 = 0
        var backed: UInt64 = 0
        let trigger = scenario.repairTrigger ?? scenario.n
        for p in 0..<volumeOwner.count where counted(p) {
            // Counted in packs (a lost volume loses every pack in it), and in volumes.
            let packs = volumePacks[p]
            live += packs
            volumesLive += 1
            backed += volumeBacked[p]
            let h = healthy(p)
            let local = cores[Int(volumeOwner[p])].volumes[volumeSlot[p]].localCopy
            if h < scenario.k && !local {
                lost += packs
                volumesLost += 1
            } else if h < trigger {
                if !local && serving(p) < scenario.k { unrecoverable += packs } else { unconverged += packs }
            }
            if h < scenario.n { belowN += packs }
            if h < trigger, debugLost {
                let o = Int(volumeOwner[p])
                let pack = cores[o].volumes.first { $0.id.number == UInt64(p) }!
                debugLines.append("owner budget=\(cores[o].book.placementBudget) placed=\(cores[o].book.placedBytes) owned=\(cores[o].book.owned.count) standing=\(String(describing: coordinator.entry(NodeID(UInt32(o)))?.reputation.standing)) adv=\(String(describing: adversary[o]))")
                debugLines.append("pack\(p) owner\(o) online=\(online[o]) lost=\(pack.lost) local=\(pack.localCopy) fetched=\(pack.fetchedMask) requests=\(pack.fetchRequests) deadline=\(String(describing: pack.fetchDeadline)) repairing=\(pack.repairing) copies=\(disks.copies[p].map { "\($0.node)/\($0.index)/\(adversary[Int($0.node)].map { "\($0)" } ?? "ok")" })")
                for slot in pack.slots {
                    debugLines.append("   misses=\(slot.fetchMisses) holder=\(slot.holder.map { "\($0)/\(adversary[$0.index].map { "\($0)" } ?? "ok")" } ?? "-") failed=\(slot.failed) unhealthy=\(slot.unhealthy) pending=\(String(describing: slot.pending)) ph=\(String(describing: slot.pendingHolder))")
                }
            }
        }
        for i in 0..<scenario.nodes where !departed[i] { stored += disks.storedBytes[i] }
        if debugLost {
            for id in restorers.keys.sorted() {
                let r = restorers[id]!
                debugLines.append("restorer \(id) owner \(r.owner) started \(r.started) deadline \(r.deadline) progress \(r.progress) \(r.debugState)")
            }
        }
        var detection = [String: Detection]()
        for (_, kind) in Scenario.adversaryKeys {
            var d = Detection()
            var sum = 0.0
            for i in 0..<scenario.nodes where adversary[i] == kind {
                d.total += 1
                guard misbehavedAt[i] >= 0 else { continue }
                d.misbehaved += 1
                guard detectedAt[i] >= 0 else { continue }
                d.detected += 1
                let h = Double(detectedAt[i] - misbehavedAt[i]) / Double(ms.hour)
                sum += h
                d.maxHours = max(d.maxHours ?? 0, h)
            }
            for i in 0..<scenario.nodes where adversary[i] == kind && detectability.detectableAt[i] >= 0 {
                let from = detectability.detectableAt[i]
                d.detectable += 1
                if detectedAt[i] >= 0 {
                    d.detectableDelays.append(Double(max(0, detectedAt[i] - from)) / Double(ms.hour))
                } else {
                    d.detectableOpenHours.append(Double(end - from) / Double(ms.hour))
                }
            }
            if d.detected > 0 { d.meanHours = sum / Double(d.detected) }
            if d.total > 0 { detection[Scenario.kindName(kind)] = d }
        }
        // Contracts in force: owned and both signed, by present owners.
        var contractsActive = 0, contractsPerOwnerMax = 0
        for (i, core) in cores.enumerated() where !departed[i] {
            let active = core.book.owned.values.count { $0.state == .active }
            contractsActive += active
            contractsPerOwnerMax = max(contractsPerOwnerMax, active)
        }
        let days = Double(end) / Double(ms.day)
        var result = SimulationResult(
            seed: seed, scenario: scenario.name, nodes: scenario.nodes, simDays: days, events: events,
            messages: messages, messagesDropped: dropped, messagesRefusedClockSkew: skewRefused, packsTotal: live, packsLost: lost,
            // Over the packs `packsLost` counts (present, honest owners): an adversary's or a
            // departed owner's volumes are neither.
            packsReportedLost: reportedLost.indices.reduce(0) { $0 + (reportedLost[$1] && counted($1) ? volumePacks[$1] : 0) },
            volumesTotal: volumesLive, volumesLost: volumesLost, contractsActive: contractsActive,
            contractsPerOwnerMax: contractsPerOwnerMax, restoreAttempts: restoreAttempts,
            restoreSuccessRate: restoreAttempts == 0 ? nil : Double(restoreSuccesses) / Double(restoreAttempts),
            restoreHoursMean: restoreSuccesses == 0 ? nil : restoreHours / Double(restoreSuccesses),
            restoresUnfinished: restorers.count,
            repairBytes: repairBytes, repairBytesPerNodeDay: Double(repairBytes) / Double(scenario.nodes) / max(days, 1e-9),
            storageOverhead: backed == 0 ? 0 : Double(stored) / Double(backed), detection: detection,
            contractsBroken: contractsBroken, contractsLapsed: contractsLapsed, contractsRenewed: contractsRenewed, repairsStarted: repairsStarted, repairsCompleted: repairsCompleted,
            blindRepairsOrdered: blindOrdered, blindShardsRepaired: blindRepaired,
            unconvergedPacks: unconverged, packsBelowN: belowN, departed: departures, diskFailures: diskFailures, warned: warned,
            excluded: excluded, violations: violations, expectationFailures: [], traceHash: "", timeseries: timeseries)
        result.restoreWithin6MinRate = restoreAttempts == 0 ? nil : Double(restoresWithin6Min) / Double(restoreAttempts)
        result.restoreBytesWasted = restoreBytesWasted
        result.availabilitySamples = availabilitySamples
        result.dropperShards = droppers.sorted
        result.packsUnrecoverable = unrecoverable
        result.packsEverLost = (0..<volumeOwner.count).reduce(0) { $0 + (counted($1) && repairModel.everLost($1) ? volumePacks[$1] : 0) }
        trace!.add(events)
        trace!.add(messages)
        result.traceHash = Hex.encode(trace.take()!.finalize())
        result.expectationFailures = Self.expectationFailures(result, scenario.expect)
        return result
    }

    static func expectationFailures(_ r: SimulationResult, _ e: Expectations) -> [String] {
        var out = [String]()
        if let m = e.packsLostMax, r.packsLost > m { out.append("packs_lost \(r.packsLost) > \(m)") }
        if let m = e.restoreSuccessMin {
            if let rate = r.restoreSuccessRate {
                if rate < m { out.append("restore_success_rate \(rate) < \(m)") }
            } else {
                out.append("no sampled restore finished (restore_samples, or a run shorter than restore_patience_hours)")
            }
        }
        if let m = e.unconvergedMax, r.unconvergedPacks > m { out.append("unconverged packs \(r.unconvergedPacks) > \(m)") }
        if let m = e.repairsMin, r.repairsCompleted < m { out.append("repairs completed \(r.repairsCompleted) < \(m)") }
        if let m = e.blindRepairsMin, r.blindShardsRepaired < m {
            out.append("shards repaired blind \(r.blindShardsRepaired) < \(m)")
        }
        for kind in e.detectionHoursMax.keys.sorted() {
            let bound = e.detectionHoursMax[kind]!
            guard let d = r.detection[kind] else { out.append("no \(kind) adversaries to detect"); continue }
            if let h = d.maxHours, h > bound { out.append("\(kind) detection took \(h) h > \(bound) h") }
        }
        for kind in e.detectedFractionMin.keys.sorted() {
            let bound = e.detectedFractionMin[kind]!
            guard let d = r.detection[kind], d.misbehaved > 0 else { out.append("no \(kind) misbehaved"); continue }
            let f = Double(d.detected) / Double(d.misbehaved)
            if f < bound { out.append("\(kind) detected \(d.detected)/\(d.misbehaved) < \(bound)") }
        }
        if let m = e.unrecoverableMax, r.packsUnrecoverable > m {
            out.append("unrecoverable packs \(r.packsUnrecoverable) > \(m)")
        }
        let kinds = Set(e.detectableCaughtWithinHours.keys).union(e.detectableCaughtFractionMin.keys)
        for kind in kinds.sorted() {
            guard let d = r.detection[kind] else { out.append("no \(kind) adversaries to detect"); continue }
            let hours = e.detectableCaughtWithinHours[kind] ?? .infinity
            let bound = e.detectableCaughtFractionMin[kind] ?? 1
            let (caught, of) = d.caughtWithin(hours)
            if of > 0, Double(caught) < bound * Double(of) {
                out.append("\(kind): \(caught) of \(of) detectable caught within \(hours) h of becoming detectable (< \(bound))")
            }
        }
        return out
    }

    /// Distinct shards of pack `p` that a repair could fetch: on present holders that keep
    /// them and serve them (honest ones, and early freers until they free), still owed.
    func serving(_ p: Int) -> Int {
        var mask: UInt64 = 0
        for c in disks.copies[p] {
            let i = Int(c.node)
            guard !departed[i], adversary[i] == nil || adversary[i] == .earlyFree, c.graceUntil > now else { continue }
            mask |= 1 << UInt64(c.index)
        }
        return mask.nonzeroBitCount
    }
}
