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
}
