import CairnData
import Foundation
import Testing

/// The retention policy as a pure function, with fixed time zones so calendar buckets
/// are the same on every machine.
@Suite struct RetentionPolicyTests {
    static let utc = TimeZone(identifier: "UTC")!
    static let plus2 = TimeZone(secondsFromGMT: 2 * 3600)!
    static let minus5 = TimeZone(secondsFromGMT: -5 * 3600)!

    /// Unix seconds of a UTC wall-clock time.
    static func t(_ y: Int, _ mo: Int, _ d: Int, _ h: Int = 12, _ mi: Int = 0) -> Int64 {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = utc
        let date = c.date(from: DateComponents(year: y, month: mo, day: d, hour: h, minute: mi))!
        return Int64(date.timeIntervalSince1970)
    }

    static func snaps(_ times: [Int64]) -> [RetentionCandidate] {
        times.enumerated().map { RetentionCandidate(id: "s\($0.offset)", time: $0.element) }
    }

    static func kept(_ p: RetentionPolicy, _ s: [RetentionCandidate], _ tz: TimeZone = utc) -> [String] {
        p.apply(to: s, timeZone: tz).filter(\.keep).map(\.id)
    }

    @Test func keepLastKeepsTheNewestWhateverTheInputOrder() {
        let s = [RetentionCandidate(id: "b", time: 200), RetentionCandidate(id: "d", time: 400),
                 RetentionCandidate(id: "a", time: 100), RetentionCandidate(id: "c", time: 300)]
        let d = RetentionPolicy(last: 2).apply(to: s, timeZone: Self.utc)
        #expect(d.map(\.id) == ["d", "c", "b", "a"])
        #expect(d.map(\.keep) == [true, true, false, false])
        #expect(d[0].reasons == ["last snapshot"])
        #expect(d[2].reasons.isEmpty)
    }

    @Test func equalTimesPutTheLaterAppendedFirst() {
        let s = [RetentionCandidate(id: "first", time: 50), RetentionCandidate(id: "second", time: 50)]
        #expect(Self.kept(RetentionPolicy(last: 1), s) == ["second"])
    }

    @Test func dailyBucketsFollowTheTimeZone() {
        // 23:30 and 00:30 UTC: two days in UTC, one day in UTC+2 and in UTC-5.
        let s = Self.snaps([Self.t(2026, 2, 27, 12), Self.t(2026, 3, 1, 23, 30), Self.t(2026, 3, 2, 0, 30)])
        #expect(Self.kept(RetentionPolicy(daily: 2), s, Self.utc) == ["s2", "s1"])
        #expect(Self.kept(RetentionPolicy(daily: 2), s, Self.plus2) == ["s2", "s0"])
        #expect(Self.kept(RetentionPolicy(daily: 2), s, Self.minus5) == ["s2", "s0"])
    }

    @Test func countsSkipBucketsWithoutSnapshots() {
        // Days 1, 5, 9 and 10 (twice): the last three days that have snapshots are 10, 9, 5.
        let s = Self.snaps([Self.t(2026, 5, 1), Self.t(2026, 5, 5), Self.t(2026, 5, 9), Self.t(2026, 5, 10, 8),
                            Self.t(2026, 5, 10, 20)])
        let d = RetentionPolicy(daily: 3).apply(to: s, timeZone: Self.utc)
        #expect(d.filter(\.keep).map(\.id) == ["s4", "s2", "s1"])
        #expect(d.first { $0.id == "s3" }?.keep == false)
    }

    /// restic's `ApplyPolicy`: a bucket rule with counts left when it reaches the oldest
    /// snapshot keeps it as well, even in a bucket it already kept one of.
    @Test func aRuleWithCountsLeftKeepsTheOldestToo() {
        // One day, three snapshots: daily 7 keeps the newest and, with 6 counts left, the oldest.
        let day = Self.snaps([Self.t(2026, 5, 1, 8), Self.t(2026, 5, 1, 12), Self.t(2026, 5, 1, 20)])
        let d = RetentionPolicy(daily: 7).apply(to: day, timeZone: Self.utc)
        #expect(d.map(\.keep) == [true, false, true])
        #expect(d.last?.reasons == ["oldest daily snapshot"])
        #expect(Self.kept(RetentionPolicy(daily: RetentionPolicy.unlimited), day) == ["s2", "s0"])
        // No counts left at the oldest: not kept.
        let two = Self.snaps([Self.t(2026, 5, 1, 8), Self.t(2026, 5, 1, 12), Self.t(2026, 5, 2)])
        #expect(Self.kept(RetentionPolicy(daily: 2), two) == ["s2", "s1"])
        #expect(Self.kept(RetentionPolicy(daily: 3), two) == ["s2", "s1", "s0"])
        // The oldest in a bucket of its own is simply that bucket's snapshot.
        let reasons = RetentionPolicy(monthly: 3).apply(to: two, timeZone: Self.utc).map(\.reasons)
        #expect(reasons == [["monthly snapshot"], [], ["oldest monthly snapshot"]])
        // keep-last counts snapshots, not buckets: nothing to add.
        #expect(Self.kept(RetentionPolicy(last: 5), two) == ["s2", "s1", "s0"])
        #expect(RetentionPolicy(last: 5).apply(to: two, timeZone: Self.utc).last?.reasons == ["last snapshot"])
    }

