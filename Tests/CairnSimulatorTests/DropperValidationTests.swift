import CairnSimulator
import Foundation
import Testing

/// Partial droppers (`adversaries.drop_fraction`): the closed forms against values worked
/// out by hand, the shipped survival scenario cut short against (1 − f)^c, the same run
/// against a wrong f failing, and the new keys refusing bad values.
@Suite struct DropperValidationTests {
    /// 8 segments divide 2³²: exactly m/8. 3 do not: 2³² = 3·1431655765 + 1, so segment 0
    /// gets one selector more than the others, 1431655766 / 2³².
    @Test func hitProbabilityFollowsTheSelector() {
        #expect(ClosedForms.dropperHitProbability(segments: 8, dropped: 2) == 0.25)
        #expect(ClosedForms.dropperHitProbability(segments: 8, dropped: 8) == 1)
        #expect(ClosedForms.dropperHitProbability(segments: 3, dropped: 1) == 1_431_655_766.0 / 4_294_967_296)
        #expect(ClosedForms.dropperHitProbability(segments: 3, dropped: 2) == 2_863_311_531.0 / 4_294_967_296)
    }

    /// (3/4)³ = 27/64; detection 12 h + 24 h·(3/4)/(1/4) = 84 h; by one interval only the
    /// first challenge can have come (probability q, at any offset), by half of one q/2.
    @Test func survivalAndDetectionByHand() {
        #expect(ClosedForms.dropperSurvival(challenges: 3, hit: 0.25) == 27.0 / 64)
        #expect(ClosedForms.dropperDetectionHours(intervalHours: 24, hit: 0.25) == 84)
        #expect(abs(ClosedForms.dropperDetectedBy(hours: 24, intervalHours: 24, hit: 0.25) - 0.25) < 1e-15)
        #expect(abs(ClosedForms.dropperDetectedBy(hours: 12, intervalHours: 24, hit: 0.25) - 0.125) < 1e-15)
        // By two intervals: q + (1 − q)q.
        #expect(abs(ClosedForms.dropperDetectedBy(hours: 48, intervalHours: 24, hit: 0.25) - (0.25 + 0.75 * 0.25)) < 1e-15)
        #expect(abs(ClosedForms.dropperDetectedBy(hours: 24 * 200, intervalHours: 24, hit: 0.25) - 1) < 1e-12)
    }

    /// Scenarios/validation/dropper-survival.json on 100 nodes for 5 days (every shard gets
    /// its third challenge within 3 days).
    static func shortSurvival() throws -> Scenario {
        var s = try Scenario.load(path: Package.path("Scenarios/validation/dropper-survival.json"))
        s.nodes = 100
        s.durationDays = 5
        return s
    }

    @Test func survivalMatchesTheGeometricLaw() throws {
        let outcome = try Validation.run(Self.shortSurvival(), seed: 11)
        #expect(outcome.samples > 150)
        #expect(outcome.passed, "simulated \(outcome.simulated), expected \(outcome.expected) ± \(outcome.tolerance)")
    }

    /// The f = 1/4 run against the closed form for f = 1/2: (1/2)³ = 0.125 instead of 0.42.
    @Test func aWrongDropFractionFails() throws {
        let s = try Self.shortSurvival()
        var wrong = s
        wrong.dropFraction = 0.5
        let outcome = try Validation.run(s, seed: 11, expectation: wrong)
        #expect(!outcome.passed, "simulated \(outcome.simulated) passed against \(outcome.expected) ± \(outcome.tolerance)")
    }

    @Test func keysRefuseBadValues() {
        let base = smallScenarioOpening
        expectRefused([
            (base + #""adversaries": {"droppers": 0.2, "drop_fraction": 0.3}}"#, "$.adversaries.drop_fraction"),
            (base + #""adversaries": {"droppers": 0.2, "drop_fraction": 0}}"#, "$.adversaries.drop_fraction"),
            (base + #""validate": {"model": "dropper_survival"}}"#, "$.validate.challenges"),
            (base + #""validate": {"model": "pack_availability", "challenges": 3}}"#, "$.validate.challenges"),
        ])
    }

    /// A dropper model needs droppers that keep something, always online.
    @Test func modelsRefuseScenariosTheyDoNotDescribe() throws {
        var s = try Self.shortSurvival()
        s.dropFraction = 1
        #expect(throws: ValidationError.self) { try Validation.expected(s) }
        s.dropFraction = 0.25
        s.online = .exponential(mean: 4)
        #expect(throws: ValidationError.self) { try Validation.expected(s) }
    }
}
