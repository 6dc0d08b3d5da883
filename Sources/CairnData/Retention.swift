import Foundation

/// Which snapshots `cairn forget` keeps, with restic's semantics: each `keep-*` rule
/// walks the snapshots newest first and keeps the newest snapshot of each of its most
/// recent N calendar buckets (hours, days, ISO weeks, months, years in local time) that
/// hold a snapshot, and a rule that still has counts left when it reaches the group's
/// oldest snapshot keeps that one too ("oldest daily snapshot"), as restic does; `within`
/// keeps everything made less than a duration before the newest snapshot. A snapshot is
/// kept if any rule keeps it.
public struct RetentionPolicy: Sendable, Equatable {
    /// Count for a `keep-*` rule that keeps every bucket (restic's `unlimited`, or -1).
    public static let unlimited = -1

    public var last = 0
    public var hourly = 0
    public var daily = 0
    public var weekly = 0
    public var monthly = 0
    public var yearly = 0
    public var within: RetentionDuration?

    public init(last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0, yearly: Int = 0,
                within: RetentionDuration? = nil) {
        self.last = last
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.yearly = yearly
        self.within = within
    }

    /// No rule given: applying it would remove every snapshot, so callers refuse.
    public var isEmpty: Bool {
        [last, hourly, daily, weekly, monthly, yearly].allSatisfy { $0 == 0 } && within == nil
    }

    /// The rules in words, for the summary ("keep 2 last, 7 daily snapshots, within 1y").
    public var description: String {
        var parts: [String] = []
        for (n, name) in [(last, "last"), (hourly, "hourly"), (daily, "daily"), (weekly, "weekly"),
                          (monthly, "monthly"), (yearly, "yearly")] where n != 0 {
            parts.append(n == Self.unlimited ? "all \(name)" : "\(n) \(name)")
        }
        var s = parts.isEmpty ? "" : "keep " + parts.joined(separator: ", ") + " snapshots"
        if let within { s += (s.isEmpty ? "keep" : ",") + " all within \(within) of the newest" }
        return s
    }
}

/// A calendar span such as `2d`, `1y5m` or `3d12h` (restic's `--keep-within` syntax):
/// whole numbers followed by `y` (years), `m` (months), `d` (days) or `h` (hours).
public struct RetentionDuration: Sendable, Equatable, CustomStringConvertible {
    public var years = 0
    public var months = 0
    public var days = 0
    public var hours = 0

    public init(years: Int = 0, months: Int = 0, days: Int = 0, hours: Int = 0) {
        self.years = years
        self.months = months
        self.days = days
        self.hours = hours
    }

    public init(parsing text: String) throws(DataError) {
        let bad = DataError(.invalidArgument, "\"\(text)\" is not a duration: write numbers followed by y, m, d or h, like 2d, 12h or 1y5m")
        guard !text.isEmpty else { throw bad }
        var digits = ""
        var seen = Set<Character>()
        for c in text {
            if c.isASCII, c.isNumber {
                digits.append(c)
                continue
            }
            guard let n = Int(digits), n <= 100_000, !seen.contains(c) else { throw bad }
            seen.insert(c)
            switch c {
            case "y": years = n
            case "m": months = n
            case "d": days = n
            case "h": hours = n
            default: throw bad
            }
            digits = ""
        }
        guard digits.isEmpty else { throw bad }
    }

    public var description: String {
        let parts = [(years, "y"), (months, "m"), (days, "d"), (hours, "h")].filter { $0.0 != 0 }.map { "\($0.0)\($0.1)" }
        return parts.isEmpty ? "0h" : parts.joined()
    }

