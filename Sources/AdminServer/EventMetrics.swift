import CoreMetrics
import Prometheus

/// Control-plane events — reloads, farm member state changes, health-check results — emitted
/// through the swift-metrics API, with swift-prometheus as the backend on the registry that
/// `/metrics` renders.
///
/// Events are rare, so a metric handle per event is cheap; the request path never comes here
/// (its figures are the workers' own lock-free counters, read at scrape time by
/// ``MetricsEndpoint``). The factory is passed explicitly rather than taken from the global
/// `MetricsSystem` so several servers in one process (the tests) keep separate figures; `serve`
/// and `demo` also bootstrap the global system with it (``ProxyServer/bootstrapMetricsSystem()``).
package final class EventMetrics: Sendable {
    package let registry = PrometheusCollectorRegistry()
    package let factory: PrometheusMetricsFactory

    package init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Checks answer in milliseconds or time out after seconds.
        factory.durationHistogramBuckets["edgesplit_health_check_duration_seconds"] =
            [.milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10)]
        self.factory = factory
    }

    package enum ReloadResult: String {
        case ok
        /// The new configuration was invalid or could not start; the old generation serves on.
        case refused
    }

    /// A reload ended; `counted: false` only sets the generation (the first one, at start).
    package func reloaded(_ result: ReloadResult, generation: Int, counted: Bool = true) {
        if counted {
            Counter(label: "edgesplit_reloads_total", dimensions: [("result", result.rawValue)], factory: factory).increment()
        }
        Gauge(label: "edgesplit_generation", factory: factory).record(generation)
    }

    /// A member's health (`up`/`down`) or drain by the admin (`farm drain`: `drained`/`undrained`) changed.
    package func memberStateChanged(farm: String, member: String, to state: String) {
        Counter(label: "edgesplit_member_state_changes_total",
                dimensions: [("farm", farm), ("member", member), ("state", state)], factory: factory).increment()
    }

    package func healthChecked(farm: String, member: String, passed: Bool, nanoseconds: Int64) {
        let labels = [("farm", farm), ("member", member)]
        Counter(label: "edgesplit_health_checks_total", dimensions: labels + [("result", passed ? "passed" : "failed")],
                factory: factory).increment()
        Timer(label: "edgesplit_health_check_duration_seconds", dimensions: labels, factory: factory)
            .recordNanoseconds(nanoseconds)
    }
}
