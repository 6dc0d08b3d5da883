import CairnTestSupport
import Foundation
import Testing

/// scripts/report.py's page must open from disk with no network. scripts/report_offline.py
/// checks that statically (standard library only) and, with Chromium, by loading the page
/// behind a proxy that records and refuses every request. These tests show each check
/// catches what it is for (pages with external references, a script that fetches), then
/// draw a real report from a tiny sweep and put it through both. Each needs something CI
/// may not have and says so when it is skipped: python3; Chromium (Debian's `chromium`);
/// matplotlib in .venv-report (`make venv`, from PyPI).
@Suite struct ReportPageTests {
    /// An executable on PATH.
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static let python = which("python3")
    static let chromium = which("chromium")
    /// The report's virtualenv python, if it can import matplotlib.
    static let venvPython: String? = {
        let venv = Package.path(".venv-report/bin/python")
        guard FileManager.default.isExecutableFile(atPath: venv),
              let r = try? ChildProcess.run(venv, ["-c", "import matplotlib"], timeout: 120), r.status == 0
        else { return nil }
        return venv
    }()

    static func run(_ binary: String, _ args: [String]) throws -> Package.Run { try Package.run(binary, args) }

    static func offline(_ page: String, chromium: Bool = false) throws -> Package.Run {
        let python = try #require(python)
        return try run(python, [Package.path("scripts/report_offline.py"), page] + (chromium ? ["--chromium", Self.chromium!] : []))
    }

    static let clean = """
        <!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title><style>p { color: #333 }</style></head>
        <body><p id="top">text</p><a href="#top">up</a><img alt="dot" src="data:image/svg+xml;base64,\
        \(Data(#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>"#.utf8).base64EncodedString())">
        </body></html>
        """