    @Test func weeksAreISOWeeks() {
        // Sunday 2026-01-04 ends ISO week 2026-W01 (Monday 2025-12-29 starts it);
        // Monday 2026-01-05 starts W02.
        let s = Self.snaps([Self.t(2025, 12, 22), Self.t(2025, 12, 29), Self.t(2026, 1, 4), Self.t(2026, 1, 5)])
        #expect(Self.kept(RetentionPolicy(weekly: 1), s) == ["s3"])
        #expect(Self.kept(RetentionPolicy(weekly: 2), s) == ["s3", "s2"])
        #expect(Self.kept(RetentionPolicy(weekly: 3), s) == ["s3", "s2", "s0"])
        // In UTC-5, Monday 05:00 UTC is still Sunday: both fall in W01.
        let edge = Self.snaps([Self.t(2026, 1, 3), Self.t(2026, 1, 5, 3)])
        #expect(Self.kept(RetentionPolicy(weekly: 2), edge, Self.utc) == ["s1", "s0"])
        #expect(Self.kept(RetentionPolicy(weekly: 1), edge, Self.minus5) == ["s1"])
        // (with a count left, weekly 2 keeps the oldest of that one week too).
        #expect(Self.kept(RetentionPolicy(weekly: 2), edge, Self.minus5) == ["s1", "s0"])
        #expect(RetentionPolicy(weekly: 2).apply(to: edge, timeZone: Self.minus5).last?.reasons == ["oldest weekly snapshot"])
    }

    @Test func hourlyMonthlyYearlyAndEveryReason() {
        let s = Self.snaps([Self.t(2024, 6, 1), Self.t(2025, 11, 30), Self.t(2025, 12, 31, 9), Self.t(2025, 12, 31, 9, 40),
                            Self.t(2025, 12, 31, 10)])
        let d = RetentionPolicy(last: 1, hourly: 2, monthly: 2, yearly: 5).apply(to: s, timeZone: Self.utc)
        let reasons = Dictionary(uniqueKeysWithValues: d.map { ($0.id, $0.reasons) })
        #expect(reasons["s4"] == ["last snapshot", "hourly snapshot", "monthly snapshot", "yearly snapshot"])
        #expect(reasons["s3"] == ["hourly snapshot"])
        #expect(reasons["s2"] == [])
        #expect(reasons["s1"] == ["monthly snapshot"])
        #expect(reasons["s0"] == ["yearly snapshot"])
    }

    @Test func unlimitedKeepsEveryBucket() {
        let s = Self.snaps((1...9).map { Self.t(2026, 4, $0) } + [Self.t(2026, 4, 9, 18)])
        let k = Self.kept(RetentionPolicy(daily: RetentionPolicy.unlimited), s)
        #expect(k.count == 9)
        #expect(!k.contains("s8"))
    }

    @Test func withinIsRelativeToTheNewestSnapshot() throws {
        let newest = Self.t(2020, 1, 10)
        // Years ago: the clock of the policy is the newest snapshot, not now.
        let s = Self.snaps([newest - 49 * 3600, newest - 48 * 3600, newest - 47 * 3600, newest])
        let d = RetentionPolicy(within: try RetentionDuration(parsing: "2d")).apply(to: s, timeZone: Self.utc)
        #expect(d.filter(\.keep).map(\.id) == ["s3", "s2"])
        #expect(d[0].reasons == ["within 2d"])
        // Months on the calendar, rolled over as restic does: a month before March 31 is
        // "February 31", March 3 (2026 is no leap year), so February 28 is not within 1m.
        let m = Self.snaps([Self.t(2026, 2, 28, 13), Self.t(2026, 3, 3, 12), Self.t(2026, 3, 3, 13), Self.t(2026, 3, 31, 12)])
        #expect(Self.kept(RetentionPolicy(within: RetentionDuration(months: 1)), m) == ["s3", "s2"])
        let mixed = try RetentionDuration(parsing: "1y5m3d12h")
        #expect(mixed == RetentionDuration(years: 1, months: 5, days: 3, hours: 12))
        #expect(mixed.description == "1y5m3d12h")
        let h = Self.snaps([Self.t(2026, 1, 1, 0), Self.t(2026, 1, 1, 11), Self.t(2026, 1, 1, 12)])
        #expect(Self.kept(RetentionPolicy(within: try RetentionDuration(parsing: "12h")), h) == ["s2", "s1"])
    }

