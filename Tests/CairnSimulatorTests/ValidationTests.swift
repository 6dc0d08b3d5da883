import CairnSimulator
import Testing

/// The fast subset of `cairn simulate --validate`: the shipped availability scenario, cut
/// short, agrees with P[Bin(n, p) ≥ k]; the same run compared with a wrong p fails, so the
/// check can fail; the new keys refuse bad values.
@Suite struct ValidationTests {
    /// Scenarios/validation/availability.json with 20 samples instead of 100.
    static func shortAvailability() throws -> Scenario {
        var s = try Scenario.load(path: Package.path("Scenarios/validation/availability.json"))
        s.durationDays = s.warmupDays + 40
        return s
    }

    @Test func availabilityMatchesTheBinomial() throws {
        let outcome = try Validation.run(Self.shortAvailability(), seed: 7)
        #expect(outcome.samples == 20)
        #expect(outcome.passed, "simulated \(outcome.simulated), expected \(outcome.expected) ± \(outcome.tolerance)")
    }

    /// Comparing the p = 1/2 run with the closed form for p = 0.8 (online 4 h of every 5).
    @Test func aWrongExpectationFails() throws {
        let s = try Self.shortAvailability()
        var wrong = s
        wrong.offline = .exponential(mean: 1)
        let outcome = try Validation.run(s, seed: 7, expectation: wrong)
        #expect(!outcome.passed, "simulated \(outcome.simulated) passed against \(outcome.expected) ± \(outcome.tolerance)")
    }

    /// With repair off nothing is repaired, and no shard outside the first placement exists.
    @Test func repairOffRepairsNothing() throws {
        var s = try Scenario.load(path: Package.path("Scenarios/validation/loss-no-repair.json"))
        s.nodes = 60
        s.durationDays = 22
        let r = try Simulation(scenario: s, seed: 3).run()
        #expect(r.departed > 0)
        #expect(r.repairsCompleted == 0 && r.blindShardsRepaired == 0)
        #expect(r.violations.isEmpty)
        s.repair = true
        let repaired = try Simulation(scenario: s, seed: 3).run()
        #expect(repaired.repairsCompleted + repaired.blindShardsRepaired > 0)
    }

    @Test func newKeysRefuseBadValues() {
        let base = smallScenarioOpening
        expectRefused([
            (base + #""repair": "sometimes"}"#, "$.repair"),
            (base + #""warmup_days": 5}"#, "$.warmup_days"),
            (base + #""validate": {"model": "magic"}}"#, "$.validate.model"),
            (base + #""validate": {"model": "pack_availability", "runs": 0}}"#, "$.validate.runs"),
        ])
    }
}
