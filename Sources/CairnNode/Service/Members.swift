import CairnCore
import CairnCrypto
import Foundation

/// The coordinator's member table beside its core's directory: which owner key has which
/// node number (the same number every time the owner comes back, from any machine), its
/// current node key, and where it can be reached. Kept as JSON in the service state.
struct Member: Codable, Hashable, Sendable {
    var node: UInt32
    /// Owner identity (hex).
    var owner: String
    /// The node key of its latest session (hex).
    var nodeKey: String
    /// Where others reach it; empty host: only through the relay.
    var host: String = ""
    var port: UInt16 = 0
    /// How its operator wants to be told it is needed (`cairn node run --notify`).
    var contact: String?
}

struct MemberTable: Codable, Sendable {
    private(set) var members: [Member] = []

    func member(owner: String) -> Member? { members.first { $0.owner == owner } }
    func member(node: NodeID) -> Member? { members.first { $0.node == node.raw } }

    mutating func remove(node: NodeID) { members.removeAll { $0.node == node.raw } }

    mutating func upsert(_ member: Member) {
        if let i = members.firstIndex(where: { $0.node == member.node }) { members[i] = member } else { members.append(member) }
    }

    static func decode(_ bytes: [UInt8]?) throws(NodeError) -> MemberTable {
        guard let bytes else { return MemberTable() }
        do { return try JSONDecoder().decode(MemberTable.self, from: Data(bytes)) } catch {
            throw NodeError(.dataDirectory, "the coordinator's member table is damaged", cause: error)
        }
    }

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? [UInt8](encoder.encode(self))) ?? []
    }
}
