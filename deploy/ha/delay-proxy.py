#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""delay-proxy.py: a TCP relay that can add latency, for partition-test.sh.

    delay-proxy.py LISTEN_HOST:PORT TARGET_HOST:PORT CONTROL_FILE

Relays every connection to LISTEN to TARGET.  Each chunk read in either
direction is written out DELAY ms later, in order, where DELAY is the
integer in CONTROL_FILE (0 if it is missing or empty), re-read at most
every 100 ms.  A delay of D each way adds 2*D to a round trip.  It exists
because this machine's kernel has no netem (nor fq) qdisc, so `tc` cannot
add delay; packet loss is still real (iptables' statistic match drops
packets under the relay, and TCP retransmits them).
"""
import asyncio
import os
import sys
import time

delay_s = 0.0
delay_read = 0.0


def current_delay(path):
    global delay_s, delay_read
    now = time.monotonic()
    if now - delay_read >= 0.1:
        delay_read = now
        try:
            with open(path) as f:
                txt = f.read().strip()
            delay_s = int(txt) / 1000.0 if txt else 0.0
        except (OSError, ValueError):
            delay_s = 0.0
    return delay_s


async def pump(reader, writer, control):
    """Copy reader to writer, each chunk held until its due time."""
    queue = asyncio.Queue()

    async def sender():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    task = asyncio.ensure_future(sender())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((time.monotonic() + current_delay(control), data))
        queue.put_nowait((0, None))
        await task
    except (ConnectionError, OSError):
        pass
    finally:
        task.cancel()
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


async def main():
    lhost, lport = sys.argv[1].rsplit(":", 1)
    thost, tport = sys.argv[2].rsplit(":", 1)
    control = sys.argv[3]

    async def handle(creader, cwriter):
        try:
            treader, twriter = await asyncio.open_connection(thost, int(tport))
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pump(creader, twriter, control),
                             pump(treader, cwriter, control))

    server = await asyncio.start_server(handle, lhost, int(lport))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        sys.exit(2)
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        os._exit(0)
