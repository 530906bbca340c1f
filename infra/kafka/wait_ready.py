"""Wait until Kafka broker(s) answer metadata and the expected number of brokers is registered."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time

from aiokafka import AIOKafkaClient


async def probe(address: str, limit_s: float) -> tuple[int, int | None]:
    """Ask one broker for cluster metadata; return (number of live brokers, controller id)."""
    client = AIOKafkaClient(bootstrap_servers=address, request_timeout_ms=int(limit_s * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), limit_s)
        brokers = client.cluster.brokers()
        return len(brokers), client.cluster.controller.nodeId if client.cluster.controller else None
    finally:
        await client.close()


async def wait_ready(addresses: list[str], expected: int, limit_s: float) -> bool:
    """Poll every address until each reports >= expected brokers and a controller."""
    deadline = time.monotonic() + limit_s
    last: dict[str, str] = {}
    while True:
        pending = []
        for address in addresses:
            remaining = deadline - time.monotonic()
            try:
                count, controller = await probe(address, max(1.0, min(5.0, remaining)))
                if count >= expected and controller is not None and controller >= 0:
                    last[address] = "ready"
                    continue
                last[address] = f"{count}/{expected} brokers, controller={controller}"
            except Exception as exc:  # any failure just means "not ready yet"
                last[address] = f"{type(exc).__name__}: {exc}".strip()
            pending.append(address)
        if not pending:
            return True
        if time.monotonic() >= deadline:
            for address in pending:
                sys.stderr.write(f"[kafka] NOT READY {address}: {last[address]}\n")
            return False
        await asyncio.sleep(0.25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("bootstrap", help="HOST:PORT[,HOST:PORT...]; every address must answer")
    parser.add_argument("timeout", nargs="?", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument(
        "--brokers",
        type=int,
        default=None,
        help="brokers that must be registered (default: one per address)",
    )
    args = parser.parse_args()
    addresses = [a.strip() for a in args.bootstrap.split(",") if a.strip()]
    if not addresses:
        parser.error("no address given")
    expected = args.brokers if args.brokers is not None else len(addresses)
    logging.basicConfig(level=logging.CRITICAL)  # aiokafka logs every refused connection otherwise
    started = time.monotonic()
    ok = asyncio.run(wait_ready(addresses, expected, args.timeout))
    elapsed = time.monotonic() - started
    if ok:
        sys.stderr.write(
            f"[kafka] ready: {','.join(addresses)} ({expected} brokers) after {elapsed:.1f}s\n"
        )
        return 0
    sys.stderr.write(
        f"[kafka] ERROR: timed out after {args.timeout:.0f}s waiting for {','.join(addresses)} "
        f"({expected} brokers); check the node logs/server.log\n"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
