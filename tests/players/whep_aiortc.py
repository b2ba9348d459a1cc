"""A WHEP player on aiortc: an independent WebRTC stack (aioice ICE, OpenSSL DTLS through
pyOpenSSL, libsrtp, FFmpeg's H.264 decoder through PyAV) for Watchpost's end-to-end tests.

Usage: whep_aiortc.py WHEP_URL [--min-video N] [--seconds S] [--timeout T] [--vanish]

Offers receive-only video and audio, POSTs the complete offer (aiortc gathers before it
creates the offer; there is no trickle), applies the answer, and decodes: every frame that
`track.recv()` returns went through the decoder. Stops once at least N video frames
(default 30) and one audio frame were decoded and S seconds (default 3) have passed since
the first video frame, or at the hard timeout T (default 40 s). Ends the session with
DELETE and prints one line:

    RESULT {"video_frames": .., "audio_frames": .., "width": .., "height": .., ...}

Exit 0 when N video frames and some audio were decoded and DELETE answered 2xx; 1 with a
message on stderr otherwise.

With --vanish the player disappears instead of ending the session: once it has decoded
enough it prints the RESULT line (with "session": the session URL) and kills itself with
SIGKILL - no DELETE, no DTLS close_notify, no ICE goodbye - like a viewer whose machine
died. The server must reap the session on its own.

Every request carries `Authorization: Bearer $WATCHPOST_TOKEN` when that variable is set
(a session or a stream token for the path: Watchpost refuses WHEP without one).

Runs in the virtualenv that `cargo xtask test` makes (tests/players/requirements.txt).
ICE is pinned to loopback: the server under test listens on 127.0.0.1, and aioice's host
candidates otherwise are every address but loopback.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError


def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """aioice gathers host candidates from every interface *except* loopback (and the
    machine has another interface that it would pick); the server under test is on
    127.0.0.1, so offer exactly that."""
    return ["127.0.0.1"] if use_ipv4 else []


aioice.ice.get_host_addresses = loopback_only


def http(method: str, url: str, body: bytes | None = None, ctype: str | None = None):
    """A blocking request; returns (status, headers, body). Run it in a thread."""
    headers = {"Content-Type": ctype} if ctype else {}
    token = os.environ.get("WATCHPOST_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class Counter:
    def __init__(self) -> None:
        self.video = 0
        self.audio = 0
        self.audio_samples = 0
        self.width = None
        self.height = None
        self.first_video = None
        self.video_format = None
        self.audio_rate = None
        self.error = None


async def consume(track, counter: Counter) -> None:
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if track.kind == "video":
            counter.video += 1
            counter.width, counter.height = frame.width, frame.height
            counter.video_format = frame.format.name
            if counter.first_video is None:
                counter.first_video = time.monotonic()
        else:
            counter.audio += 1
            counter.audio_samples += frame.samples
            counter.audio_rate = frame.sample_rate


async def play(args, counter: Counter, result: dict) -> None:
    # No ICE servers at all: `None` would mean aiortc's default public STUN server.
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    tasks = []
    location = None
    try:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")

        @pc.on("track")
        def on_track(track):
            tasks.append(asyncio.ensure_future(consume(track, counter)))

        @pc.on("connectionstatechange")
        def on_state():
            result.setdefault("states", []).append(pc.connectionState)
            if pc.connectionState == "failed":
                counter.error = "peer connection failed (ICE or DTLS)"

        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        result["offer_candidates"] = [
            line for line in offer.splitlines() if line.startswith("a=candidate")
        ]
        status, headers, answer = await asyncio.to_thread(
            http, "POST", args.url, offer.encode(), "application/sdp"
        )
        if status != 201:
            raise RuntimeError(f"POST {args.url} answered {status}: {answer}")
        location = headers.get("Location")
        if not location:
            raise RuntimeError("201 without a Location header")
        location = urllib.parse.urljoin(args.url, location)
        result["answer_candidates"] = [
            line for line in answer.splitlines() if line.startswith("a=candidate")
        ]
        result["answer_codecs"] = [
            line.split(" ", 1)[1] for line in answer.splitlines() if line.startswith("a=rtpmap:")
        ]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

        while counter.error is None:
            enough = (
                counter.video >= args.min_video
                and counter.audio > 0
                and time.monotonic() - counter.first_video >= args.seconds
            )
            if enough:
                break
            await asyncio.sleep(0.1)
        if counter.error:
            raise RuntimeError(counter.error)
        if args.vanish:
            result.update(
                session=location,
                video_frames=counter.video,
                audio_frames=counter.audio,
                vanished=True,
            )
            print("RESULT " + json.dumps(result), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    finally:
        transceivers = pc.getTransceivers()
        if transceivers:
            result["dtls_state"] = transceivers[0].receiver.transport.state
        # DELETE while the connection is still up, so that it is what ends the session
        # (closing first sends a DTLS close_notify, which ends it too).
        if location:
            status, _, body = await asyncio.to_thread(http, "DELETE", location)
            result["delete_status"] = status
            if not 200 <= status < 300:
                counter.error = counter.error or f"DELETE {location} answered {status}: {body}"
        await pc.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--min-video", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=40.0)
    parser.add_argument(
        "--vanish",
        action="store_true",
        help="after decoding enough, die by SIGKILL without DELETE (reaping tests)",
    )
    args = parser.parse_args()

    counter = Counter()
    result: dict = {}
    started = time.monotonic()
    try:
        await asyncio.wait_for(play(args, counter, result), args.timeout)
    except TimeoutError:
        counter.error = counter.error or f"timed out after {args.timeout} s"
    except Exception as e:  # noqa: BLE001 - reported, and the exit code says it failed
        counter.error = counter.error or f"{type(e).__name__}: {e}"
    result.update(
        video_frames=counter.video,
        audio_frames=counter.audio,
        audio_samples=counter.audio_samples,
        width=counter.width,
        height=counter.height,
        video_format=counter.video_format,
        audio_rate=counter.audio_rate,
        elapsed_s=round(time.monotonic() - started, 2),
    )
    print("RESULT " + json.dumps(result), flush=True)
    if counter.error is None and (counter.video < args.min_video or counter.audio == 0):
        counter.error = "not enough frames decoded"
    if counter.error:
        print(f"whep_aiortc: {counter.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
