"""The relay through which the demo silences an agent: a real MQTT client through it to a
real Mosquitto; cutting it drops the connection and refuses reconnects; restoring lets
the client back in."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from netmon.demo.runner import Relay
from tests import services


async def next_message(client: aiomqtt.Client) -> None:
    async for _ in client.messages:
        return


async def test_cut_and_restore(mosquitto: services.Service) -> None:
    relay = Relay("127.0.0.1", mosquitto.port)
    await relay.start()
    try:
        async with aiomqtt.Client("127.0.0.1", relay.port, identifier="through-relay") as client:
            await client.subscribe("demo/none", qos=1)
            await client.publish("demo/relay", b"before", qos=1)
            relay.set_cut(True)
            with pytest.raises(aiomqtt.MqttError):
                await asyncio.wait_for(next_message(client), 10)  # the cut ends the stream
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", relay.port, identifier="refused", timeout=3):
                pass
        relay.set_cut(False)
        async with aiomqtt.Client("127.0.0.1", relay.port, identifier="back") as client:
            await client.publish("demo/relay", b"after", qos=1)
    finally:
        await relay.close()
