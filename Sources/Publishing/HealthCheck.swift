/// An active health check of a farm's members: TMG's connectivity verifier, done properly.
///
/// Every `interval` each member gets an anonymous `GET path` (over TLS when the farm uses
/// TLS, with the same verification as traffic). A status in `expect` passes; anything else,
/// a timeout, a refused or reset connection, or a TLS failure fails. Redirects are not
/// followed: a 302 is just a status, which `expect` may or may not accept (TMG's verifier
/// marked members down on redirects, a known Lync pitfall).
///
/// `fall` consecutive failures — active, or passive ones seen by real traffic — take a
/// member down; it comes back after `rise` consecutive active passes.
public struct HealthCheck: Hashable, Sendable {
    public var path: String
    public var interval: Duration
    public var timeout: Duration
    public var rise: Int
    public var fall: Int
    /// Accepted statuses, e.g. `[200...399, 401...401]`.
    public var expect: [ClosedRange<Int>]
    /// The Host header sent; nil = the farm's `tls.server_name`, else the member's host.
    public var host: String?
    public var position: SourcePosition

    public static let defaultPath = "/"
    public static let defaultInterval = Duration.seconds(5)
    public static let defaultTimeout = Duration.seconds(2)
    public static let defaultRise = 2
    public static let defaultFall = 3
    public static let defaultExpect: [ClosedRange<Int>] = [200...399]

    public init(
        path: String = HealthCheck.defaultPath,
        interval: Duration = HealthCheck.defaultInterval,
        timeout: Duration = HealthCheck.defaultTimeout,
        rise: Int = HealthCheck.defaultRise,
        fall: Int = HealthCheck.defaultFall,
        expect: [ClosedRange<Int>] = HealthCheck.defaultExpect,
        host: String? = nil,
        position: SourcePosition
    ) {
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.rise = rise
        self.fall = fall
        self.expect = expect
        self.host = host
        self.position = position
    }

    public func accepts(status: Int) -> Bool {
        expect.contains { $0.contains(status) }
    }

    /// Parses one `expect` entry: `401` or `200-399`.
    public static func parseStatusRange(_ text: String) throws(ConfigValueError) -> ClosedRange<Int> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        func status(_ s: Substring) throws(ConfigValueError) -> Int {
            guard s.count == 3, let v = Int(s), (100...599).contains(v) else {
                throw ConfigValueError("expected a status 100...599 or a range like 200-399, got '\(text)'")
            }
            return v
        }
        switch parts.count {
        case 1:
            let v = try status(parts[0])
            return v...v
        case 2:
            let low = try status(parts[0])
            let high = try status(parts[1])
            guard low <= high else { throw ConfigValueError("the range '\(text)' is empty; write low-high") }
            return low...high
        default:
            throw ConfigValueError("expected a status 100...599 or a range like 200-399, got '\(text)'")
        }
    }
}
