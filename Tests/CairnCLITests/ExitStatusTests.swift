import Foundation
import CairnTestSupport
import Testing

@Suite struct ExitStatusTests {
    /// `cairn help` lists every exit status a command can end with.
    @Test func helpListsTheExitStatuses() throws {
        let help = try CLI.run(["help"])
        #expect(help.status == 0, "\(help.stderr)")
        let text = help.stdout + help.stderr
        #expect(text.contains("EXIT STATUS"), "\(text)")
        for line in ["0    success", "1    error", "2    simulate", "3    backup", "64   bad arguments"] {
            #expect(text.contains(line), "\(line) missing from:\n\(text)")
        }
        for command in ["ls", "find", "diff", "forget", "prune"] {
            #expect(text.contains("  \(command) "), "\(command) missing from:\n\(text)")
        }
    }

    @Test func usageErrorsExit64AndDataErrors1() throws {
        let s = try TemporaryFolder("cli")
        let usage = try CLI.run(["prune", "--max-unused", "often"])
        #expect(usage.status == 64)
        let noRepository = try CLI.run(["ls", "latest", "--data-dir", s.sub("none")])
        #expect(noRepository.status == 1)
        #expect(noRepository.stderr.hasPrefix("error: "), "\(noRepository.stderr)")
    }

    /// A coordinator's blind-repair delay outside 1 hour … 90 days is a usage error that
    /// says the range, before anything is created.
    @Test func aBlindRepairDelayOutOfRangeIsRefused() throws {
        let s = try TemporaryFolder("cli-blind-after")
        for hours in ["0", "2161", "-3"] {
            let r = try CLI.run(["coordinator", "run", "--listen", "127.0.0.1:0", "--data-dir", s.sub("c"), "--blind-repair-after=\(hours)"])
            #expect(r.status == 64, "\(hours): \(r.stderr)")
            #expect(r.stderr.contains("--blind-repair-after takes a number of hours from 1 to 2160"), "\(hours): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: s.sub("c")))
    }
}
