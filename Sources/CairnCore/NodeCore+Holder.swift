import CairnWire

/// Holder side of the node core: proposals, arriving shards, challenges, fetches and
/// releases of the contracts it holds for others.
extension NodeCore {
    mutating func onHolderMessage(from: NodeID, _ message: Message, now: Instant, into actions: inout [Action]) {
        switch message {
        case let .propose(terms, _, _, _) where !terms.start.within(params.maxClockSkew, of: now):
            // Both sides count the term from its start: a start this node's clock disagrees
            // with would end the contract at another time on each side.
            actions.append(.send(to: from, .reject(contract: terms.id, reason: ContractBook.Refusal.badTime.rawValue)))
        case let .propose(terms, ownerKey, ownerSignature, mandate):
            // The owner itself (the transport authenticates the sender), or a holder repairing
            // blind on its behalf under the coordinator's mandate for this very placement.
            if from != terms.owner, terms.holder == me,
               !(mandate?.permits(terms, proposer: from, proposerKey: ownerKey, holder: me, now: now,
                                  coordinatorKey: coordinatorKey, verifier: verifier) ?? false)
            {
                actions.append(.send(to: from, .reject(contract: terms.id, reason: ContractBook.Refusal.unauthorized.rawValue)))
                break
            }
            switch book.onPropose(terms, ownerKey: ownerKey, ownerSignature: ownerSignature, signer: signer,
                                  verifier: verifier, proposer: from)
            {
            case .success(let signature):
                actions.append(.send(to: from, .accept(contract: terms.id, holderSignature: signature)))
            case .failure(let refusal):
                actions.append(.send(to: from, .reject(contract: terms.id, reason: refusal.reason.rawValue)))
            }
        case let .storeShard(contract, shard, geometry, root):
            guard let c = book.held[contract], c.proposer == from || c.terms.owner == from,
                  c.terms.bytes == geometry.shardBytes, book.onStore(contract, shard: shard)
            else { break }
            actions.append(.storeShard(shard, geometry: geometry, root: root))
            actions.append(.send(to: from, .storeAck(contract: contract)))
        case let .challenge(id, shard, segment):
            if book.holdsStored(shard) {
                actions.append(.answerChallenge(to: from, id: id, shard: shard, segment: segment))
            } else {
                actions.append(.send(to: from, .challengeMissing(id: id)))
            }
        case let .fetch(request, shard):
            if book.holdsStored(shard) {
                actions.append(.serveFetch(to: from, request: request, shard: shard))
            } else {
                actions.append(.send(to: from, .fetchReply(request: request, shard: shard, ok: false, bytes: 0)))
            }
        case let .release(contract, at):
            guard let c = book.held[contract], c.terms.owner == from else {
                actions.append(.send(to: from, .releaseAck(contract: contract)))
                break
            }
            // The grace period runs from the owner's release, so both sides agree on its
            // end (a holder that was offline meanwhile has less of it left); an owner
            // cannot extend it by naming a later instant.
            if let until = book.onRelease(contract, now: now, releasedAt: min(at, now)) {
                actions.append(.note(.released(c.terms.shard, graceUntil: until)))
            }
            actions.append(.send(to: from, .releaseAck(contract: contract)))
        default:
            preconditionFailure("not a holder's message: \(message.typeByte)")
        }
    }
}
