#!/usr/bin/env python3
"""A TCP proxy for Outpost's MQTT tests: closes the first DROP connections at once (a broker restarting, a load
balancer without a ready backend), then forwards every later one to the broker.

usage: flaky_proxy.py BROKER_PORT DROP   (prints the port it listens on)
"""
import socket
import sys
import threading

broker_port, drops = int(sys.argv[1]), int(sys.argv[2])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print(listener.getsockname()[1], flush=True)


def pump(source, target):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    for end in (source, target):
        try:
            end.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


while True:
    client, _ = listener.accept()
    if drops > 0:
        drops -= 1
        client.close()
        continue
    upstream = socket.create_connection(("127.0.0.1", broker_port))
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
