import OutpostOperations
import Testing

@Suite("The local endpoint's request parser")
struct HTTPRequestHeadTests {
    func parse(_ text: String) -> HTTPRequestHead.Parse {
        HTTPRequestHead.parse(Array(text.utf8))
    }

    @Test("a GET with a query gives the method, the path and the query")
    func get() {
        #expect(parse("GET /metrics?series=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            == .request(HTTPRequestHead(method: "GET", path: "/metrics", query: ["series": "1"])))
    }

    @Test("bare line feeds end lines too, and empty lines before the request line are skipped")
    func lenient() {
        #expect(parse("\r\nGET /health HTTP/1.0\nAccept: */*\n\n")
            == .request(HTTPRequestHead(method: "GET", path: "/health", query: [:])))
    }

    @Test("a head without its blank line is incomplete until it is too large")
    func incomplete() {
        #expect(parse("GET /health HTTP/1.1\r\nHost: x\r\n") == .incomplete)
        let huge = "GET /health HTTP/1.1\r\n" + String(repeating: "X-A: b\r\n", count: 2000)
        #expect(parse(huge) == .invalid(status: 431, reason: "request header fields too large"))
    }

    @Test("malformed heads are answered, never accepted", arguments: [
        ("GET /a HTTP/2.0\r\n\r\n", 505),
        ("GET http://x/a HTTP/1.1\r\n\r\n", 400),
        ("GET  /a HTTP/1.1\r\n\r\n", 400),
        ("GET /a HTTP/1.1\r\n folded\r\n\r\n", 400),
        ("GET /a HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        ("GET /a HTTP/1.1\r\nX: a\u{7F}b\r\n\r\n", 400),
        ("G(T /a HTTP/1.1\r\n\r\n", 400),
    ])
    func malformed(text: String, status: Int) {
        guard case .invalid(let answered, _) = parse(text) else {
            Issue.record("accepted: \(text.debugDescription)")
            return
        }
        #expect(answered == status)
    }
}
