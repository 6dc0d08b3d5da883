import CairnWire
import CairnCore
import CairnCrypto
/// Churn (sessions, departures, disk failures) and world events (correlated outages,
/// partitions, convergence, samples, checks).
extension Simulation {
    // MARK: Churn and world events

    func churn(_ i: Int, _ kind: EventKind.Churn) {
        switch kind {
        case .goOnline:
            goOnline(i)
            if let on = scenario.online, !converging {
                let at = now + hours(on.sample(&worldRng))
                offlineAt[i] = at
                queue.push(at: at, .churn(node: UInt32(i), .goOffline, epoch: churnEpoch[i]))
            }
        case .goOffline:
            guard !converging else { return }
            goOffline(i)
            queue.push(at: now + hours(scenario.offline.sample(&worldRng)), .churn(node: UInt32(i), .goOnline, epoch: churnEpoch[i]))
        case .depart:
            guard !converging else { return }
            goOffline(i)
            departed[i] = true
            departures += 1
            disks.wipe(node: i)
            markRepairLosses()
        case .diskFail:
            guard !converging else { return }
            diskFailures += 1
            diskLostAt[i] = now
            disks.wipe(node: i)
            markRepairLosses()
            nodeDiskLost(i)
            // The operator reinstalls from the phrase within the hour; the node rejoins as fresh.
            if online[i] {
                churnEpoch[i] &+= 1
                goOffline(i)
                queue.push(at: now + ms.hour, .churn(node: UInt32(i), .goOnline, epoch: churnEpoch[i]))
            }
        }
    }

    /// A drawn duration in milliseconds: at least one, and at most a century (a heavy-tailed
    /// distribution can draw beyond what an `Int64` of milliseconds holds).
    func hours(_ h: Double) -> Int64 {
        let centuryMs = 100 * 365 * Double(ms.day)
        return max(1, Int64(min(h * Double(ms.hour), centuryMs)))
    }

    func goOnline(_ i: Int) {
        guard !online[i], !departed[i] else { return }
        online[i] = true
        detectability.cameOnline(i, at: now)
        epoch[i] &+= 1
        nodeStart(i)
    }

    func goOffline(_ i: Int) {
        guard online[i] else { return }
        online[i] = false
        detectability.wentOffline(i)
        epoch[i] &+= 1
    }


    func world(_ w: EventKind.World) {
        switch w {
        case .correlated(let f):
            guard !converging else { return }
            let fault = scenario.correlated[f]
            for i in 0..<scenario.nodes where !departed[i] && worldRng.chance(fault.fraction) {
                churnEpoch[i] &+= 1
                goOffline(i)
                queue.push(at: now + hours(fault.durationHours), .churn(node: UInt32(i), .goOnline, epoch: churnEpoch[i]))
            }
        case .partitionStart(let f):
            guard !converging else { return }
            let fraction = scenario.partitions[f].fraction
            for i in 0..<scenario.nodes { partitionSide[i] = worldRng.chance(fraction) }
            partitioned = true
        case .partitionEnd:
            partitioned = false
        case .converge:
            converging = true
            partitioned = false
            for i in 0..<scenario.nodes where !departed[i] && !online[i] {
                churnEpoch[i] &+= 1
                goOnline(i)
            }
        case .sample:
            if now >= Int64(scenario.warmupDays * Double(ms.day)) { availabilitySamples.append(packAvailability()) }
            sample()
            queue.push(at: now + Int64(scenario.sampleIntervalHours * Double(ms.hour)), .world(.sample))
        case .check:
            check()
            queue.push(at: now + Int64(scenario.checkIntervalHours * Double(ms.hour)), .world(.check))
        }
    }
}
