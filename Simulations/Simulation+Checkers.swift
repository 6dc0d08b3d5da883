import CairnWire
import CairnCore
import CairnCrypto
/// Ground truth and the checkers that watch every node from outside.
extension Simulation {
    // MARK: Ground truth and checkers

    /// Distinct shard indices of pack `p` held intact by members that have not left and
    /// do not lie about them.
    /// Distinct shards of pack `p` held intact by present, non-lying holders that still owe
    /// them: under a contract that is active or within its grace period. A copy past its
    /// grace is garbage its holder has not collected yet (it was offline when the period
    /// ended, say); nobody tracks it, so it keeps no pack alive.
    func healthy(_ p: Int) -> Int {
        var mask: UInt64 = 0
        for c in disks.copies[p] {
            let i = Int(c.node)
            if departed[i] || adversary[i] == .badProof || adversary[i] == .missing { continue }
            if c.graceUntil <= now { continue }
            if c.graceUntil == Int64.max, pastOwnGrace(p, c) { continue }
            if repairModel.delay != nil, !repairModel.live(p, index: c.index, node: i, at: now) { continue }
            mask |= 1 << UInt64(c.index)
        }
        return mask.nonzeroBitCount
    }

    /// Whether copy `c` of volume `p`, which no release reached, is past the grace its holder
    /// keeps from its contract's term end (`ContractTerms.graceEnd`, by the holder's clock):
    /// the holder frees it at its next expiry, and only a holder away since then still has
    /// the bytes. (Counting such a copy, the checker judged an owner wrong to give up a
    /// volume whose fourth shard, k = 4, sat on a holder offline past that grace: random
    /// scenario 468, `--long`.)
    func pastOwnGrace(_ p: Int, _ c: Copy) -> Bool {
        let i = Int(c.node)
        let volume = cores[Int(volumeOwner[p])].volumes[volumeSlot[p]].id
        // In place (`NodeCore.heldKeptUntil`): `cores[i].book.heldContract(for:)` copied the
        // whole book and the contract, a tenth of churn.json's run.
        guard let kept = cores[i].heldKeptUntil(SlotID(volume: volume, index: c.index)) else { return false }
        return trueTime(i, local: kept.milliseconds) <= now
    }

    /// The fraction of counted packs with at least k distinct shards on holders that are
    /// online now, present, honest and still owe them: what a restore started now could
    /// read at once. Packs of a volume count together (they share its holders).
    func packAvailability() -> Double {
        var available = 0, total = 0
        for p in 0..<volumeOwner.count where counted(p) {
            total += volumePacks[p]
            var mask: UInt64 = 0
            for c in disks.copies[p] {
                let i = Int(c.node)
                guard online[i], !departed[i], adversary[i] == nil, c.graceUntil > now else { continue }
                if repairModel.delay != nil, !repairModel.live(p, index: c.index, node: i, at: now) { continue }
                mask |= 1 << UInt64(c.index)
            }
            if mask.nonzeroBitCount >= scenario.k { available += volumePacks[p] }
        }
        return total == 0 ? 0 : Double(available) / Double(total)
    }

    /// Packs the durability figures count: owned by members that have not left and are not
    /// adversaries (whose own backups are refused once they are excluded).
    func counted(_ p: Int) -> Bool {
        let o = Int(volumeOwner[p])
        return !departed[o] && adversary[o] == nil
    }

    func violation(_ message: String) {
        if violations.count < Self.violationsMax {
            violations.append("t=\(String(format2(Double(now) / Double(ms.hour))))h seed=\(seed): \(message)")
        }
    }

    func format2(_ x: Double) -> String {
        let scaled = (x * 100).rounded()
        return "\(Int64(scaled) / 100).\(String(Int64(abs(scaled)) % 100).leftPad(2))"
    }

    /// Periodic invariants: capacity, and both sides' contract books agree.
    func check() {
        refreshMirrors()
        for i in 0..<scenario.nodes where disks.storedBytes[i] > offered[i] {
            violation("node\(i) stores \(disks.storedBytes[i]) bytes, offered \(offered[i])")
        }
        for o in 0..<scenario.nodes where !departed[o] {
            let owned = cores[o].book.owned
            for id in owned.keys.sorted() {
                let c = owned[id]!
                guard c.state == .active, clock(NodeID(UInt32(o)), at: now) < c.terms.end.milliseconds else { continue }
                let h = c.terms.holder.index
                if departed[h] || diskLostAt[h] >= trueTime(o, local: c.terms.start.milliseconds) { continue }
                guard let held = cores[h].book.held[id] else {
                    // Renewed in place by its holder while the owner never heard the renewal
                    // was signed: the shard is kept under the renewal, at least as long as
                    // this contract promised.
                    if let renewal = cores[h].book.heldContract(for: c.terms.shard), renewal.renewed?.of == id,
                       renewal.keptUntil >= c.terms.graceEnd
                    {
                        continue
                    }
                    violation("\(id) active at its owner node\(o) but unknown to its holder node\(h)")
                    continue
                }
                if held.terms != c.terms || held.ownerSignature != c.ownerSignature || held.holderSignature != c.holderSignature {
                    violation("\(id): owner node\(o) and holder node\(h) disagree on terms or signatures")
                }
            }
        }
    }

    func sample() {
        refreshMirrors()
        var healthyShards = 0
        var lost = 0
        for p in 0..<volumeOwner.count where counted(p) {
            let h = healthy(p)
            healthyShards += h
            if h < scenario.k && !cores[Int(volumeOwner[p])].volumes[volumeSlot[p]].localCopy { lost += volumePacks[p] }
        }
        // Read in place: a closure over each core by value copied every NodeCore (retaining
        // all its arrays) per sample.
        let inFlight = cores.withUnsafeBufferPointer { c in
            var total = 0
            for i in c.indices {
                c[i].volumes.withUnsafeBufferPointer { v in
                    for p in v.indices where v[p].repairing { total += 1 }
                }
            }
            return total
        }
        timeseries.append(Sample(hours: Double(now) / Double(ms.hour), nodesOnline: online.count { $0 },
                                 healthyShards: healthyShards, repairsInFlight: inFlight, packsLost: lost, messages: messages))
        // Restores, spread over the fault phase, started only while they can run their full
        // patience before the run ends (so none is cut short).
        let patience = Int64(scenario.restorePatienceHours * Double(ms.hour))
        let window = min(faultEnd, end - patience)
        guard now <= window, scenario.restoreSamples > 0 else { return }
        // restore_samples split evenly over the samples that fall in the window, exactly.
        let samplesInRun = max(1, Int(Double(window) / Double(ms.hour) / scenario.sampleIntervalHours))
        let j = min(restoreRounds, samplesInRun - 1)
        let total = scenario.restoreSamples
        let attempts = restoreRounds < samplesInRun ? (j + 1) * total / samplesInRun - j * total / samplesInRun : 0
        restoreRounds += 1
        for _ in 0..<attempts {
            // An honest owner still in the network, drawn a bounded number of times.
            for _ in 0..<64 {
                let owner = worldRng.index(scenario.nodes)
                guard !departed[owner], adversary[owner] == nil else { continue }
                startRestore(owner: owner)
                break
            }
        }
    }
}
