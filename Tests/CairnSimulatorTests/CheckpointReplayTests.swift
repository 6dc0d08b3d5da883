import CairnCore
import CairnNode
import CairnSimulator
import Foundation
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

    /// The encoded state in a form that does not depend on dictionary order (JSON writes a
    /// dictionary with non-string keys as an array in iteration order): a field the decoder
    /// forgot reads back as its default and shows here, where the trace may not show it.
    static func canonical(_ state: some Codable) throws -> String {
        func walk(_ value: Any) -> String {
            switch value {
            case let d as [String: Any]: "{" + d.keys.sorted().map { "\($0):\(walk(d[$0]!))" }.joined(separator: ",") + "}"
            case let a as [Any]: "[" + a.map(walk).sorted().joined(separator: ",") + "]"
            default: "\(value)"
            }
        }
        return walk(try JSONSerialization.jsonObject(with: Data(CheckpointCodec.encode(state))))
    }

    @Test(arguments: [0.02, 0.6, 1.3, 1.9])
    func restartFromCheckpointsKeepsTheTrace(atDay day: Double) throws {
        let scenario = try Scenario.parse(Self.scenario)
        let straight = try Simulation(scenario: scenario, seed: 11).run()
        let restarted = Simulation(scenario: scenario, seed: 11)
        nonisolated(unsafe) var restartedCores = 0
        nonisolated(unsafe) var lostState = [String]()
        restarted.restartFromCheckpoints = .init(
            at: Int64(day * 86_400_000),
            node: { core in
                restartedCores += 1
                let back = try CheckpointCodec.restarted(core)
                if try Self.canonical(core) != Self.canonical(back) { lostState.append("node \(core.me)") }
                return back
            },
            coordinator: { core in
                let back = try CheckpointCodec.restarted(core)
                if try Self.canonical(core) != Self.canonical(back) { lostState.append("coordinator") }
                return back
            })
        let result = try restarted.run()
        #expect(restartedCores == 40, "every node restarted")
        #expect(lostState.isEmpty, "state that did not read back: \(lostState)")
        #expect(straight.events > 1000 && straight.repairsCompleted > 0)
        #expect(result.traceHash == straight.traceHash)
        #expect(result.messages == straight.messages)
        #expect(result.violations.isEmpty, "\(result.violations)")
    }
}
