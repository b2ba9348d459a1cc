//! End-to-end tests, one binary: the real binaries as an operator runs them (`demo`),
//! inventory cameras over ONVIF against the simulator (`devices`), and
//! the media core against the simulated cameras (`hub`), and WHEP playback in
//! independent WebRTC stacks (`whep`; GStreamer's webrtcbin, H.265 included: `whep_gst`),
//! and the benchmarks' WHEP load client against the server (`load`).

mod console_map;
mod console_settings;
mod console_tiles;
mod console_walls;
mod demo;
mod devices;
mod hub;
mod load;
mod whep;
mod whep_gst;
