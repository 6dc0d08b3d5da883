import CairnCore
@testable import CairnSimulator
import Testing

/// A node's timer is due at the first true instant its own clock reads the armed time
/// (`Simulation.trueTime`). The rounded inverse of a skewed, drifting clock can land a
/// millisecond early; a timer due there fired while the node's clock still read less, was
/// armed again for the same instant, and fired for ever (random scenario 10064 never got
/// past three days). For clocks fast and slow, at the bounds the scenario allows, the
/// instant found must read at least the armed time, and the millisecond before must not.
@Test func aTimerIsDueAtTheFirstTrueInstantTheNodesClockReadsItsTime() throws {
    let scenario = try Scenario.parse(#"""
    {"nodes": 64, "duration_days": 1, "offered_gib": 10, "backup_gib": 1,
     "clocks": {"offset_s": {"dist": "uniform", "min": 0, "max": 86400},
                "drift_ppm": {"dist": "uniform", "min": 0, "max": 1000}}}
    """#)
    let sim = Simulation(scenario: scenario, seed: 10064)
    #expect(sim.clockDrift.contains { $0 > 0 } && sim.clockDrift.contains { $0 < 0 }, "fast and slow clocks drawn")
    var rng = Xoshiro256(seed: 7)
    var checked = 0
    for i in 0..<scenario.nodes {
        let node = NodeID(UInt32(i))
        for _ in 0..<2_000 {
            // Armed times across a long run, in the node's own reading of time.
            let local = Int64(rng.next() % (400 * 86_400_000)) - sim.clockOffset[i]
            let t = sim.trueTime(i, local: local)
            guard sim.clock(node, at: t) >= local, sim.clock(node, at: t - 1) < local else {
                Issue.record("node \(i), offset \(sim.clockOffset[i]) ms, drift \(sim.clockDrift[i]): armed \(local), due \(t) reads \(sim.clock(node, at: t)), the ms before \(sim.clock(node, at: t - 1))")
                return
            }
            checked += 1
        }
    }
    #expect(checked == 64 * 2_000)
}

/// Clocks are drawn within a day off and 1,000 ppm; a scenario that names more, in any
/// value or scale of its distribution, is refused at that key rather than cut silently.
@Test func clocksBeyondWhatTheSimulatorDrawsAreRefused() throws {
    expectRefused([
        (smallScenarioOpening + #""clocks": {"drift_ppm": 5000}}"#, "$.clocks.drift_ppm"),
        (smallScenarioOpening + #""clocks": {"drift_ppm": {"dist": "fixed", "value": 1e12}}}"#, "$.clocks.drift_ppm.value"),
        (smallScenarioOpening + #""clocks": {"offset_s": {"dist": "uniform", "min": 0, "max": 604800}}}"#, "$.clocks.offset_s.max"),
        (smallScenarioOpening + #""clocks": {"offset_s": {"dist": "exponential", "mean": 90000}}}"#, "$.clocks.offset_s.mean"),
        (smallScenarioOpening + #""clocks": {"offset_s": {"dist": "choice", "values": [1, 86401]}}}"#, "$.clocks.offset_s.values[1]"),
    ])
    let edge = try Scenario.parse(smallScenarioOpening + #""clocks": {"offset_s": 86400, "drift_ppm": {"dist": "uniform", "min": 0, "max": 1000}}}"#)
    #expect(edge.clockOffsetS != nil && edge.clockDriftPpm != nil)
}
