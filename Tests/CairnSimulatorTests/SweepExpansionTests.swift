import CairnSimulator
import Testing

/// Sweep files: the cells are the cartesian product of the entries (first slowest), tuples
/// set several members at once, ranges include their end, and every invalid combination is
/// an error naming the cell, the scenario's JSON path and the sweep entry behind it.
@Suite struct SweepExpansionTests {
    static let base = #""name": "t", "nodes": 30, "duration_days": 2"#

    static func plan(_ sweep: String, extra: String = "") throws -> SweepPlan {
        try SweepPlan(json: JSONValue.parse("{\(base)\(extra), \"sweep\": \(sweep)}"))
    }

    static func error(_ sweep: String, extra: String = "") -> SweepError? {
        do {
            _ = try plan(sweep, extra: extra)
            return nil
        } catch let e as SweepError {
            return e
        } catch {
            Issue.record("not a sweep error: \(error)")
            return nil
        }
    }

    @Test func cellsAreTheCartesianProductFirstEntrySlowest() throws {
        let intervals = [6.0, 12, 24]
        let codes = [(2, 4), (3, 6)]
        let rates = [0.001, 0.002, 0.003, 0.004]
        let p = try Self.plan(#"""
            {"protocol.challenge_interval_hours": [6, 12, 24], "code": [[2, 4], [3, 6]],
             "churn.departures_per_day": {"from": 0.001, "to": 0.004, "step": 0.001}, "seeds": 3}
            """#)
        #expect(p.cells.count == 3 * 2 * 4)
        #expect(p.seeds == 3 && p.runCount == 72)
        #expect(p.columns == ["protocol.challenge_interval_hours", "protocol.k", "protocol.n", "churn.departures_per_day"])
        var index = 0
        for interval in intervals {
            for (k, n) in codes {
                for rate in rates {
                    let s = p.cells[index].scenario
                    #expect(p.cells[index].index == index)
                    #expect(s.challengeIntervalHours == interval && s.k == k && s.n == n && s.departuresPerDay == rate,
                            "cell \(index): \(p.describe(p.cells[index]))")
                    // Everything not swept is the base's.
                    #expect(s.nodes == 30 && s.durationDays == 2 && s.graceDays == 7)
                    index += 1
                }
            }
        }
        #expect(p.run(7) == (cell: 2, replicate: 1))
        #expect(SweepPlan.seed(base: 10, replicate: 2) == 12)
        #expect(SweepPlan.seed(base: UInt64.max, replicate: 1) == 0)
    }

    @Test func tuplesSetSeveralMembersAndAnyValueCanBeSwept() throws {
        let p = try Self.plan(#"""
            {"churn.online_hours,churn.offline_hours": [[8, 2], [{"dist": "exponential", "mean": 16}, 4]]}
            """#)
        #expect(p.cells.count == 2)
        #expect(p.cells[0].scenario.online == .fixed(8) && p.cells[0].scenario.offline == .fixed(2))
        #expect(p.cells[1].scenario.online == .exponential(mean: 16) && p.cells[1].scenario.offline == .fixed(4))
        #expect(p.seeds == 1)
    }

    @Test func rangesIncludeTheirEndAndRoundToTwelveDigits() throws {
        func values(_ range: String) throws -> [Double] {
            try Self.plan("{\"protocol.uptime_threshold\": \(range)}").cells.map(\.scenario.uptimeThreshold)
        }
        #expect(try values(#"{"from": 0.1, "to": 0.3, "step": 0.1}"#) == [0.1, 0.2, 0.3])
        #expect(try values(#"{"from": 0.5, "to": 0.9, "step": 0.2}"#) == [0.5, 0.7, 0.9])
        #expect(try values(#"{"from": 0.5, "to": 0.8, "step": 0.2}"#) == [0.5, 0.7])
        #expect(try values(#"{"from": 0.85, "to": 0.85, "step": 1}"#) == [0.85])
    }

    @Test func anInvalidCellNamesItselfThePathAndTheSweepEntry() throws {
        let e = try #require(Self.error(#"{"protocol.grace_days": [1, 2], "code": [[3, 5], [5, 4]]}"#))
        #expect(e.path == "$.protocol.n")
        #expect(e.cell == "cell 1 of 4 (protocol.grace_days=1, protocol.k=5, protocol.n=4)", "\(e)")
        #expect(e.message.contains("must exceed k"), "\(e)")
        #expect(e.message.contains("set by $.sweep.code[1]"), "\(e)")
        #expect(e.message.contains("1 more of the 4 cells"), "\(e)")
        // A repair trigger valid for one code and not another.
        let t = try #require(Self.error(#"{"code": [[4, 8], [2, 4]]}"#, extra: #", "protocol": {"repair_trigger": 6}"#))
        #expect(t.path == "$.protocol.repair_trigger" && t.cell?.hasPrefix("cell 1 of 2") == true, "\(t)")
        // A member the scenario format does not have: the cell's parse names it, with a hint.
        let u = try #require(Self.error(#"{"k": [2, 3]}"#))
        #expect(u.path == "$.k" && u.message.contains("unknown key") && u.message.contains("set by $.sweep.k[0]")
                && u.message.contains("\"protocol.k\""), "\(u)")
    }

    @Test(arguments: [
        (#"{"code": [[2, 4], [3]]}"#, "$.sweep.code[1]", "2 values"),
        (#"{"protocol.k": []}"#, #"$.sweep["protocol.k"]"#, "empty"),
        (#"{"protocol.k": 3}"#, #"$.sweep["protocol.k"]"#, "a list of values or a range"),
        (#"{"seeds": 0, "protocol.k": [2]}"#, "$.sweep.seeds", "1...100000"),
        (#"{"seeds": 2.5, "protocol.k": [2]}"#, "$.sweep.seeds", "integer"),
        (#"{"protocol.k": [2], "code": [[2, 4]]}"#, "$.sweep.code", "already sets"),
        (#"{"protocol": [{"k": 2}], "protocol.k": [3]}"#, #"$.sweep["protocol.k"]"#, "already sets"),
        (#"{"protocol.k": {"from": 3, "to": 2, "step": 1}}"#, #"$.sweep["protocol.k"].to"#, "below from"),
        (#"{"protocol.k": {"from": 2, "to": 3, "step": 0}}"#, #"$.sweep["protocol.k"].step"#, "above 0"),
        (#"{"protocol.k": {"from": 2, "to": 3, "step": 1, "by": 1}}"#, #"$.sweep["protocol.k"].by"#, "unknown key"),
        (#"{"protocol.k": {"from": 2, "to": 3}}"#, #"$.sweep["protocol.k"]"#, "from, to and step"),
        (#"{"code": {"from": 2, "to": 3, "step": 1}}"#, "$.sweep.code", "a range sets one member"),
        (#"{"protocol..k": [2]}"#, #"$.sweep["protocol..k"]"#, "not a member path"),
        (#"{"Protocol.K": [2]}"#, #"$.sweep["Protocol.K"]"#, "not a member path"),
        (#"{"nodes.x": [2]}"#, #"$.sweep["nodes.x"]"#, "$.nodes is a number, not an object"),
        (#"{"name": ["a", "b"]}"#, "$.sweep.name", "cannot be swept"),
        (#"{}"#, "$.sweep", "no swept member"),
        (#"{"seeds": 3}"#, "$.sweep", "no swept member"),
        (#"[1, 2]"#, "$.sweep", "expected an object"),
    ])
    func badSweepsNameTheirPath(sweep: String, path: String, fragment: String) throws {
        let e = try #require(Self.error(sweep), "\(sweep) was accepted")
        #expect(e.path == path, "\(e)")
        #expect(e.message.contains(fragment), "\(e)")
        #expect(e.cell == nil, "\(e)")
    }

    @Test func tooManyCellsOrRunsAreRefusedBeforeExpanding() throws {
        let hundred = "[" + (1...100).map(String.init).joined(separator: ", ") + "]"
        let cells = try #require(Self.error(#"{"protocol.grace_days": \#(hundred), "protocol.warn_strikes": \#(hundred), "protocol.exclude_strikes": \#(hundred)}"#))
        #expect(cells.path == #"$.sweep["protocol.exclude_strikes"]"# && cells.message.contains("more than 100000 cells"), "\(cells)")
        let runs = try #require(Self.error(#"{"protocol.grace_days": \#(hundred), "protocol.warn_strikes": \#(hundred), "seeds": 101}"#))
        #expect(runs.path == "$.sweep.seeds" && runs.message.contains("1000000 runs"), "\(runs)")
    }

    /// A cell printed with `--expand` is a plain scenario file: it reads back as the same
    /// JSON and the same scenario, and is refused nothing.
    @Test func anExpandedCellReadsBackAsTheSameScenario() throws {
        let p = try Self.plan(#"{"code": [[2, 4], [3, 6]], "churn.online_hours": [{"dist": "weibull", "shape": 0.8, "scale": 30}]}"#,
                              extra: #", "churn": {"loss": 0.01, "departures_per_day": 1e-05}, "latency_ms": {"dist": "choice", "values": [10, 2.5]}"#)
        for cell in p.cells {
            #expect(try JSONValue.parse(cell.json.pretty) == cell.json)
            #expect(try JSONValue.parse(cell.json.compact) == cell.json)
            let again = try Scenario.parse(cell.json.pretty)
            #expect(Report.options(again) == Report.options(cell.scenario))
            #expect(!SweepPlan.isSweep(cell.json))
        }
        #expect(p.cells[1].scenario.k == 3 && p.cells[1].scenario.loss == 0.01 && p.cells[1].scenario.online == .weibull(shape: 0.8, scale: 30))
        #expect(p.name == "t" && p.cells[0].scenario.departuresPerDay == 1e-05)
    }

    @Test func theFingerprintCoversTheFileAndTheSeed() throws {
        let a = try Self.plan(#"{"code": [[2, 4], [3, 6]]}"#)
        let spaced = try SweepPlan(json: JSONValue.parse("{ \(Self.base),\n \"sweep\": {\"code\": [[2,4],[3,6]]} }"))
        let other = try Self.plan(#"{"code": [[2, 4], [3, 7]]}"#)
        #expect(a.fingerprintHex(baseSeed: 1) == spaced.fingerprintHex(baseSeed: 1))
        #expect(a.fingerprintHex(baseSeed: 1) != a.fingerprintHex(baseSeed: 2))
        #expect(a.fingerprintHex(baseSeed: 1) != other.fingerprintHex(baseSeed: 1))
        #expect(a.fingerprintHex(baseSeed: 1).count == 64)
    }

    @Test func slicesPartitionTheRuns() throws {
        let p = try Self.plan(#"{"code": [[2, 4], [3, 6], [4, 8]], "seeds": 3}"#)
        let slices = (0..<4).map { p.runs(slice: $0, of: 4) }
        #expect(slices.flatMap { $0 }.sorted() == Array(0..<9))
        #expect(slices[1] == [1, 5])
        #expect(p.runs(slice: 0, of: 20) == [0] && p.runs(slice: 12, of: 20).isEmpty)
    }

    @Test func csvRoundTripsQuotedFields() throws {
        let rows = [["a,b", "say \"hi\"", "", "plain"], ["{\"dist\":\"fixed\",\"value\":2}", "x\ny", "1", "2"]]
        let text = rows.map(CSV.line).joined()
        #expect(try CSV.parse(text, file: "t.csv") == rows)
        #expect(throws: SweepError.self) { try CSV.parse("a,b", file: "t.csv") }
        #expect(throws: SweepError.self) { try CSV.parse("\"a,b\n", file: "t.csv") }
        #expect(throws: SweepError.self) { try CSV.parse("a\"b\n", file: "t.csv") }
    }

    /// Wilson score intervals against values worked by hand (z = 1.96).
    @Test func wilsonIntervals() throws {
        let none = try #require(SweepSummary.wilson(0, of: 100))
        #expect(none.low == 0 && abs(none.high - 0.036994) < 1e-5)
        let half = try #require(SweepSummary.wilson(50, of: 100))
        #expect(abs(half.low - 0.403832) < 1e-5 && abs(half.high - 0.596168) < 1e-5)
        let all = try #require(SweepSummary.wilson(10, of: 10))
        #expect(abs(all.low - 0.722467) < 1e-5 && all.high == 1)
        #expect(SweepSummary.wilson(0, of: 0) == nil)
    }
}