    @Test(.enabled(if: python != nil, "python3 is not on PATH: scripts/report_offline.py cannot run"))
    func staticCheckCatchesEveryKindOfExternalReference() throws {
        let folder = try TemporaryFolder("report-offline")
        defer { withExtendedLifetime(folder) {} }
        let svgWithLink = Data(#"<svg xmlns="http://www.w3.org/2000/svg"><image href="https://cdn.example.invalid/a.png"/></svg>"#.utf8)
            .base64EncodedString()
        let bad: [(String, String)] = [
            (#"<script src="https://cdn.example.invalid/plot.js"></script>"#, "https://cdn.example.invalid/plot.js"),
            (#"<link rel="stylesheet" href="//fonts.example.invalid/css">"#, "//fonts.example.invalid/css"),
            (#"<img src="http://example.invalid/x.png">"#, "http://example.invalid/x.png"),
            (#"<img srcset="data:image/png;base64,AA== 1x, https://example.invalid/2x.png 2x">"#, "https://example.invalid/2x.png"),
            (#"<style>@import "theme.css";</style>"#, "@import"),
            (#"<style>body { background: url('https://example.invalid/bg.png') }</style>"#, "url(https://example.invalid/bg.png)"),
            (#"<p style="background:url(http://example.invalid/p.png)">x</p>"#, "url(http://example.invalid/p.png)"),
            (#"<img src="chart.svg">"#, "chart.svg"),
            (#"<img src="data:image/svg+xml;base64,\#(svgWithLink)">"#, "https://cdn.example.invalid/a.png"),
            (#"<meta http-equiv="refresh" content="0; url=https://example.invalid/">"#, "https://example.invalid/"),
        ]
        for (i, (element, reference)) in bad.enumerated() {
            let page = folder.sub("bad\(i).html")
            try Self.clean.replacingOccurrences(of: "</body>", with: element + "</body>").write(toFile: page, atomically: true, encoding: .utf8)
            let r = try Self.offline(page)
            #expect(r.status == 1, "\(element): not caught\n\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("external reference") && r.stdout.contains(reference), "\(element): \(r.stdout)")
        }
        let page = folder.sub("clean.html")
        try Self.clean.write(toFile: page, atomically: true, encoding: .utf8)
        let r = try Self.offline(page)
        #expect(r.status == 0, "a page with only data: URIs and fragments was refused: \(r.stdout)\(r.stderr)")
    }

    @Test(.enabled(if: python != nil && chromium != nil,
                   "needs python3 and Chromium (Debian's chromium package: apt-get install chromium); CI need not have it"),
          .timeLimit(.minutes(3)))
    func chromiumCheckSeesARequestTheStaticCheckCannot() throws {
        let folder = try TemporaryFolder("report-chromium")
        defer { withExtendedLifetime(folder) {} }
        // No src or href anywhere: only loading the page shows the request.
        let fetching = folder.sub("fetch.html")
        try Self.clean.replacingOccurrences(of: "</body>", with: #"<script>fetch("https://api.example.invalid/ping")</script></body>"#)
            .write(toFile: fetching, atomically: true, encoding: .utf8)
        #expect(try Self.offline(fetching).status == 0, "the static check was expected to miss a fetch from a script")
        let loaded = try Self.offline(fetching, chromium: true)
        #expect(loaded.status == 1, "\(loaded.stdout)\(loaded.stderr)")
        #expect(loaded.stdout.contains("request made") && loaded.stdout.contains("api.example.invalid"), "\(loaded.stdout)\(loaded.stderr)")
        let page = folder.sub("clean.html")
        try Self.clean.write(toFile: page, atomically: true, encoding: .utf8)
        let quiet = try Self.offline(page, chromium: true)
        #expect(quiet.status == 0, "Chromium made requests for a page that has none (its own background traffic?): \(quiet.stdout)\(quiet.stderr)")
    }

    @Test(.enabled(if: venvPython != nil && python != nil,
                   "matplotlib is not installed in .venv-report (run `make venv`, which needs PyPI): report.py cannot draw"),
          .timeLimit(.minutes(5)))
    func aReportFromARealSweepIsSelfContainedAndLeavesOutWhatWasNotSwept() throws {
        let folder = try TemporaryFolder("report-page")
        defer { withExtendedLifetime(folder) {} }
        let cairn = try #require(Package.cairnBinary, "the cairn binary was not found; run `swift build --build-tests` first")
        let file = folder.sub("sweep.json")
        // Codes and a challenge interval swept, droppers present: four of the six charts.
        let sweep = SweepRunTests.sweep.replacingOccurrences(
            of: #""sweep": {"code": [[2, 4], [3, 6]], "seeds": 2}"#,
            with: #""sweep": {"code": [[2, 4], [3, 6]], "protocol.challenge_interval_hours": [2, 8], "seeds": 2}"#)
        #expect(sweep != SweepRunTests.sweep, "the base sweep changed: update this test's replacement")
        try sweep.write(toFile: file, atomically: true, encoding: .utf8)
        let ran = try Self.run(cairn, ["simulate", file, "--seed", "4", "--out", folder.sub("out"), "--timeseries", "--no-progress"])
        #expect(ran.status == 0, "\(ran.stderr)")
        let python = try #require(Self.venvPython)
        let drawn = try Self.run(python, [Package.path("scripts/report.py"), folder.sub("out"), "--out", folder.sub("report.html")])
        #expect(drawn.status == 0, "\(drawn.stdout)\(drawn.stderr)")
        let page = try String(contentsOfFile: folder.sub("report.html"), encoding: .utf8)
        for title in ["Durability vs storage overhead per (k, n)", "Repair bandwidth vs n", "Detection time vs challenge interval",
                      "Healthy shards over time"]
        {
            let drawn = page.contains("<img alt=\"\(title)")
            #expect(drawn, "no chart \(title)")
        }
        let figures = page.components(separatedBy: "<figure>").count - 1
        #expect(figures == 4)
        // The charts this sweep cannot have are notes, not charts.
        for note in ["Repair bandwidth vs repair trigger: left out — protocol.repair_trigger is not swept.",
                     "Pack availability vs uptime threshold: left out — protocol.uptime_threshold is not swept."]
        {
            let noted = page.contains("<p class=\"note\">\(note)</p>")
            #expect(noted, "no note \(note)")
        }
        // Every chart is an SVG inside the page.
        for chunk in page.components(separatedBy: "data:image/svg+xml;base64,").dropFirst() {
            let encoded = String(chunk.prefix { $0 != "\"" })
            let svg = Data(base64Encoded: encoded).map { String(decoding: $0, as: UTF8.self) } ?? ""
            #expect(svg.contains("<svg") && svg.contains("</svg>"), "an embedded chart is not an SVG")
        }
        // The summary table has a row per cell.
        let rows = page.components(separatedBy: "<tr>").count - 1
        #expect(rows == 1 + 4)
        let checked = try Self.offline(folder.sub("report.html"), chromium: Self.chromium != nil)
        #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
        // The same outputs draw the same page.
        let again = try Self.run(python, [Package.path("scripts/report.py"), folder.sub("out"), "--out", folder.sub("again.html")])
        #expect(again.status == 0)
        let same = try String(contentsOfFile: folder.sub("again.html"), encoding: .utf8) == page
        #expect(same, "report.py's page is not deterministic")
        // A directory that is neither a sweep's nor a run's output is refused, naming it.
        try FileManager.default.createDirectory(atPath: folder.sub("empty"), withIntermediateDirectories: true)
        let wrong = try Self.run(python, [Package.path("scripts/report.py"), folder.sub("empty"), "--out", folder.sub("x.html")])
        #expect(wrong.status == 2 && wrong.stderr.contains("neither a sweep's output"), "\(wrong.stderr)")
    }
}
