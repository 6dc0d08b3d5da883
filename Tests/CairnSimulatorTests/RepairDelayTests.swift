import CairnSimulator
import Foundation
import Testing

/// Repair taking a drawn time (`"repair": {"rate_per_day": μ}` / `{"delay_hours": d}`).
@Suite struct RepairDelayTests {
    /// Scenarios/validation/loss-repair.json on fewer nodes and days.
    static func short() throws -> Scenario {
        var s = try Scenario.load(path: Package.path("Scenarios/validation/loss-repair.json"))
        s.nodes = 60
        s.durationDays = 10
        return s
    }

    /// A repair that never completes within the run counts for nothing: every pack ever
    /// lost is exactly a pack lost with repair off (departures are drawn at the start, so
    /// both runs lose the same holders at the same times), while the protocol did repair.
    @Test func aRepairThatNeverCompletesIsNoRepair() throws {
        var never = try Self.short()
        never.repairDelay = .fixed(hours: 87_600)
        var off = never
        off.repair = false
        off.repairDelay = nil
        let a = try Simulation(scenario: never, seed: 5).run()
        let b = try Simulation(scenario: off, seed: 5).run()
        #expect(b.packsLost > 0)
        #expect(a.repairsCompleted > 0)
        #expect(a.packsTotal == b.packsTotal)
        #expect(a.packsEverLost == b.packsLost)
        // An instant repair loses less than none.
        var instant = never
        instant.repairDelay = .fixed(hours: 0)
        let c = try Simulation(scenario: instant, seed: 5).run()
        #expect(c.packsEverLost < a.packsEverLost)
    }

    @Test func keysRefuseBadValues() {
        let base = smallScenarioOpening
        expectRefused([
            (base + #""repair": {}}"#, "$.repair"),
            (base + #""repair": {"rate_per_day": 1, "delay_hours": 2}}"#, "$.repair"),
            (base + #""repair": {"rate_per_day": 0}}"#, "$.repair.rate_per_day"),
            (base + #""repair": {"rate_per_day": 1, "speed": 2}}"#, "$.repair.speed"),
            (base + #""repair": 3}"#, "$.repair"),
        ])
    }

    /// The chain needs exponential repair, departures and nothing else going on.
    @Test func theModelRefusesScenariosItDoesNotDescribe() throws {
        var s = try Self.short()
        s.repairDelay = .fixed(hours: 24)
        #expect(throws: ValidationError.self) { try Validation.expected(s) }
        s.repairDelay = .exponential(perDay: 0.1)
        s.repairTrigger = 3
        #expect(throws: ValidationError.self) { try Validation.expected(s) }
    }
}
