import Publishing
import XCTest

/// `tls.tickets.rotate` and a certificate's `ocsp` file.
final class TLSSettingsConfigTests: XCTestCase {
    private func yaml(certificate: String = "{ cert: /etc/edgesplit/web.pem, key: /etc/edgesplit/web.key }", tail: String = "") -> String {
        """
        listeners:
          - { name: https, address: 0.0.0.0, port: 443, tls: { certificates: [ \(certificate) ] } }
        farms:
          - { name: pool, members: ["10.0.0.1:4443"] }
        rules:
          - { name: all, public_names: [webext.contoso.test], farm: pool }
        \(tail)
        """
    }

    func testDefaultsRotateTicketKeysEveryTwelveHoursAndStapleNothing() throws {
        let config = try loadValid(yaml())
        XCTAssertEqual(config.tls.tickets.rotate, .seconds(12 * 3600))
        XCTAssertNil(config.listeners[0].tls?.certificates[0].ocsp)
    }

    func testRotateAndOCSPFile() throws {
        let config = try loadValid(yaml(
            certificate: "{ cert: /etc/edgesplit/web.pem, key: /etc/edgesplit/web.key, ocsp: /var/lib/edgesplit/web.ocsp.der }",
            tail: "tls: { tickets: { rotate: 30m } }"
        ))
        XCTAssertEqual(config.tls.tickets.rotate, .seconds(1800))
        XCTAssertEqual(config.listeners[0].tls?.certificates[0].ocsp, "/var/lib/edgesplit/web.ocsp.der")
    }

    func testOCSPWithAPFX() throws {
        let config = try loadValid(yaml(certificate: "{ pfx: /etc/edgesplit/web.pfx, ocsp: /var/lib/edgesplit/web.der }"))
        XCTAssertEqual(config.listeners[0].tls?.certificates[0].ocsp, "/var/lib/edgesplit/web.der")
    }

    func testRotateOutOfRange() {
        for (value, column) in [("0s", 27), ("999ms", 27), ("25h", 27)] {
            let result = load(yaml(tail: "tls: { tickets: { rotate: \(value) } }"))
            XCTAssertNil(result.config, value)
            XCTAssertEqual(result.errors.count, 1, "\(result.errors)")
            XCTAssertEqual(result.errors.first?.position, pos(7, column), value)
            XCTAssertTrue(result.errors.first?.message.contains("tls.tickets.rotate") == true, "\(result.errors)")
        }
    }

    func testUnknownKeysUnderTLS() {
        let result = load(yaml(tail: "tls: { session_tickets: { rotate: 1h } }"))
        XCTAssertNil(result.config)
        XCTAssertTrue(result.errors.first?.message.contains("session_tickets") == true, "\(result.errors)")
    }
}
