import ArgumentParser

@main
struct Cairn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "A community backup network: your backups, spread as encrypted shards across other people's disks.",
        subcommands: [Simulate.self])
}
