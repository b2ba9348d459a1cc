//! End-to-end tests, one binary: the real binaries as an operator runs them (`demo`), and
//! the media core against the simulated cameras (`hub`), and WHEP playback in
//! independent WebRTC stacks (`whep`).

mod demo;
mod hub;
mod whep;
