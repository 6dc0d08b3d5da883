import ArgumentParser

/// `cairn debug …`: tools for looking inside Cairn's data path by hand.
struct Debug: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect Cairn's data path by hand.",
        subcommands: [DebugChunk.self, DebugStages.self])
}