    /// `--keep-within` cut-offs where the calendar matters, each as restic computes it (Go's
    /// `AddDate`, which rolls a day the month lacks over into the next month, then the
    /// hours): (newest, span, zone) → the first instant that is no longer within.
    static let withinCutoffs: [(newest: Int64, span: String, zone: TimeZone, cutoff: Int64)] = [
        (t(2026, 3, 31), "1m", utc, t(2026, 3, 3)),          // "February 31", no leap year
        (t(2024, 3, 31), "1m", utc, t(2024, 3, 2)),          // leap year
        (t(2026, 3, 30), "1m", utc, t(2026, 3, 2)),
        (t(2026, 3, 28), "1m", utc, t(2026, 2, 28)),         // no roll-over
        (t(2026, 5, 31), "1m", utc, t(2026, 5, 1)),          // "April 31"
        (t(2026, 3, 31), "1m1d", utc, t(2026, 3, 2)),        // "February 30": at once, not month then day
        (t(2026, 1, 31), "2m", utc, t(2025, 12, 1)),         // "November 31" of the year before
        (t(2026, 1, 15), "13m", utc, t(2024, 12, 15)),
        (t(2024, 2, 29), "1y", utc, t(2023, 3, 1)),          // "February 29, 2023"
        (t(2028, 2, 29), "4y", utc, t(2024, 2, 29)),
        (t(2026, 3, 1), "1d", utc, t(2026, 2, 28)),
        (t(2026, 3, 31), "1m12h", utc, t(2026, 3, 3, 0)),    // hours after the calendar part
        (t(2026, 3, 31), "36h", utc, t(2026, 3, 30, 0)),
        // The zone's calendar: 01:00 on March 1 at +02 is 23:00 UTC on February 28, and a
        // month before is 01:00 on February 1 there (January 31, 23:00 UTC).
        (t(2026, 2, 28, 23), "1m", plus2, t(2026, 1, 31, 23)),
        (t(2026, 2, 28, 23), "1m", utc, t(2026, 1, 28, 23)),
        // 20:00 on March 31 at -05 is 01:00 UTC on April 1: "February 31" there.
        (t(2026, 4, 1, 1), "1m", minus5, t(2026, 3, 4, 1)),
    ]

    @Test(arguments: withinCutoffs.indices)
    func withinRollsOverLikeRestic(_ i: Int) throws {
        let c = Self.withinCutoffs[i]
        let s = [RetentionCandidate(id: "at", time: c.cutoff), RetentionCandidate(id: "after", time: c.cutoff + 1),
                 RetentionCandidate(id: "newest", time: c.newest)]
        let p = RetentionPolicy(within: try RetentionDuration(parsing: c.span))
        // Strictly after the cut-off is within, as restic's `After`.
        #expect(Self.kept(p, s, c.zone) == ["newest", "after"], "\(c.span) before \(c.newest)")
    }

    @Test func withinCountsFromTheNewestSnapshotNotInTheFuture() throws {
        let base = Self.t(2026, 6, 1)
        let future = Self.t(2036, 6, 1)
        let s = Self.snaps([base, base + 86_400, future])
        let p = RetentionPolicy(within: try RetentionDuration(parsing: "1d"))
        let now = base + 86_400 + 3600
        // From s1 (the newest before now): s0 is exactly a day older, so not within; the
        // future snapshot is after the cut-off, so it is.
        #expect(p.apply(to: s, timeZone: Self.utc, now: now).filter(\.keep).map(\.id) == ["s2", "s1"])
        // Without a clock, from the newest: only that one.
        #expect(Self.kept(p, s) == ["s2"])
        // Every snapshot in the future: nothing to count from, all are kept.
        #expect(p.apply(to: s, timeZone: Self.utc, now: base - 1).allSatisfy { $0.keep })
    }

    @Test func rulesCombineAndAnyRuleKeeps() throws {
        let base = Self.t(2026, 6, 30)
        let s = Self.snaps((0..<40).map { base - Int64(39 - $0) * 86_400 })
        let p = RetentionPolicy(last: 2, weekly: 2, within: try RetentionDuration(parsing: "4d"))
        let d = p.apply(to: s, timeZone: Self.utc)
        let k = d.filter(\.keep).map(\.id)
        // within 4d: the 4 newest (strictly after the cutoff); weekly 2: newest of this and last week.
        #expect(k.prefix(4) == ["s39", "s38", "s37", "s36"])
        #expect(d.first { $0.id == "s39" }?.reasons == ["within 4d", "last snapshot", "weekly snapshot"])
        // 2026-06-30 is a Tuesday: the previous ISO week's newest is Sunday 2026-06-28 (s37).
        #expect(d.first { $0.id == "s37" }?.reasons == ["within 4d", "weekly snapshot"])
        #expect(k.count == 4)
    }

    @Test(arguments: ["", "5", "d", "1x", "1d1d", "-1d", "1.5d", "2d ", "99999999999y"])
    func badDurationsAreRefused(_ text: String) {
        #expect { try RetentionDuration(parsing: text) } throws: { ($0 as? DataError)?.code == .invalidArgument }
    }

    @Test func emptyPolicyIsEmpty() throws {
        #expect(RetentionPolicy().isEmpty)
        #expect(!RetentionPolicy(yearly: 1).isEmpty)
        #expect(!RetentionPolicy(within: try RetentionDuration(parsing: "1h")).isEmpty)
        #expect(RetentionPolicy().apply(to: [], timeZone: Self.utc).isEmpty)
    }
}
