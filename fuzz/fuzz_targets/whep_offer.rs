//! What a WHEP client sends before it is authenticated by ICE/DTLS: the SDP offer
//! (`webrtc::negotiate::OfferSummary::parse`, then negotiation against an H.264+PCMA path)
//! and the STUN binding requests the mux routes by USERNAME
//! (`webrtc::mux::stun_local_ufrag`), on arbitrary bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    watchpost_media::webrtc::fuzzing::whep_input(data);
});
