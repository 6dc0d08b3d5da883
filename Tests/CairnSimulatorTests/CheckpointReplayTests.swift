import CairnCore
import CairnSimulator
import Testing

/// Every node and the coordinator killed and restarted from their checkpoints at one
/// instant — mid-placement, mid-repair, with challenges outstanding and blind repairs
/// running — carry on exactly as if nothing happened: the same trace, message for message.
@Suite struct CheckpointReplayTests {
    static let scenario = #"""
        {"nodes": 40, "duration_days": 2, "convergence_days": 1, "backup_gib": {"dist": "fixed", "value": 2},
         "pack_mib": 512, "volume_gib": 1, "adversaries": {"liars": 0.05, "refusers": 0.05},
         "churn": {"online_hours": {"dist": "exponential", "mean": 10}, "offline_hours": {"dist": "exponential", "mean": 2},
                   "disk_failures_per_day": 0.02},
         "protocol": {"challenge_interval_hours": 6, "uptime_window_hours": 12, "blind_repair_after_hours": 6}}
        """#

    @Test(arguments: [0.02, 0.6, 1.3, 1.9])
    func restartFromCheckpointsKeepsTheTrace(atDay day: Double) throws {
        let scenario = try Scenario.parse(Self.scenario)
        let straight = try Simulation(scenario: scenario, seed: 11).run()
        let restarted = Simulation(scenario: scenario, seed: 11)
        restarted.restartFromCheckpointsAt = Int64(day * 86_400_000)
        let result = try restarted.run()
        #expect(restarted.restartFromCheckpointsAt == nil, "the restart happened")
        #expect(straight.events > 1000 && straight.repairsCompleted > 0)
        #expect(result.traceHash == straight.traceHash)
        #expect(result.messages == straight.messages)
        #expect(result.violations.isEmpty, "\(result.violations)")
    }
}