    /// The instant this span before `instant`, as restic reckons it (Go's `AddDate`, then
    /// `Add` of the hours): the years, months and days are taken off the year, month and
    /// day of `instant` on the calendar of `timeZone` all at once, and a day the month
    /// does not have rolls over into the next one, at the same wall-clock time. So a month
    /// before March 31 is "February 31", which is March 3 (March 2 in a leap year), a year
    /// before February 29 is March 1, and 1m1d before March 31 is "February 30". Then the
    /// hours are taken off as 3,600 s each. restic rolls over rather than stopping at the
    /// month's last day, and a `--keep-within` should keep what restic's keeps.
    func instant(before instant: Int64, timeZone: TimeZone) -> Int64 {
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
        let wall = instant + offset
        let (day, secondOfDay) = Self.floorDivision(wall, 86_400)
        let (year, month, dayOfMonth) = Self.civil(fromDays: day)
        // Months counted from March of year 0 would do as well; January-based and floored.
        let (carry, month0) = Self.floorDivision(Int64(month - 1) - Int64(months), 12)
        let shiftedYear = year - Int64(years) + carry
        let shiftedDay = Self.days(fromCivil: shiftedYear, month: Int(month0) + 1, day: 1) + Int64(dayOfMonth - 1) - Int64(days)
        let shiftedWall = shiftedDay * 86_400 + secondOfDay
        // Back from wall-clock time to an instant with the zone's offset there (Go's
        // `Date` does the same two-step look-up; in a clock change the hour may differ).
        let guess = shiftedWall - Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(shiftedWall))))
        let back = shiftedWall - Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(guess))))
        return back - Int64(hours) * 3600
    }

    private static func floorDivision(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        let q = a / b, r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    /// Days since 1970-01-01 of a date of the proleptic Gregorian calendar (any year).
    /// Years start in March here, so February's length only matters at a year's end.
    static func days(fromCivil year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivision(y, 400).quotient
        let yearOfEra = y - era * 400
        let m = Int64(month), d = Int64(day)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` after 1970-01-01 (the inverse of `days(fromCivil:)`).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDivision(z, 146_097).quotient
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), Int(month), Int(day))
    }
}

/// One snapshot as the policy sees it: its id and when it was made (Unix seconds).
public struct RetentionCandidate: Sendable, Equatable {
    public var id: String
    public var time: Int64

    public init(id: String, time: Int64) {
        self.id = id
        self.time = time
    }
}

/// What the policy decided for one snapshot, and every rule that kept it.
public struct RetentionDecision: Sendable, Equatable, Codable {
    public var id: String
    public var time: Int64
    public var keep: Bool
    /// "last snapshot", "daily snapshot", "within 2d", … (restic's wording); empty when removed.
    public var reasons: [String]
}

extension RetentionPolicy {
    /// Applies the policy to one group of snapshots. Returns a decision for each, newest
    /// first (equal times: the later in `snapshots` first, as snapshots are appended in
    /// the order they were made). Pure: the time zone that defines the calendar buckets is
    /// passed in, so the same input gives the same answer anywhere.
    ///
    /// `--keep-within` counts back from the group's newest snapshot that is not after
    /// `now` (restic's rule: a snapshot from a clock set years ahead must not make every
    /// other one "too old"); when every snapshot is after `now`, all of them are within.
    /// Without `now`, from the newest.
    public func apply(to snapshots: [RetentionCandidate], timeZone: TimeZone, now: Int64? = nil) -> [RetentionDecision] {
        let ordered = snapshots.enumerated().sorted { a, b in
            a.element.time != b.element.time ? a.element.time > b.element.time : a.offset > b.offset
        }.map(\.element)
        guard let newest = ordered.first else { return [] }

        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        // ISO 8601 weeks: they start on Monday, and week 1 holds the year's first Thursday.
        var weeks = calendar
        weeks.firstWeekday = 2
        weeks.minimumDaysInFirstWeek = 4

        struct Rule {
            var remaining: Int
            let reason: String
            let bucket: (Int, Date) -> Int
            var last: Int?
        }
        // A bucket is a number that differs between calendar hours (days, ...) of the zone.
        func key(_ c: DateComponents) -> Int {
            ((((c.yearForWeekOfYear ?? c.year ?? 0) * 100 + (c.weekOfYear ?? c.month ?? 0)) * 100 + (c.day ?? 0)) * 100) + (c.hour ?? 0)
        }
        var rules = [
            Rule(remaining: last, reason: "last snapshot", bucket: { i, _ in i }),
            Rule(remaining: hourly, reason: "hourly snapshot", bucket: { _, d in
                key(calendar.dateComponents([.year, .month, .day, .hour], from: d)) }),
            Rule(remaining: daily, reason: "daily snapshot", bucket: { _, d in
                key(calendar.dateComponents([.year, .month, .day], from: d)) }),
            Rule(remaining: weekly, reason: "weekly snapshot", bucket: { _, d in
                key(weeks.dateComponents([.yearForWeekOfYear, .weekOfYear], from: d)) }),
            Rule(remaining: monthly, reason: "monthly snapshot", bucket: { _, d in
                key(calendar.dateComponents([.year, .month], from: d)) }),
            Rule(remaining: yearly, reason: "yearly snapshot", bucket: { _, d in
                key(calendar.dateComponents([.year], from: d)) }),
        ]
        let latest = now.map { now in ordered.first { $0.time < now }?.time } ?? newest.time
        let cutoff = within.map { within in latest.map { within.instant(before: $0, timeZone: timeZone) } ?? Int64.min }

        var decisions: [RetentionDecision] = []
        decisions.reserveCapacity(ordered.count)
        for (i, s) in ordered.enumerated() {
            var reasons: [String] = []
            if let cutoff, let within, s.time > cutoff { reasons.append("within \(within)") }
            let date = Date(timeIntervalSince1970: TimeInterval(s.time))
            for r in rules.indices where rules[r].remaining > 0 || rules[r].remaining == Self.unlimited {
                let b = rules[r].bucket(i, date)
                // A rule with counts left also keeps the group's oldest snapshot, even in a
                // bucket it already kept one of (restic: the longest history it can).
                let oldest = i == ordered.count - 1
                guard b != rules[r].last || oldest else { continue }
                let again = b == rules[r].last
                rules[r].last = b
                if rules[r].remaining > 0 { rules[r].remaining -= 1 }
                reasons.append(again ? "oldest " + rules[r].reason : rules[r].reason)
            }
            decisions.append(RetentionDecision(id: s.id, time: s.time, keep: !reasons.isEmpty, reasons: reasons))
        }
        return decisions
    }
}
