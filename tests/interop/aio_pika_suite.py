"""aio-pika against Warren: its RPC pattern end to end. RPC.close() cancels
the reply queue's consumer (which deletes the auto-delete queue), then
unbinds it: RabbitMQ answers that unbind ok, and so must Warren, or every
aio-pika RPC user sees a channel error on shutdown."""
import asyncio
import os
import sys

import aio_pika
from aio_pika.patterns import RPC

PORT = int(os.environ["WARREN_PORT_UNDER_TEST"])
URL = f"amqp://guest:guest@127.0.0.1:{PORT}/"


async def multiply(*, x, y):
    return x * y


async def rpc_round_trip_and_clean_close():
    server_conn = await aio_pika.connect(URL)
    client_conn = await aio_pika.connect(URL)
    server_rpc = await RPC.create(await server_conn.channel())
    await server_rpc.register("multiply", multiply, auto_delete=True)
    client_channel = await client_conn.channel()
    client_rpc = await RPC.create(client_channel)
    results = [await client_rpc.proxy.multiply(x=i, y=3) for i in range(5)]
    assert results == [0, 3, 6, 9, 12], results
    # The close that used to end in "404 NOT_FOUND - no queue ...".
    await client_rpc.close()
    assert not client_channel.is_closed, "closing the RPC closed its channel"
    # The channel still works after the RPC's cleanup.
    q = await client_channel.declare_queue("", exclusive=True)
    await client_channel.default_exchange.publish(aio_pika.Message(b"after"), routing_key=q.name)
    msg = await q.get(timeout=30)
    assert msg.body == b"after", msg.body
    await msg.ack()
    await server_rpc.close()
    await client_conn.close()
    await server_conn.close()


async def main():
    failures = []
    for case in [rpc_round_trip_and_clean_close]:
        try:
            await asyncio.wait_for(case(), timeout=60)
            print(f"ok   {case.__name__}")
        except Exception as e:  # report every case, then fail the run
            failures.append(case.__name__)
            print(f"FAIL {case.__name__}: {e!r}")
    if failures:
        print(f"{len(failures)} aio-pika case(s) failed: {failures}")
        sys.exit(1)
    print("aio-pika suite passed")


asyncio.run(main())
