import CairnCore
import Testing

/// A coordinator with an owner and a holder that joined at `joined`, one heartbeat from
/// each in every uptime slot for `slots` slots (the holder skips `holderSkips`, and joins
/// again — a new session — at the slots in `holderRejoins`); returns it at the end, with
/// the holder heard from just then.
private func network(slots: Int, holderSkips: Set<Int> = [], holderRejoins: Set<Int> = [])
    -> (c: CoordinatorCore, owner: NodeID, holder: NodeID, joined: Instant, now: Instant)
{
    var c = CoordinatorCore(params: CoordinatorParams(n: 4, repairTrigger: 4), signer: DigestSigner(seed: [9]),
                            verifier: DigestSigner(), rng: Xoshiro256(seed: 1))
    let owner = c.admit(), holder = c.admit()
    let join = Message.join(offered: 1 << 30, speed: 1000, publicKey: [1], fresh: false)
    let joined = Instant(milliseconds: 1_000)
    var now = joined
    _ = c.onMessage(from: owner, join, now: now)
    _ = c.onMessage(from: holder, join, now: now)
    for i in 0..<slots {
        if holderRejoins.contains(i) { _ = c.onMessage(from: holder, join, now: now + .minutes(20)) }
        if !holderSkips.contains(i) { _ = c.onMessage(from: holder, .heartbeat(used: 0), now: now + .minutes(30)) }
        _ = c.onMessage(from: owner, .heartbeat(used: 0), now: now)
        now = now + c.params.uptimeSlot
        _ = c.onTimer(.uptimeSlot, now: now)
    }
    _ = c.onMessage(from: holder, .heartbeat(used: 0), now: now)
    return (c, owner, holder, joined, now)
}

/// A report of a refused fetch counts only against a holder that was up through the
/// owner's whole fetch window: heard from lately and in each of the last
/// `refusalWindowSlots` uptime slots. A holder away for part of it (the fetch was lost on
/// the way, or waited while it was down) is not struck: such strikes excluded 5 to 15% of
/// the research sweeps' honest home machines, which could then place nothing.
@Test(arguments: [false, true])
func aRefusedFetchCountsOnlyAgainstAHolderUpThroughTheFetchWindow(awayForAnHour: Bool) {
    let slots = CoordinatorCore.refusalWindowSlots + 3
    // The holder misses one slot in the middle of the window, or none.
    let (start, owner, holder, joined, now) = network(slots: slots, holderSkips: awayForAnHour ? [slots - 4] : [])
    var c = start
    // Back (heard from just now), and the owner reports the fetch it sent two slots after
    // the holder joined and did not get.
    let sent = joined + c.params.uptimeSlot * 2
    let actions = c.onMessage(from: owner, .report(holder: holder, fault: .refusedFetch, since: sent), now: now)
    let strikes = c.entry(holder)?.reputation.strikes
    if awayForAnHour {
        #expect(strikes == 0)
        #expect(!actions.contains(.note(.fault(holder: holder, .refusedFetch))))
    } else {
        #expect(strikes == 1)
        #expect(actions.contains(.note(.fault(holder: holder, .refusedFetch))))
    }
}

/// Answering every uptime slot is not being up throughout: a home machine whose sessions
/// last minutes to hours sends a heartbeat in each hour and may still be off when an
/// owner's fetch comes (the research sweeps' harsh churn excluded 37 to 197 of 300 honest
/// nodes in 180 days so). A refused fetch counts only when the holder's session — from its
/// last `join` — began before the fetch was sent, by more than the clock skew allowed: the
/// flapping holder that joined again after the fetch (or just before it) is not struck, a
/// refuser that stayed up in one session across it is, and a fetch said to be sent in the
/// future or before the holder's session counts against nobody.
@Test(arguments: ["refuser up across", "rejoined after the fetch", "rejoined 4 minutes before",
                  "rejoined 14 minutes before", "fetch in the future", "fetch before the session"])
func aRefusedFetchCountsOnlyAgainstAHolderWhoseSessionSpansIt(_ story: String) {
    let fetchSlot = 3
    // A rejoin comes 20 minutes into its slot.
    let rejoin: Set<Int> = switch story {
    case "rejoined after the fetch": [fetchSlot + 2]
    case "rejoined 4 minutes before", "rejoined 14 minutes before": [fetchSlot]
    default: []
    }
    let (start, owner, holder, joined, now) = network(slots: 14, holderRejoins: rejoin)
    var c = start
    let inSlot = joined + c.params.uptimeSlot * Int64(fetchSlot)
    let sent: Instant = switch story {
    case "rejoined 4 minutes before": inSlot + .minutes(24)
    case "rejoined 14 minutes before": inSlot + .minutes(34)
    case "fetch in the future": now + .minutes(1)
    case "fetch before the session": joined - .minutes(10)
    default: inSlot
    }
    let actions = c.onMessage(from: owner, .report(holder: holder, fault: .refusedFetch, since: sent), now: now)
    // Every story answered each of the last slots: the uptime window alone would strike.
    #expect(c.entry(holder)?.uptime.answeredLast(CoordinatorCore.refusalWindowSlots) == true)
    let struck = story == "refuser up across" || story == "rejoined 14 minutes before"
    #expect(c.entry(holder)?.reputation.strikes == (struck ? 1 : 0))
    #expect(actions.contains(.note(.fault(holder: holder, .refusedFetch))) == struck)
}
