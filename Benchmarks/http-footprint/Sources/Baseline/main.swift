// Serves nothing: what any Swift program with the static standard library costs.
print("idle")
while true { try await Task.sleep(for: .seconds(3600)) }
