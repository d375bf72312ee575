import Hummingbird

// Serves /health as Outpost's endpoint does, with Hummingbird 2 on swift-nio, until killed.
let port = Int(CommandLine.arguments.dropFirst().first ?? "9464") ?? 9464
let router = Router()
router.get("health") { _, _ -> Response in
    Response(status: .ok, headers: [.contentType: "application/json"],
             body: .init(byteBuffer: ByteBuffer(string: "{\"healthy\":true,\"status\":\"StatusOK\"}\n")))
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
print("listening on \(port)")
try await app.runService()
