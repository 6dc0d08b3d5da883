import CairnFuzz
import Foundation
import Testing

/// The short campaign `make test` runs: every fuzz target (every on-disk decoder and the
/// scenario parser) gets its seeds, its kept regression inputs (`Fuzz/regressions/TARGET/`)
/// and a few thousand seeded mutations. No input may trap (the test process would die)
/// and no accepted input may break its round trip. The long campaign is `cairn-fuzz run`
/// (docs/FUZZING.md); `CAIRN_FUZZ_RUNS=N` makes this one longer.
@Suite struct DecoderFuzzTests {
    static let runs = ProcessInfo.processInfo.environment["CAIRN_FUZZ_RUNS"].flatMap { Int($0) } ?? 4000
    static let regressions = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/regressions")

    static func kept(_ target: String) -> [(name: String, bytes: [UInt8])] {
        let folder = regressions.appendingPathComponent(target)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        return names.compactMap { n in FileManager.default.contents(atPath: folder.appendingPathComponent(n).path).map { (n, [UInt8]($0)) } }
    }

    @Test(arguments: FuzzTargets.all.map(\.name))
    func shortCampaignFindsNothing(_ name: String) throws {
        let target = try #require(FuzzTargets.named(name))
        let seeds = target.seeds()
        // Every seed is valid: the campaign starts from inputs the decoder accepts.
        for (i, s) in seeds.enumerated() { #expect(target.run(s) == .decoded, "seed \(i) of \(name) is not accepted") }
        for kept in Self.kept(name) {
            let verdict = target.run(kept.bytes)
            if case .violation(let m) = verdict { Issue.record("Fuzz/regressions/\(name)/\(kept.name): \(m)") }
        }
        var campaign = Campaign(target: target, seed: 1, inputs: Self.kept(name).map(\.bytes))
        campaign.runStartingInputs()
        for _ in 0..<Self.runs { campaign.step() }
        #expect(campaign.figures.runs == Self.runs + seeds.count + Self.kept(name).count)
        for v in campaign.figures.violations.prefix(3) {
            Issue.record("\(name): \(v.message) — input (hex) \(v.input.map { String(format: "%02x", $0) }.joined())")
        }
        // Mutations reach past the first checks: some mutated inputs decode (not for signed
        // or sealed inputs, whose mutations stop at the check).
        if !target.authenticated {
            #expect(campaign.figures.decoded > seeds.count, "\(name): only \(campaign.figures.decoded) inputs decoded")
        }
    }

    @Test func campaignsReplayForTheirSeed() throws {
        let target = try #require(FuzzTargets.named("tree"))
        var inputs: [[[UInt8]]] = [[], []]
        for k in 0..<2 {
            var campaign = Campaign(target: target, seed: 77)
            for _ in 0..<200 { campaign.step { inputs[k].append($0) } }
        }
        #expect(inputs[0] == inputs[1])
        var other = Campaign(target: target, seed: 78)
        var third: [[UInt8]] = []
        for _ in 0..<200 { other.step { third.append($0) } }
        #expect(third != inputs[0])
    }

    /// Every kept regression input names a target that exists (a renamed target would
    /// silently stop replaying its inputs).
    @Test func everyKeptInputBelongsToATarget() throws {
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: Self.regressions.path)) ?? []
        #expect(!folders.isEmpty, "no Fuzz/regressions folder at \(Self.regressions.path)")
        for folder in folders where !folder.hasPrefix(".") && !folder.hasSuffix(".md") {
            #expect(FuzzTargets.named(folder) != nil, "Fuzz/regressions/\(folder) names no fuzz target")
        }
    }
}
