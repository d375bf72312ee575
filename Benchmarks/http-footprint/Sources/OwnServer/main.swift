// Serves /health like Outpost's endpoint until killed.
let port = Int(CommandLine.arguments.dropFirst().first ?? "9464") ?? 9464
let server = try HTTPServer(host: "127.0.0.1", port: port) { request in
    request.path == "/health"
        ? HTTPResponse(status: 200, contentType: "application/json", body: "{\"healthy\":true,\"status\":\"StatusOK\"}\n")
        : HTTPResponse(status: 404, body: "not found\n")
}
server.start()
print("listening on \(server.port)")
while true { try await Task.sleep(for: .seconds(3600)) }
