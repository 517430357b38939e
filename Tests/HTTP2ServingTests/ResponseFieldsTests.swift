import HTTP1
@testable import HTTP2Serving
import NIOHPACK
import XCTest

/// A member's response head as the HTTP/2 field list a client gets: `:status`, the names
/// lowercased whether or not they are among the common ones, connection-specific fields left
/// out, the persistence cookie last.
final class ResponseFieldsTests: XCTestCase {
    private struct NotParsed: Error {}

    private func head(_ text: String) throws -> ResponseHead {
        var parser = HeadParser(kind: .response)
        let bytes = Array(text.utf8)
        let result = bytes.withUnsafeBytes { parser.parse($0) }
        guard case .response(let head, _) = result else {
            XCTFail("not parsed: \(result)")
            throw NotParsed()
        }
        return head
    }

    private func pairs(_ headers: HPACKHeaders) -> [String] {
        headers.map { "\($0.name)=\($0.value)" }
    }

    func testNamesAreLoweredAndConnectionFieldsLeftOut() throws {
        let response = try head(
            "HTTP/1.1 200 OK\r\nDate: d\r\nSERVER: s\r\nX-Custom-Thing: x\r\nConnection: keep-alive\r\n"
                + "Content-Length: 2\r\nWWW-Authenticate: Negotiate\r\nEtag: \"e\"\r\n\r\n")
        XCTAssertEqual(
            pairs(HTTP2Stream.hpack(response, setCookie: "esaffinity=1; Path=/")),
            [":status=200", "date=d", "server=s", "x-custom-thing=x", "content-length=2", "www-authenticate=Negotiate",
             "etag=\"e\"", "set-cookie=esaffinity=1; Path=/"])
    }

    func testStatusesInAndOutOfTheTable() throws {
        for status in [200, 204, 299, 304, 418, 503, 504] {
            let response = try head("HTTP/1.1 \(status) X\r\nContent-Length: 0\r\n\r\n")
            XCTAssertEqual(HTTP2Stream.hpack(response).first(name: ":status"), String(status))
        }
    }
}
