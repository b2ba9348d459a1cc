// A minimal WHEP client (plain JS, no build step), shared by the pages of the web UI.
// The offer is POSTed once ICE gathering completes: the server takes no trickle ICE.

function waitGathering(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise(resolve => {
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
    setTimeout(resolve, 3000); // use what we have
  });
}

// Plays `path` into `video`. Returns { pc, session, stop() }; `onState(text)` is told the
// connection state. Throws with the server's message when WHEP answers an error.
export async function whepPlay(path, video, onState = () => {}) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = ev => { stream.addTrack(ev.track); video.srcObject = stream; };
  pc.onconnectionstatechange = () => onState(pc.connectionState);
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathering(pc);
  const res = await fetch('/whep/' + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp' },
    body: pc.localDescription.sdp,
  });
  if (res.status !== 201) {
    pc.close();
    throw new Error(`WHEP ${res.status}: ${await res.text()}`);
  }
  const player = { pc, session: res.headers.get('Location') };
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  // Ends the session (DELETE) and closes the peer connection.
  player.stop = async (keepalive = false) => {
    if (player.session) await fetch(player.session, { method: 'DELETE', keepalive }).catch(() => {});
    pc.close();
  };
  return player;
}
