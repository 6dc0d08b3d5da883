import CairnCore
import CairnData
import CairnNode
import CairnNet
import Foundation
import Testing

/// The defaults in the code follow docs/research/shard-count.md (issue 12): the note ends
/// with a machine-readable table between `<!-- defaults -->` and `<!-- /defaults -->`, and
/// every value in it is checked here against each place the code sets it — `NodeParams`'
/// initializer and repair-trigger rule, the node service's settings (what `cairn node run`
/// starts with), the coordinator service's parameters (what `cairn coordinator run` starts
/// with), and `cairn backup`'s k for n targets. Changing a default in
/// either place alone fails this test, so the note and the code cannot drift apart.
struct ResearchDefaultsTests {
    static let docPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/research/shard-count.md").standardizedFileURL.path

    /// The table's rows, parameter name to value text.
    static func documented() throws -> [String: String] {
        let text = try String(contentsOfFile: docPath, encoding: .utf8)
        guard let start = text.range(of: "<!-- defaults -->"), let end = text.range(of: "<!-- /defaults -->"),
              start.upperBound < end.lowerBound
        else {
            Issue.record("\(docPath): no <!-- defaults --> … <!-- /defaults --> table")
            return [:]
        }
        var rows = [String: String]()
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 2, cells[0] != "parameter", !cells[0].hasPrefix("---") else { continue }
            #expect(rows[cells[0]] == nil, "\(cells[0]) is in the defaults table twice")
            rows[cells[0]] = cells[1]
        }
        return rows
    }

    static func value(_ rows: [String: String], _ name: String) -> Double? {
        guard let text = rows[name] else {
            Issue.record("\(docPath): the defaults table has no row \"\(name)\"")
            return nil
        }
        guard let v = Double(text) else {
            Issue.record("\(docPath): \"\(name)\" is \"\(text)\", not a number")
            return nil
        }
        return v
    }

    @Test func theTableListsExactlyTheParametersChecked() throws {
        let rows = try Self.documented()
        #expect(Set(rows.keys) == ["k", "n", "repair trigger", "challenge interval hours", "uptime threshold",
                                   "uptime window hours", "grace days", "reciprocity ratio", "small network k",
                                   "small network n", "small network repair trigger", "small network uptime threshold"])
    }

    @Test func theCodeFollowsTheDocumentedDefaults() throws {
        let rows = try Self.documented()
        guard let k = Self.value(rows, "k"), let n = Self.value(rows, "n"), let trigger = Self.value(rows, "repair trigger"),
              let challenge = Self.value(rows, "challenge interval hours"), let uptime = Self.value(rows, "uptime threshold"),
              let window = Self.value(rows, "uptime window hours"), let grace = Self.value(rows, "grace days"),
              let ratio = Self.value(rows, "reciprocity ratio")
        else { return }

        // What `cairn node run` starts with (a config file's k and n override the code, and
        // then take the trigger and threshold of the rules below).
        let settings = NodeService.Settings(dataDirectory: "/nonexistent",
                                            coordinator: try Endpoint(parsing: "127.0.0.1:1", allowAnyPort: true),
                                            offer: 1 << 30, listen: nil)
        for (name, node) in [("NodeService.Settings.params", settings.params), ("NodeParams.homeNetwork", NodeParams.homeNetwork)] {
            #expect(Double(node.k) == k, "\(name).k")
            #expect(Double(node.n) == n, "\(name).n")
            #expect(Double(node.repairTrigger) == trigger, "\(name).repairTrigger")
            #expect(Double(node.uptimeThresholdPermille) / 1000 == uptime, "\(name).uptimeThresholdPermille")
            #expect(node.challengeInterval.hours == challenge, "\(name).challengeInterval")
            #expect(node.grace.hours == grace * 24, "\(name).grace")
        }
        #expect(settings.reciprocityRatio == ratio, "NodeService.Settings.reciprocityRatio")
        #expect(Double(NodeParams.defaultRepairTrigger(k: Int(k), n: Int(n))) == trigger, "NodeParams.defaultRepairTrigger")
        #expect(Double(NodeParams.defaultUptimeThresholdPermille(k: Int(k), n: Int(n))) / 1000 == uptime,
                "NodeParams.defaultUptimeThresholdPermille")

        // The coordinator measures uptime, offers holders and orders blind repairs with the
        // same numbers.
        let coordinator = CoordinatorService.Settings(listen: try Endpoint(parsing: "127.0.0.1:1", allowAnyPort: true),
                                                      dataDirectory: "/nonexistent").params
        #expect((coordinator.uptimeSlot * Int64(coordinator.uptimeSlots)).hours == window, "CoordinatorService.Settings uptime window")
        #expect(Double(coordinator.uptimeThresholdPermille) / 1000 == uptime, "CoordinatorService.Settings uptimeThresholdPermille")
        #expect(Double(coordinator.n) == n && Double(coordinator.repairTrigger) == trigger,
                "CoordinatorService.Settings: blind repairs as far below n as the nodes repair")

        // `cairn backup --to` with n targets and no --k.
        #expect(Double(Repository.defaultK(n: Int(n))) == k, "Repository.defaultK(n:)")
    }

    /// A network too small for the default code runs a narrower one (config `k`, `n`),
    /// which gets its own trigger and threshold; `NodeParams`' initializer defaults to the
    /// narrow code's threshold.
    @Test func aSmallNetworkFollowsTheDocumentedNarrowCode() throws {
        let rows = try Self.documented()
        guard let k = Self.value(rows, "small network k"), let n = Self.value(rows, "small network n"),
              let trigger = Self.value(rows, "small network repair trigger"),
              let uptime = Self.value(rows, "small network uptime threshold")
        else { return }
        #expect(Double(NodeParams.defaultRepairTrigger(k: Int(k), n: Int(n))) == trigger, "NodeParams.defaultRepairTrigger")
        #expect(Double(NodeParams.defaultUptimeThresholdPermille(k: Int(k), n: Int(n))) / 1000 == uptime,
                "NodeParams.defaultUptimeThresholdPermille")
        #expect(Double(NodeParams(k: Int(k), n: Int(n)).uptimeThresholdPermille) / 1000 == uptime, "NodeParams(k:n:)")
        #expect(Double(Repository.defaultK(n: Int(n))) == k, "Repository.defaultK(n:)")
    }
}
