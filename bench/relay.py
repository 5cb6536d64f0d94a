#!/usr/bin/env python3
"""A network link in a process, for bench/remote.sh: listens on 127.0.0.1:PORT and forwards each
connection to an engine's unix socket, as if across a link with a given rate and round trip.

This kernel has no netem qdisc, so delay cannot come from tc. Each direction is one link shared
by all connections: a chunk waits its turn to be "sent" at RATE (serialisation), then arrives
RTT/2 later. Each direction of a connection keeps at most WINDOW bytes in flight (a TCP window),
so bulk transfers over a long round trip are limited as they are on a real link. Half-closes are
passed on (docker's exec and attach streams rely on them).

Usage: relay.py PORT UNIX_SOCKET RATE_BITS_PER_S RTT_MS [WINDOW_BYTES] [HANDSHAKE]
With HANDSHAKE 1, a new connection's bytes wait one round trip first, as for TCP's handshake on
a real link (so a client that opens connections side by side pays for each).
Prints "ready" on stdout once listening; runs until killed.
"""
import asyncio
import collections
import sys
import time


class Link:
    """One direction of the link: when the next chunk may start going out."""

    def __init__(self, rate, delay):
        self.rate = rate
        self.delay = delay
        self.free_at = 0.0

    def arrival(self, n):
        now = time.monotonic()
        start = max(now, self.free_at)
        self.free_at = start + (n * 8 / self.rate if self.rate else 0.0)
        return self.free_at + self.delay


async def pump(reader, writer, link, window):
    queue = collections.deque()
    in_flight = 0
    more = asyncio.Event()
    room = asyncio.Event()
    room.set()
    done = False

    async def deliver():
        nonlocal in_flight
        while True:
            while not queue:
                if done:
                    return
                more.clear()
                await more.wait()
            at, data = queue.popleft()
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
            in_flight -= len(data)
            room.set()

    sender = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            while in_flight >= window:
                room.clear()
                await room.wait()
            in_flight += len(data)
            queue.append((link.arrival(len(data)), data))
            more.set()
    except (ConnectionError, OSError):
        pass
    done = True
    more.set()
    try:
        await sender
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def main():
    port, sock, rate, rtt = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    window = int(sys.argv[5]) if len(sys.argv) > 5 else 4 << 20
    handshake = len(sys.argv) > 6 and sys.argv[6] == "1"
    up, down = Link(rate, rtt / 2000), Link(rate, rtt / 2000)

    async def serve(c_reader, c_writer):
        if handshake:
            await asyncio.sleep(rtt / 1000)
        try:
            e_reader, e_writer = await asyncio.open_unix_connection(sock)
        except OSError:
            c_writer.close()
            return
        await asyncio.gather(
            pump(c_reader, e_writer, up, window), pump(e_reader, c_writer, down, window)
        )
        for w in (c_writer, e_writer):
            w.close()

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
