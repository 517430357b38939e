import NIOCore

/// Explicit backpressure for a handler that forwards what it reads: `read()` is passed on
/// only while the other side can take more; a withheld read is issued once it can again.
///
/// A value type, so the caller issues the read itself: `context.read()` can re-enter the
/// handler's `read(context:)`, which must not happen while the gate is being mutated.
struct ReadGate {
    private var withheld = false

    /// From the handler's `read(context:)`: whether to pass the read on now.
    mutating func admit(wanted: Bool) -> Bool {
        if !wanted { withheld = true }
        return wanted
    }

    /// When the other side may have room again: whether to issue the withheld read now.
    mutating func release(wanted: Bool) -> Bool {
        guard withheld, wanted else { return false }
        withheld = false
        return true
    }
}
