/// Keeps the exported Prometheus counters growing for the life of the process.
///
/// The workers count at the event, in their own counters (no lock, no shared cache line on
/// the request path), and a reload starts a new generation whose counters begin at zero. A
/// counter that went down would read to Prometheus as a process restart. So each scrape
/// adds to the registry's counter what the series grew by since the last scrape, and a
/// series that went down was reset by a reload: all of its new value is growth. The counter
/// is never reset or set.
///
/// What the old generation counts between the last scrape before a reload and its end is
/// not exported (it drains for at most `timeouts.drain`); nothing is counted twice.
/// Touched only on the metrics endpoint's event loop.
package final class CounterContinuity {
    private var last: [String: UInt64] = [:]

    package init() {}

    /// How much the series `key`, now at `value`, grew since the last scrape.
    package func growth(_ key: String, _ value: UInt64) -> UInt64 {
        let previous = last.updateValue(value, forKey: key)
        guard let previous, value >= previous else { return value }
        return value - previous
    }
}
